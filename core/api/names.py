"""The names the server answers to, and the web pages that may change things through it.

A page in the user's browser can reach a loopback server too: by DNS rebinding (its own name,
made to resolve to 127.0.0.1, arrives as a foreign `Host`) or by sending requests across sites
(a foreign `Origin`). Scripts and curl send no `Origin`, and pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .settings import ServerSettings, is_loopback, origin_of

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
EVERY_ADDRESS = ("0.0.0.0", "::", "[::]")  # such a server listens on loopback too
ANY = "*"


def name_and_port(value: str) -> tuple[str, int | None]:
    """`name[:port]` as found in a Host header or a setting; an IPv6 address keeps its brackets."""
    value = value.strip().lower()
    port: str | None = None
    if value.startswith("["):  # [v6] or [v6]:port
        name, _, rest = value.partition("]")
        name, port = name + "]", rest[1:] if rest.startswith(":") else None
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:  # a name, or a bare IPv6 address (which has no port)
        name = f"[{value}]" if ":" in value else value
    if port is None:
        return name, None
    return name, int(port) if port.isdigit() else -1  # -1: a port no rule matches


@dataclass(frozen=True)
class ServerNames:
    hosts: frozenset[tuple[str, int | None]]  # (name, port); no port: any port
    origins: frozenset[str]  # web origins allowed besides the server's own

    @classmethod
    def of(cls, settings: ServerSettings) -> ServerNames:
        own = [settings.host]
        if is_loopback(settings.host) or settings.host in EVERY_ADDRESS:
            own += LOOPBACK_NAMES
        hosts = {(name_and_port(n)[0], settings.port) for n in own}
        hosts |= {name_and_port(h) for h in settings.allowed_hosts}
        origins = {*settings.allowed_origins, *(origin_of(o) for o in settings.cors_origins)}
        return cls(frozenset(hosts), frozenset(origins))

    def answers_to(self, host: str) -> bool:
        """Whether a `Host` header names this server, with or without its port."""
        name, port = name_and_port(host)
        return (ANY, None) in self.hosts or any(
            name == known and (port is None or known_port in (None, port)) for known, known_port in self.hosts)

    def trusts(self, origin: str) -> bool:
        """Whether a page of `origin` may change things: one of the server's own names, or allowed."""
        try:
            if origin_of(origin) in self.origins:
                return True
            return self.answers_to(urlsplit(origin.strip().lower()).netloc)
        except ValueError:  # "null" (a sandboxed frame, a file) and other non-origins
            return False
