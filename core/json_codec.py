"""JSON at the rate agents print it. Agent lines and stored event payloads go through msgspec,
which reads them close to twice and writes them about four times as fast as the standard
library, and keeps integers of any size exact (orjson, as fast, turns those past 64 bits into
floats). What msgspec refuses (NaN, lone surrogates, a byte order mark) falls back to the
standard library, so a line that parsed before still parses, to the same values.

Stored text differs from the standard library's only in form: characters outside ASCII are kept
as they are rather than escaped, and a NaN an agent printed is kept as null. Readers decode old
and new rows alike. bench/pipeline.py's docstring has the measurements behind the choice.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def decode(data: bytes | str) -> Any:
    """The value a JSON text holds; ValueError when it holds none, as json.loads says."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


def encode(value: Any) -> str:
    """Compact JSON text of `value` (no spaces after separators)."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError):  # a lone surrogate, or a type msgspec does not know
        return json.dumps(value, separators=(",", ":"))


def _fields_or_text(value: Any) -> Any:
    """What `indented` writes for a value JSON has no form of: a record's fields, anything else as text."""
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return str(value)
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    held = getattr(value, "__dict__", None)
    if held is not None and tuple(held) == names:  # its fields in their order, and nothing else
        return held
    return {name: getattr(value, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def indented(value: Any) -> str:
    """JSON text of `value` indented by two spaces, exactly as `json.dumps(value, indent=2, default=str)`
    writes it, records (dataclasses) written as their fields (as their `to_dict` gives them).

    The standard library writes indented JSON in Python, several times slower than compact JSON,
    which it writes in C; so the compact text is written, and msgspec sets its spacing, changing
    nothing else (bench/big_home.py: `corral runs --json` of 2,000 runs). A NaN or an infinity
    (`NaN`, `Infinity` are no JSON to msgspec) takes the slow way, to the same text."""
    compact = json.dumps(value, default=_fields_or_text)
    try:
        return msgspec.json.format(compact, indent=2)
    except msgspec.DecodeError:
        return json.dumps(value, indent=2, default=_fields_or_text)


def encode_many(values: list[Any]) -> list[str]:
    """`encode` of each value, made in one call while msgspec can write them all: JSON text holds
    no newline of its own (one in a string is escaped), so the lines it writes are the texts."""
    try:
        texts = _encoder.encode_lines(values).decode().split("\n")
    except (TypeError, ValueError):
        return [encode(value) for value in values]
    texts.pop()  # what follows the last newline: nothing
    return texts
