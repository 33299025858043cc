"""Who does what: every action that changes something is recorded with the user who did it.

That is the user of this process (the local account), or, for a request to the HTTP API, the user
its token belongs to: the API sets it for the request (`acting_as`), and what the request does
records it (`acting()`), down to the events it writes (Store.append adds `by` to the events of
USER_ACTIONS)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ACTING: ContextVar[str | None] = ContextVar("acting", default=None)


def local_user() -> str:
    """The account this corral runs as: who did what a local command or the dashboard did."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def acting() -> str:
    """Who does what is being done now."""
    return _ACTING.get() or local_user()


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    """What is done inside is done by `user` (None: the local account)."""
    token = _ACTING.set(user)
    try:
        yield
    finally:
        _ACTING.reset(token)
