"""Webhooks: signed JSON to a receiver on 127.0.0.1, retried with backoff, every attempt recorded;
Discord messages for the notification settings."""


from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import BASH, WRITE, corral_json, error_of, start_run, until_event, wait_until
from model_server import error, text, tool

SECRET = "a-secret-of-our-own-1234"


class Receiver:
    """An HTTP server that records what it is sent and answers each path with scripted statuses
    (the last one repeats)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: dict[str, list[int]] = {}
        self.held: dict[str, threading.Event] = {}  # paths whose answer waits until the event is set
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if (gate := receiver.held.get(self.path)) is not None:
                    gate.wait(60)
                script = receiver.statuses.get(self.path, [204])
                status = script.pop(0) if len(script) > 1 else script[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    yield receiving
    receiving.server.shutdown()
    receiving.server.server_close()


async def _hook(client, project: dict, **body) -> dict:
    response = await client.post(f"/api/projects/{project['id']}/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_webhook_is_signed_and_retried_until_delivered(app, client, engine, model, project, receiver):
    model.set_script([tool("Write", WRITE), text("Done.")])
    receiver.statuses["/hook"] = [500, 503, 200]
    hook = await _hook(client, project, url=f"{receiver.url}/hook", events=["run.completed"], secret=SECRET)
    assert hook["secret"] == SECRET and hook["format"] == "json"
    run = await start_run(client, project)
    await engine.wait(run["id"])
    await wait_until(lambda: len(receiver.to("/hook")) == 3, what="three attempts")
    await app.state.webhooks.idle()

    sent = receiver.to("/hook")
    assert len({s["headers"]["X-Delivery-ID"] for s in sent}) == 1
    for attempt in sent:
        expected = "sha256=" + hmac.new(SECRET.encode(), attempt["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(attempt["headers"]["X-Signature-256"], expected)
        assert attempt["headers"]["X-Event-Type"] == "run.completed"
    body = json.loads(sent[0]["body"])
    assert body["event"] == "run.completed" and body["webhook_id"] == hook["id"]
    assert body["delivery_id"] == sent[0]["headers"]["X-Delivery-ID"]
    assert body["data"]["run"]["id"] == run["id"] and body["data"]["run"]["status"] == "completed"
    assert body["data"]["event"]["event_type"] == "run.completed"

    attempts = (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
    assert [(a["attempt"], a["status_code"], a["delivered"]) for a in attempts] == \
        [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert {a["delivery_id"] for a in attempts} == {sent[0]["headers"]["X-Delivery-ID"]}
    assert all(a["run_id"] == run["id"] and a["event_type"] == "run.completed" for a in attempts)


async def test_a_run_that_another_process_drives_is_posted_too(app, client, model, project, receiver):
    model.set_script([text("Done.")])
    await _hook(client, project, url=f"{receiver.url}/hook", events=["run.completed"], secret=SECRET)
    started = corral_json("run", "--project", project["id"], "look around")  # driven by a process of its own
    await wait_until(lambda: receiver.to("/hook"), 120, "the webhook")
    assert json.loads(receiver.to("/hook")[0]["body"])["data"]["run"]["id"] == started["id"]


async def test_a_webhook_gives_up_after_its_attempts_and_at_once_on_a_refusal(app, client, engine, model, project,
                                                                               receiver):
    model.set_script([tool("Bash", BASH), text("Done.")])
    receiver.statuses = {"/down": [500], "/gone": [404]}
    down = await _hook(client, project, url=f"{receiver.url}/down", events=["agent.needs_attention"])
    gone = await _hook(client, project, url=f"{receiver.url}/gone", events=["agent.needs_attention"])
    run = await start_run(client, project)
    await until_event(engine, run["id"], "agent.needs_attention")
    await wait_until(lambda: len(receiver.to("/down")) == 3 and receiver.to("/gone"), what="the attempts")
    await app.state.webhooks.idle()

    assert [a["status_code"] for a in (await client.get(f"/api/webhooks/{down['id']}/deliveries")).json()] == \
        [500, 500, 500]  # settings.webhook_attempts
    assert [a["attempt"] for a in (await client.get(f"/api/webhooks/{gone['id']}/deliveries")).json()] == [1]
    body = json.loads(receiver.to("/gone")[0]["body"])
    assert body["event"] == "agent.needs_attention" and body["data"]["event"]["payload"]["tool"] == "Bash"
    await client.post(f"/api/runs/{run['id']}/cancel")


async def test_notification_settings_post_a_failed_run_to_discord(app, client, engine, model, project, receiver):
    assert (await client.get("/api/settings/notifications")).json() == {
        "discord_webhook_url": None, "events": ["run.completed", "run.failed", "run.cancelled",
                                                "agent.needs_attention"]}
    chosen = {"discord_webhook_url": f"{receiver.url}/discord", "events": ["run.failed"]}
    assert (await client.put("/api/settings/notifications", json=chosen)).json() == chosen
    assert (await client.get("/api/settings/notifications")).json() == chosen

    model.set_script([error(400, "invalid_request_error", "refused by the scripted model")])
    run = await start_run(client, project, "fix the login page")
    await engine.wait(run["id"])
    await wait_until(lambda: receiver.to("/discord"), what="the Discord message")
    await app.state.webhooks.idle()
    [posted] = receiver.to("/discord")
    [embed] = json.loads(posted["body"])["embeds"]
    assert embed["title"] == f"Run {run['id'][:8]} failed" and embed["description"] == "fix the login page"
    assert "refused by the scripted model" in {f["name"]: f["value"] for f in embed["fields"]}["reason"]
    assert "X-Signature-256" not in posted["headers"]
    assert [a["delivered"] for a in (await client.get("/api/webhooks/notifications/deliveries")).json()] == [True]

    off = await client.put("/api/settings/notifications", json={"discord_webhook_url": None})
    assert off.json()["discord_webhook_url"] is None
    assert (await client.get("/api/settings/notifications")).json()["discord_webhook_url"] is None


async def test_a_webhook_removed_while_its_delivery_is_retried_is_posted_no_more(app, client, engine, model,
                                                                                   project, receiver):
    model.set_script([text("Done.")])
    run = await start_run(client, project)
    await engine.wait(run["id"])  # before the webhook: its completion is posted by the call below alone
    hook = await _hook(client, project, url=f"{receiver.url}/down", events=["run.completed"])
    receiver.statuses["/down"] = [500]
    gate = receiver.held["/down"] = threading.Event()
    webhook = next(w for w in await engine.webhooks_for_runs_of(project["id"]) if w.id == hook["id"])
    completed = [e for e in await engine.events(run["id"]) if e.type == "run.completed"][-1]
    delivering = asyncio.create_task(app.state.webhooks.deliver(webhook, await engine.run(run["id"]), completed))
    await wait_until(lambda: receiver.to("/down"), what="the first attempt")
    assert (await client.delete(f"/api/webhooks/{hook['id']}")).status_code == 204  # while it is being sent
    gate.set()

    assert await delivering is False  # given up, not failed
    assert len(receiver.to("/down")) == 1  # no retry to a removed webhook
    error_of(await client.get(f"/api/webhooks/{hook['id']}/deliveries"), 404, "WEBHOOK_NOT_FOUND")


async def test_webhooks_are_listed_read_and_deleted_without_their_secret(client, project, receiver):
    hook = await _hook(client, project, url=f"{receiver.url}/x")
    assert len(hook["secret"]) >= 32 and hook["events"] == ["run.completed", "run.failed", "run.cancelled",
                                                              "agent.needs_attention"]
    listed = (await client.get(f"/api/projects/{project['id']}/webhooks")).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert "secret" not in (await client.get(f"/api/webhooks/{hook['id']}")).json()
    assert (await client.delete(f"/api/webhooks/{hook['id']}")).status_code == 204
    error_of(await client.get(f"/api/webhooks/{hook['id']}"), 404, "WEBHOOK_NOT_FOUND")
    error_of(await client.delete(f"/api/webhooks/{hook['id']}"), 404, "WEBHOOK_NOT_FOUND")
    error_of(await client.get(f"/api/webhooks/{hook['id']}/deliveries"), 404, "WEBHOOK_NOT_FOUND")


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.invalid/hook"},
    {"url": "not a url"},
    {"url": "http://127.0.0.1/hook", "events": []},
    {"url": "http://127.0.0.1/hook", "events": ["run.exploded"]},
    {"url": "http://127.0.0.1/hook", "secret": "short"},
    {"url": "http://127.0.0.1/hook", "format": "slack"},
])
async def test_bad_webhooks_are_validation_errors(client, project, body):
    error_of(await client.post(f"/api/projects/{project['id']}/webhooks", json=body), 422, "VALIDATION_ERROR")
    assert (await client.get(f"/api/projects/{project['id']}/webhooks")).json() == []


async def test_webhook_routes_of_an_unknown_project_or_bad_settings_are_refused(client):
    error_of(await client.post("/api/projects/nope/webhooks", json={"url": "http://127.0.0.1/x"}), 404,
             "PROJECT_NOT_FOUND")
    error_of(await client.get("/api/projects/nope/webhooks"), 404, "PROJECT_NOT_FOUND")
    error_of(await client.put("/api/settings/notifications", json={"discord_webhook_url": "nope"}), 422,
             "VALIDATION_ERROR")
    error_of(await client.get("/api/webhooks/x/deliveries", params={"limit": 0}), 422, "VALIDATION_ERROR")
