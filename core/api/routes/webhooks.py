"""Webhooks of a project, their delivery attempts, and the notification settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ..dependencies import EngineDep
from ..schemas import (
    DeliveryOut,
    NotificationSettings,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)

router = APIRouter(tags=["webhooks"])


@router.post("/projects/{project_id}/webhooks", status_code=201, response_model=WebhookCreated,
             summary="Add a webhook to a project")
async def create_webhook(project_id: str, body: WebhookIn, engine: EngineDep) -> WebhookCreated:
    """Events of the project's runs are POSTed to `url`; the secret (shown once) signs each body."""
    webhook = await engine.add_webhook(project_id, str(body.url), body.events, body.format, body.secret)
    return WebhookCreated(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


@router.get("/projects/{project_id}/webhooks", response_model=list[WebhookOut],
            summary="A project's webhooks")
async def list_webhooks(project_id: str, engine: EngineDep) -> list[WebhookOut]:
    return [WebhookOut.of(w) for w in await engine.webhooks(project_id)]


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, summary="Get a webhook")
async def get_webhook(webhook_id: str, engine: EngineDep) -> WebhookOut:
    return WebhookOut.of(await engine.webhook(webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, engine: EngineDep) -> Response:
    await engine.delete_webhook(webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut],
            summary="A webhook's latest delivery attempts")
async def list_deliveries(webhook_id: str, engine: EngineDep,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryOut]:
    """Oldest first; the attempts at one delivery share its `delivery_id` (sent as X-Delivery-ID)."""
    return [DeliveryOut.of(d) for d in await engine.webhook_deliveries(webhook_id, limit)]


# -- notification settings ---------------------------------------------------------------------

@router.get("/settings/notifications", response_model=NotificationSettings, tags=["settings"],
            summary="Where run notifications go")
async def get_notifications(engine: EngineDep) -> NotificationSettings:
    webhook = await engine.notifications()
    if webhook is None:
        return NotificationSettings()
    return NotificationSettings(discord_webhook_url=webhook.url, events=webhook.events)


@router.put("/settings/notifications", response_model=NotificationSettings, tags=["settings"],
            summary="Change where run notifications go")
async def set_notifications(body: NotificationSettings, engine: EngineDep) -> NotificationSettings:
    """Events of every project's runs are posted to the Discord webhook URL; null turns them off.
    Its deliveries are at /api/webhooks/notifications/deliveries."""
    url = None if body.discord_webhook_url is None else str(body.discord_webhook_url)
    await engine.set_notifications(url, body.events)
    return body
