"""JSON at the rate agents print it. Agent lines and stored event payloads go through orjson,
which reads and writes them several times faster than the standard library; what orjson refuses
(numbers past 64 bits, NaN, lone surrogates, a byte order mark, keys that are not strings) falls
back to the standard library, so a line that parsed before still parses, and to the same values.

Stored text differs from the standard library's only in form: characters outside ASCII are kept
as they are rather than escaped, and readers decode both the same. The choice was measured on
100,000 lines shaped as Claude Code's transcript (bench/pipeline.py's docstring has the figures).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def decode(data: bytes | str) -> Any:
    """The value a JSON text holds; ValueError when it holds none, as json.loads says."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def encode(value: Any) -> str:
    """Compact JSON text of `value` (no spaces after separators)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson's encode error is a TypeError too
        return json.dumps(value, separators=(",", ":"))
