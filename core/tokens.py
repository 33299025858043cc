"""API tokens: shown once when made, kept only as a salted sha256, checked in constant time.
(hashlib, hmac and secrets load when a token is made or checked, not with the engine.)"""

from __future__ import annotations

from .errors import CorralError, NotFound
from .models import TOKEN_ROLES, ApiToken, now
from .store import Store

PREFIX = "corral_"
ID_LENGTH = 12


def new_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _digest(salt: str, secret: str) -> str:
    import hashlib

    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


async def create_token(store: Store, name: str = "token", read_only: bool = False, *, user: str | None = None,
                       role: str | None = None) -> tuple[ApiToken, str]:
    """A new token and the only copy of its text: `corral_<id>_<secret>`. It is `user`'s (default:
    its name), with `role` (admin by default; viewer when `read_only`)."""
    name = name.strip()
    if not name:
        raise CorralError("a token needs a name", code="INVALID_NAME")
    role = role or ("viewer" if read_only else "admin")
    if role not in TOKEN_ROLES:
        raise CorralError(f"a token's role is one of {', '.join(TOKEN_ROLES)}, not {role!r}", code="INVALID_ROLE")
    user = (user or name).strip()
    import secrets

    token_id = secrets.token_hex(ID_LENGTH // 2)
    secret = new_secret()
    salt = secrets.token_hex(16)
    token = ApiToken(id=token_id, name=name, salt=salt, hash=_digest(salt, secret), read_only=role == "viewer",
                     created_at=now(), user=user, role=role)
    await store.api.add_api_token(token)
    return token, f"{PREFIX}{token_id}_{secret}"


async def check_token(store: Store, text: str) -> ApiToken | None:
    """The live token `text` is, or None."""
    if not text.startswith(PREFIX) or len(text) < len(PREFIX) + ID_LENGTH + 2:
        return None
    token_id, sep, secret = text[len(PREFIX):].partition("_")
    if len(token_id) != ID_LENGTH or not sep or not secret:
        return None
    token = await store.api.api_token(token_id)
    if token is None or token.revoked_at is not None:
        return None
    import hmac

    return token if hmac.compare_digest(_digest(token.salt, secret), token.hash) else None


async def find_token(store: Store, key: str) -> ApiToken:
    """A token by its id or its name."""
    found = [t for t in await store.api.api_tokens() if key in (t.id, t.name)]
    if not found:
        raise NotFound(f"no token {key!r}", code="TOKEN_NOT_FOUND")
    if len(found) > 1:
        raise CorralError(f"several tokens are named {key!r}: give its id", code="AMBIGUOUS_ID")
    return found[0]


async def revoke_token(store: Store, key: str) -> ApiToken:
    token = await find_token(store, key)
    if not await store.api.revoke_api_token(token.id, now()):
        raise CorralError(f"token {token.name!r} ({token.id}) is already revoked", code="ALREADY_REVOKED")
    return token
