"""Where the HTTP API's records are kept: its tokens (hashed), webhooks and every attempt to deliver one."""

from __future__ import annotations

import json
import sqlite3

from ..models import ApiToken, Webhook, WebhookDelivery
from .database import Database

_TOKEN_COLUMNS = "id, name, salt, hash, read_only, created_at, last_used_at, revoked_at, user_name AS user, role"
_WEBHOOK_COLUMNS = "id, project_id, url, secret, events, format, created_at"
_DELIVERY_COLUMNS = ("id, delivery_id, webhook_id, event_type, run_id, attempt, status_code, error, "
                     "delivered, created_at")


def _token(row: sqlite3.Row) -> ApiToken:
    data = dict(row)
    data["read_only"] = bool(data["read_only"])
    return ApiToken(**data)


def _webhook(row: sqlite3.Row) -> Webhook:
    data = dict(row)
    data["events"] = json.loads(data["events"])
    return Webhook(**data)


def _delivery(row: sqlite3.Row) -> WebhookDelivery:
    data = dict(row)
    data["delivered"] = bool(data["delivered"])
    return WebhookDelivery(**data)


class ApiTables:
    """The API's tables (Store.api), written through the store's Database."""

    def __init__(self, db: Database):
        self.db = db

    # -- tokens --------------------------------------------------------------------------

    async def add_api_token(self, token: ApiToken) -> None:
        await self.db.execute(
            "INSERT INTO api_tokens (id, name, salt, hash, read_only, created_at, last_used_at, revoked_at, "
            "user_name, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (token.id, token.name, token.salt, token.hash, int(token.read_only), token.created_at,
             token.last_used_at, token.revoked_at, token.user, token.role))

    async def api_tokens(self) -> list[ApiToken]:
        return [_token(r) for r in await self.db.fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at")]

    async def api_token(self, token_id: str) -> ApiToken | None:
        rows = await self.db.fetch(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,))
        return _token(rows[0]) if rows else None

    async def revoke_api_token(self, token_id: str, when: str) -> bool:
        return bool(await self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (when, token_id)))

    async def api_token_used(self, token_id: str, when: str) -> None:
        await self.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (when, token_id))

    # -- webhooks ------------------------------------------------------------------------

    async def save_webhook(self, webhook: Webhook) -> None:
        await self.db.execute(
            f"INSERT OR REPLACE INTO webhooks ({_WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (webhook.id, webhook.project_id, webhook.url, webhook.secret, json.dumps(webhook.events),
             webhook.format, webhook.created_at))

    async def webhook(self, webhook_id: str) -> Webhook | None:
        rows = await self.db.fetch(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,))
        return _webhook(rows[0]) if rows else None

    async def webhooks(self, project_id: str) -> list[Webhook]:
        """The project's own webhooks."""
        return [_webhook(r) for r in await self.db.fetch(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE project_id = ? ORDER BY created_at",
            (project_id,))]

    async def webhooks_for_run_of(self, project_id: str) -> list[Webhook]:
        """Every webhook an event of the project's runs goes to: its own and those of all projects."""
        return [_webhook(r) for r in await self.db.fetch(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE project_id = ? OR project_id IS NULL "
            "ORDER BY created_at", (project_id,))]

    async def delete_webhook(self, webhook_id: str) -> bool:
        return bool(await self.db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)))

    async def add_webhook_delivery(self, delivery: WebhookDelivery) -> bool:
        """Record a delivery attempt; False when its webhook is gone (removed while it was sent)."""
        return await self.db.execute(
            "INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_type, run_id, attempt, "
            "status_code, error, delivered, created_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?)",
            (delivery.delivery_id, delivery.webhook_id, delivery.event_type, delivery.run_id,
             delivery.attempt, delivery.status_code, delivery.error, int(delivery.delivered),
             delivery.created_at, delivery.webhook_id)) == 1

    async def webhook_deliveries(self, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]:
        """The webhook's latest delivery attempts, oldest first."""
        rows = await self.db.fetch(
            f"SELECT * FROM (SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id", (webhook_id, limit))
        return [_delivery(r) for r in rows]
