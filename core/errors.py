"""Errors a user can read: each carries a one-line message and a stable code."""


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
