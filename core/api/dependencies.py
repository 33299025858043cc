"""What routes are handed: the engine the server shares, and the token of the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ..engine import Engine
from ..store.api_tables import ApiToken
from .security import TOKEN_SCOPE_KEY


def _engine(connection: HTTPConnection) -> Engine:
    return connection.app.state.engine


def caller_token(connection: HTTPConnection) -> ApiToken | None:
    return connection.scope.get(TOKEN_SCOPE_KEY)


EngineDep = Annotated[Engine, Depends(_engine)]
