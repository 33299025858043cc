"""Webhooks: POST a run's notable events to the URLs a project (or every project) registered.

JSON bodies are signed like GitHub's: `X-Signature-256: sha256=<HMAC-SHA256 of the body with the
webhook's secret>`, with `X-Delivery-ID` and `X-Event-Type`. A failed attempt (no answer, a 5xx,
408 or 429) is retried with exponential backoff; every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from typing import Any

import httpx

from ..engine import Engine
from ..models import END_EVENTS, WEBHOOK_EVENTS, Event, EventType, Run, Webhook, WebhookDelivery, now
from ..render import ENDED
from .schemas import ALL_WEBHOOK_EVENTS, RunOut
from .settings import ServerSettings

log = logging.getLogger("corral.webhooks")

RETRIED_STATUSES = frozenset({408, 429})
COLOURS: dict[str, int] = {EventType.RUN_COMPLETED: 0x2E7D32, EventType.RUN_FAILED: 0xC62828,
                           EventType.RUN_CANCELLED: 0x757575, EventType.AGENT_NEEDS_ATTENTION: 0xF9A825}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def json_body(webhook: Webhook, delivery_id: str, run: Run, event: Event) -> dict[str, Any]:
    return {"event": event.type, "delivery_id": delivery_id, "webhook_id": webhook.id, "timestamp": now(),
            "data": {"run": RunOut.of(run).model_dump(mode="json"),
                     "event": {"id": event.id, "sequence": event.seq, "event_type": event.type,
                               "payload": event.payload, "created_at": event.created_at}}}


def discord_body(run: Run, event: Event) -> dict[str, Any]:
    """A Discord message: one embed saying what happened to which run."""
    phrases: dict[str, str] = {**{e: ENDED[s] for s, e in END_EVENTS.items() if e in WEBHOOK_EVENTS},
                               EventType.AGENT_NEEDS_ATTENTION: "needs your answer"}
    what = phrases.get(event.type, event.type)
    fields = [{"name": "branch", "value": run.branch, "inline": True},
              {"name": "agent", "value": run.agent_name, "inline": True}]
    if event.type == EventType.AGENT_NEEDS_ATTENTION:
        fields.append({"name": "asks to use", "value": str(event.payload.get("tool") or "a tool"), "inline": True})
    elif event.payload.get("reason"):
        fields.append({"name": "reason", "value": str(event.payload["reason"])[:1000]})
    if run.cost_usd:
        fields.append({"name": "cost", "value": f"${run.cost_usd:.2f}", "inline": True})
    return {"username": "corral", "embeds": [{
        "title": f"Run {run.short_id} {what}", "description": run.task[:2000],
        "color": COLOURS.get(event.type, 0x1565C0), "fields": fields, "timestamp": event.created_at}]}


class WebhookSender:
    """Follows every event the engine stores and delivers each matching one to each webhook, in the background."""

    def __init__(self, engine: Engine, settings: ServerSettings, client: httpx.AsyncClient | None = None):
        self.engine = engine
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False)
        self._listening: asyncio.Task | None = None
        self._deliveries: set[asyncio.Task] = set()

    def start(self) -> None:
        self._listening = asyncio.create_task(self._listen(), name="corral-webhooks")

    async def stop(self, grace: float = 2.0) -> None:
        """Stop listening; deliveries under way get `grace` seconds to finish."""
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)
        if self._deliveries:
            _, late = await asyncio.wait(set(self._deliveries), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.client.aclose()

    async def idle(self) -> None:
        """Return once no delivery is under way."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _listen(self) -> None:
        """Every event stored from now on, whichever process wrote it (a run `corral run` drives too)."""
        async for event in self.engine.follow_all():
            if event.type in ALL_WEBHOOK_EVENTS:
                try:
                    await self._dispatch(event)
                except Exception:  # a bad webhook or a busy store must not stop the others
                    log.exception("could not send webhooks for event %s of run %s", event.type, event.run_id[:8])

    async def _dispatch(self, event: Event) -> None:
        run = await self.engine.run(event.run_id)
        for webhook in await self.engine.webhooks_for_runs_of(run.project_id):
            if event.type in webhook.events:
                task = asyncio.create_task(self.deliver(webhook, run, event))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def deliver(self, webhook: Webhook, run: Run, event: Event) -> bool:
        """Send one event to one webhook, retrying; True once it was accepted (2xx)."""
        delivery_id = str(uuid.uuid4())
        if webhook.format == "discord":
            content = discord_body(run, event)
        else:
            content = json_body(webhook, delivery_id, run, event)
        body = json.dumps(content, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "corral-webhooks",
                   "X-Delivery-ID": delivery_id, "X-Event-Type": event.type}
        if webhook.secret:
            headers["X-Signature-256"] = signature(webhook.secret, body)
        delay = self.settings.webhook_backoff
        for attempt in range(1, self.settings.webhook_attempts + 1):
            status, error = await self._post(webhook.url, body, headers)
            delivered = status is not None and 200 <= status < 300
            recorded = await self.engine.record_delivery(WebhookDelivery(
                None, delivery_id, webhook.id, event.type, run.id, attempt, status, error, delivered, now()))
            if delivered:
                return True
            if not recorded:
                log.info("webhook %s was removed: its delivery of %s stops", webhook.id, event.type)
                return False
            if status is not None and status < 500 and status not in RETRIED_STATUSES:
                log.warning("webhook %s refused %s: HTTP %s", webhook.id, event.type, status)
                return False
            if attempt < self.settings.webhook_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("webhook %s: gave up on %s after %d attempts", webhook.id, event.type, attempt)
        return False

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return None, f"{error.__class__.__name__}: {error}"[:500] or error.__class__.__name__
        return response.status_code, None if response.is_success else response.text[:500]
