"""The API's JSON read back into the engine's own records: what RemoteEngine hands a verb is what
the local engine would, field for field (the API's names, e.g. `source_branch`, mapped back)."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from .errors import Conflict, CorralError, NotFound
from .models import Agent, Approval, Check, Event, Plan, Project, Repo, Run, Task, Webhook, WebhookDelivery, Worktree


def fields_of(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    """The items of `data` that are fields of the dataclass `kind` (the API may say more)."""
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in data.items() if k in names}


def error_of(response: httpx.Response) -> CorralError:
    """The error the remote's API answered, as the engine there raised it."""
    try:
        body = response.json()["error"]
        message, code, details = str(body["message"]), str(body["code"]), body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        message, code, details = f"the remote answered {response.status_code}", "REMOTE_ERROR", {}
    kind = {404: NotFound, 409: Conflict}.get(response.status_code, CorralError)
    return kind(message, code=code, details=details)


def run_of(data: dict[str, Any]) -> Run:
    worktrees = [Worktree(**fields_of(Worktree, w)) for w in data.get("worktrees") or []]
    fields = {k: v for k, v in fields_of(Run, data).items() if k != "worktrees"}
    return Run(**fields, base_ref=data["source_branch"], worktrees=worktrees)


def event_of(data: dict[str, Any]) -> Event:
    return Event(run_id=data["run_id"], seq=data["sequence"], type=data["event_type"], payload=data["payload"],
                 created_at=data["created_at"], id=data.get("id"))


def repo_of(data: dict[str, Any]) -> Repo:
    return Repo(id=data["id"], project_id=data["project_id"], name=data["name"], path=data["repo_path"],
                created_at=data["created_at"])


def project_of(data: dict[str, Any], settings: dict[str, Any] | None = None) -> Project:
    """A project; its settings (GET /projects/{id}/settings) complete what the project's JSON leaves out."""
    fields = {**{k: v for k, v in fields_of(Project, data).items() if k != "repos"}, **(settings or {})}
    fields["checks"] = [Check(**check) for check in fields.get("checks") or []]
    return Project(**fields, repos=[repo_of(r) for r in data.get("repos") or []])


def approval_of(data: dict[str, Any]) -> Approval:
    return Approval(**fields_of(Approval, data))


def agent_of(data: dict[str, Any]) -> Agent:
    return Agent(**fields_of(Agent, data))


def task_of(data: dict[str, Any], ids: dict[str, str]) -> Task:
    """A task; `ids` (key -> id of the project's tasks) turns the keys it depends on back into ids."""
    fields = fields_of(Task, {**data, "type": data["task_type"], "acceptance": data["acceptance_criteria"]})
    fields["depends_on"] = [ids.get(key, key) for key in data["depends_on"]]
    return Task(**fields)


def plan_of(data: dict[str, Any]) -> Plan:
    return Plan(**fields_of(Plan, data))


def webhook_of(data: dict[str, Any]) -> Webhook:
    return Webhook(**{"secret": "", **fields_of(Webhook, data)})  # the secret is shown once, when it is made


def delivery_of(data: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(**fields_of(WebhookDelivery, data))
