"""The names the server answers to, and the web pages that may change things through it.

A page in the user's browser can reach a loopback server too: by DNS rebinding (its own name,
made to resolve to 127.0.0.1, arrives as a foreign `Host`) or by sending requests across sites
(a foreign `Origin`). Scripts and curl send no `Origin`, and pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import ServerSettings, is_loopback, origin_of

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
EVERY_ADDRESS = ("0.0.0.0", "::", "[::]")  # such a server listens on loopback too
ANY = "*"


DEFAULT_PORTS = {"http": 80, "https": 443}


def name_and_port(value: str) -> tuple[str, int | None]:
    """`name[:port]` as found in a Host header or a setting; an IPv6 address keeps its brackets.
    A port that is not a number comes back as -1, which no rule matches."""
    value = value.strip().lower()
    port: str | None = None
    if value.startswith("["):  # [v6] or [v6]:port
        name, _, rest = value.partition("]")
        name = name + "]"
        if rest:
            port = rest[1:] if rest.startswith(":") else "-"
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:  # a name, or a bare IPv6 address (which has no port)
        name = f"[{value}]" if ":" in value else value
    if port is None:
        return name, None
    return name, int(port) if port.isdigit() else -1


def full_origin(value: str) -> str:
    """An origin with its port spelled out (http://localhost is http://localhost:80), so that two
    spellings of one origin compare equal; ValueError for what is not a web origin."""
    scheme, _, netloc = origin_of(value).partition("://")
    name, port = name_and_port(netloc)
    if port == -1:
        raise ValueError(f"{value!r} is not a web origin")
    return f"{scheme}://{name}:{DEFAULT_PORTS[scheme] if port is None else port}"


@dataclass(frozen=True)
class ServerNames:
    own: frozenset[str]  # the server's own names, at any port: a tunnel or a port mapping moves the port
    hosts: frozenset[tuple[str, int | None]]  # more names allowed, (name, port); no port: any port
    origins: frozenset[str]  # full origins whose pages may change things

    @classmethod
    def of(cls, settings: ServerSettings) -> ServerNames:
        own = [settings.host]
        if is_loopback(settings.host) or settings.host in EVERY_ADDRESS:
            own += LOOPBACK_NAMES
        names = frozenset(name_and_port(n)[0] for n in own)
        # The server's own pages (/docs) come from its own names at its own port; a rebinding page
        # comes from the attacker's name, so the Host check stops it, whatever the port.
        origins = {f"{scheme}://{name}:{settings.port}" for name in names for scheme in DEFAULT_PORTS}
        origins |= {full_origin(o) for o in (*settings.allowed_origins, *settings.cors_origins)}
        return cls(names, frozenset(name_and_port(h) for h in settings.allowed_hosts), frozenset(origins))

    def answers_to(self, host: str) -> bool:
        """Whether a `Host` header names this server: one of its own names, or one allowed."""
        name, port = name_and_port(host)
        if port == -1:
            return False
        return name in self.own or (ANY, None) in self.hosts or any(
            name == known and known_port in (None, port) for known, known_port in self.hosts)

    def trusts(self, origin: str) -> bool:
        """Whether a page of `origin` may change things: exactly one of the server's own origins, or
        one allowed. An allowed host name never makes its pages trusted."""
        try:
            return full_origin(origin) in self.origins
        except ValueError:  # "null" (a sandboxed frame, a file) and other non-origins
            return False
