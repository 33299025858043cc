"""`corral token ...`: the bearer tokens `corral --serve` asks for when it listens beyond loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from ..config import Paths
from ..engine import Engine
from ..errors import CorralError
from ..models import TOKEN_ROLES, ApiToken
from .root import json_option, print_json

T = TypeVar("T")


def _with_engine(work: Callable[[Engine], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Engine.for_records(Paths.from_env()) as engine:
            return await work(engine)

    try:
        return asyncio.run(main())
    except CorralError as error:
        raise click.ClickException(str(error)) from None


def _listed(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "user": token.user, "role": token.role, "read_only": token.read_only,
            "created_at": token.created_at, "last_used_at": token.last_used_at, "revoked_at": token.revoked_at}


@click.group("token")
def token() -> None:
    """API tokens for `corral --serve`: required when it listens beyond this machine."""


ROLES_SAID = {"admin": "full access", "operator": "runs, answers and landing; no settings",
              "viewer": "read-only"}


@token.command("create")
@click.option("--name", default="token", show_default=True, help="What the token is for.")
@click.option("--user", help="Whose it is: what corral records as having done what it does (default: its name).")
@click.option("--role", type=click.Choice(TOKEN_ROLES), help="admin (default): everything; operator: start, answer, "
              "land runs, but no tokens, webhooks, profiles or settings; viewer: read and follow only.")
@click.option("--read-only", is_flag=True, help="The viewer role: may read and follow runs, not change anything.")
@json_option()
def create(name: str, user: str | None, role: str | None, read_only: bool, as_json: bool) -> None:
    """Make a token and print it; it is shown this once and only its hash is kept."""
    if read_only and role not in (None, "viewer"):
        raise click.UsageError("--read-only is the viewer role: give one of them")
    made, text = _with_engine(lambda engine: engine.create_token(name, read_only, user=user, role=role))
    if as_json:
        print_json({**_listed(made), "token": text})
        return
    click.echo(text)
    click.echo(f"token {made.name} ({made.id}) of {made.user}, {made.role}: {ROLES_SAID[made.role]}; copy it "
               "now, it is not shown again; send it as `Authorization: Bearer <token>`", err=True)


@token.command("list")
@json_option()
def list_tokens(as_json: bool) -> None:
    """List tokens (never their secret)."""
    found = _with_engine(lambda engine: engine.tokens())
    if as_json:
        print_json([_listed(t) for t in found])
        return
    if not found:
        click.echo("no tokens yet: make one with `corral token create --name NAME`")
    for t in found:
        state = f"revoked {t.revoked_at}" if t.revoked_at else f"last used {t.last_used_at or 'never'}"
        click.echo(f"{t.id}  {t.name:<16} {t.user:<12} {t.role:<8}  {state}")


@token.command("revoke")
@click.argument("key", metavar="TOKEN")
def revoke(key: str) -> None:
    """Revoke a token by its id or name: requests with it get 401 from then on."""
    revoked = _with_engine(lambda engine: engine.revoke_token(key))
    click.echo(f"revoked token {revoked.name} ({revoked.id})")


COMMANDS = [token]
