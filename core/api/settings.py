"""How the API server behaves: where it listens, who may call it, how much they may send."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_of(value: str) -> str:
    """`scheme://host[:port]` in lower case; ValueError for anything else."""
    parts = urlsplit(value.strip().rstrip("/").lower())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise ValueError(f"{value!r} is not a web origin: give scheme://host[:port], e.g. https://dash.example")
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 3000
    allowed_hosts: list[str] = field(default_factory=list)  # more names it answers to, e.g. behind a proxy
    allowed_origins: list[str] = field(default_factory=list)  # web pages that may change things (with CORS)
    cors_origins: list[str] = field(default_factory=list)  # the same, older name; neither: no CORS headers
    max_body_bytes: int = 1_048_576
    rate_limit: int = 600  # requests per window, per token (or per address without one)
    rate_window: float = 60.0
    keepalive_seconds: float = 15.0  # comment lines on idle event streams
    webhook_attempts: int = 5
    webhook_backoff: float = 2.0  # seconds before the first retry; doubles each time
    webhook_timeout: float = 10.0
    socket: str | None = None  # serve on this unix socket (this user's only) instead of host:port

    def __post_init__(self) -> None:
        for name in ("allowed_hosts", "allowed_origins", "cors_origins"):
            value = getattr(self, name)
            if isinstance(value, str):  # `allowed_hosts = "a.example"` in config.toml means one
                setattr(self, name, [value])
        self.allowed_origins = [origin_of(o) for o in self.allowed_origins]
        self.cors_origins = [origin_of(o) for o in self.cors_origins]  # "*" would let every page in

    @property
    def tokens_required(self) -> bool:
        """Beyond loopback, every request needs a bearer token (a unix socket is this user's only)."""
        return not self.socket and not is_loopback(self.host)

    @classmethod
    def load(cls, config_file: Path, **overrides: object) -> ServerSettings:
        """The `[server]` table of corral's config.toml, then the overrides (from the command line)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        if config_file.is_file():
            import tomllib  # loads only to serve, not for every verb whose options name the defaults

            with open(config_file, "rb") as f:
                table = tomllib.load(f).get("server", {})
            unknown = set(table) - known
            if unknown:
                raise ValueError(f"{config_file}: unknown [server] settings: {', '.join(sorted(unknown))}")
            values.update(table)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
