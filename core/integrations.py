"""What lets other programs in and what corral tells them: API tokens for the clients of
`corral --serve`, and webhooks that post events of runs out (to a URL of the user's, or Discord).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit
from dataclasses import dataclass

from . import tokens as api_tokens
from .errors import NotFound
from .models import NOTIFICATIONS_ID, ApiToken, AuditAction, Webhook, WebhookDelivery, now
from .projects import Projects
from .store import Store


@dataclass(eq=False, repr=False)
class Integrations:
    store: Store
    projects: Projects

    async def create_token(self, name: str = "token", read_only: bool = False, *, user: str | None = None,
                           role: str | None = None) -> tuple[ApiToken, str]:
        """A new API token (its user's, with a role) and the only copy of its text."""
        token, text = await api_tokens.create_token(self.store, name, read_only, user=user, role=role)
        await self.store.audit.record(None, AuditAction.TOKEN_CREATED, token.name,
                                      {"user": token.user, "role": token.role})
        return token, text

    async def tokens(self) -> list[ApiToken]:
        return await self.store.api.api_tokens()

    async def revoke_token(self, key: str) -> ApiToken:
        token = await api_tokens.revoke_token(self.store, key)
        await self.store.audit.record(None, AuditAction.TOKEN_REVOKED, token.name, {"user": token.user})
        return token

    async def check_token(self, text: str) -> ApiToken | None:
        """The live token `text` is, or None."""
        return await api_tokens.check_token(self.store, text)

    async def touch_token(self, token_id: str) -> None:
        """Record that the token was just used."""
        await self.store.api.api_token_used(token_id, now())

    async def add_webhook(self, project_key: str, url: str, events: list[str], format: str = "json",
                          secret: str | None = None) -> Webhook:
        project = await self.projects.project(project_key)
        webhook = Webhook(id=str(uuid.uuid4()), project_id=project.id, url=url,
                          secret=secret or api_tokens.new_secret(), events=list(dict.fromkeys(events)), format=format,
                          created_at=now())
        await self.store.api.save_webhook(webhook)
        await self.store.audit.record(project.id, AuditAction.WEBHOOK_ADDED, f"webhook {webhook.id[:8]}",
                                      {"host": urlsplit(url).netloc, "events": webhook.events})
        return webhook

    async def webhooks(self, project_key: str) -> list[Webhook]:
        """The project's own webhooks."""
        project = await self.projects.project(project_key)
        return await self.store.api.webhooks(project.id)

    async def webhooks_for_runs_of(self, project_id: str) -> list[Webhook]:
        """Every webhook an event of the project's runs goes to: its own and those of all projects."""
        return await self.store.api.webhooks_for_run_of(project_id)

    async def webhook(self, webhook_id: str) -> Webhook:
        webhook = await self.store.api.webhook(webhook_id)
        if webhook is None:
            raise NotFound(f"no webhook {webhook_id!r}", code="WEBHOOK_NOT_FOUND")
        return webhook

    async def delete_webhook(self, webhook_id: str) -> None:
        webhook = await self.webhook(webhook_id)
        await self.store.api.delete_webhook(webhook_id)
        await self.store.audit.record(webhook.project_id, AuditAction.WEBHOOK_DELETED, f"webhook {webhook.id[:8]}",
                                      {"host": urlsplit(webhook.url).netloc})

    async def webhook_deliveries(self, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]:
        """The webhook's latest delivery attempts, oldest first."""
        await self.webhook(webhook_id)
        return await self.store.api.webhook_deliveries(webhook_id, limit)

    async def record_delivery(self, delivery: WebhookDelivery) -> bool:
        """Record a webhook's delivery attempt; False when the webhook was removed meanwhile."""
        return await self.store.api.add_webhook_delivery(delivery)

    async def notifications(self) -> Webhook | None:
        """The webhook run notifications of every project go to, if any."""
        return await self.store.api.webhook(NOTIFICATIONS_ID)

    async def set_notifications(self, discord_url: str | None, events: list[str]) -> None:
        """Post events of every project's runs to a Discord webhook; None stops them."""
        if discord_url is None:
            await self.store.api.delete_webhook(NOTIFICATIONS_ID)
        else:
            await self.store.api.save_webhook(Webhook(
                id=NOTIFICATIONS_ID, project_id=None, url=discord_url, secret="", events=list(dict.fromkeys(events)),
                format="discord", created_at=now()))
        await self.store.audit.record(None, AuditAction.SETTINGS_UPDATED, "notifications", {
            "discord": urlsplit(discord_url).netloc if discord_url else None, "events": events if discord_url else []})
