"""Errors a user can read: each carries a one-line message and a stable code."""

from typing import TypeVar

T = TypeVar("T")


class CorralError(Exception):
    """Something the user asked for cannot be done; the message says why in one line."""

    code = "BAD_REQUEST"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        if code:
            self.code = code
        self.details = details or {}

    @property
    def message(self) -> str:
        return str(self)


class NotFound(CorralError):
    code = "NOT_FOUND"
    status = 404


class Conflict(CorralError):
    code = "CONFLICT"
    status = 409


class StoreBusy(CorralError):
    code = "STORE_BUSY"
    status = 503


class GitError(CorralError):
    """A git problem with a one-line message meant for the user."""

    code = "GIT_ERROR"


class NotARepository(GitError):
    """The path is in no git repository. Its code stays GIT_ERROR for the API; the type tells it apart."""


class MergeConflict(GitError):
    """Changes on both sides of a merge touch the same files; nothing was written."""

    code = "MERGE_CONFLICT"
    status = 409

    def __init__(self, message: str, files: dict[str, str]):
        super().__init__(message)
        self.files = sorted(files)
        self.reasons = files  # path -> "content" | "binary" | "deleted/modified" | ...
        self.details = {"files": self.files, "reasons": files}


def the_one(found: list[T], what: str, key: str) -> T:
    """The one `what` a user's `key` names: not found, or ambiguous, is an error saying so."""
    if not found:
        raise NotFound(f"no {what} {key!r}", code=f"{what.upper()}_NOT_FOUND")
    if len(found) > 1:
        raise CorralError(f"{what} {key!r} is ambiguous: give more of its id", code="AMBIGUOUS_ID")
    return found[0]
