"""Projects, their repos and settings, agent profiles, the CLIs' model settings, webhooks and
notifications of a remote host, through its HTTP API: RemoteEngine lends these calls out as the
local Engine lends its services' (same names, same signatures, same records back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .agents.base import Installed, Supports
from .checks import fix_tries, project_checks
from .errors import CorralError
from .models import Agent, Project, ProjectSetting, Repo, Webhook, WebhookDelivery
from .projects import check_max_runs
from .remote_board import Call
from .remote_records import agent_of, delivery_of, project_of, repo_of, webhook_of

NOTIFICATIONS = "notifications"  # the id the notifications' webhook is shown with


class RemoteProjects:
    """The remote host's projects and the repos they hold: paths are paths on that host."""

    def __init__(self, call: Call):
        self._call = call

    async def projects(self) -> list[Project]:
        return [project_of(p) for p in await self._call("GET", "/projects")]

    async def project(self, key: str) -> Project:
        return project_of(await self._call("GET", f"/projects/{key}"))

    async def create_project(self, name: str) -> Project:
        return project_of(await self._call("POST", "/projects", json={"name": name, "repos": []}))

    async def add_project(self, path: str | Path, name: str | None = None) -> Project:
        """A project of the repository at `path` on the remote host."""
        return project_of(await self._call("POST", "/projects", json={
            "name": name or Path(path).name, "repos": [{"repo_path": str(path)}]}))

    async def project_for_path(self, path: str | Path) -> Project | None:
        """Refused: a folder here is no folder of the remote host's."""
        raise CorralError("a folder of this machine names no project of a remote host: pass --project "
                          "(`corral --remote HOST project list` lists them)", code="NO_PROJECT")

    async def add_repo(self, project_key: str, path: str | Path, name: str | None = None) -> Repo:
        return repo_of(await self._call("POST", f"/projects/{project_key}/repos",
                                        json={"repo_path": str(path), "name": name}))

    async def remove_repo(self, project_key: str, repo_key: str) -> None:
        project = await self.project(project_key)
        found = [r.id for r in project.repos if repo_key in (r.id, r.name, r.path)]
        await self._call("DELETE", f"/projects/{project.id}/repos/{found[0] if len(found) == 1 else repo_key}")

    async def update_project(self, project_key: str, **changes: Any) -> Project:
        unknown = set(changes) - set(ProjectSetting)
        if unknown:
            raise CorralError(f"unknown project settings: {', '.join(sorted(unknown))}", code="UNKNOWN_SETTING")
        if ProjectSetting.MAX_RUNS in changes:
            check_max_runs(changes[ProjectSetting.MAX_RUNS])  # refused in the engine's words, as at home
        if ProjectSetting.CHECKS in changes:
            changes[ProjectSetting.CHECKS] = [c.__dict__ for c in project_checks(changes[ProjectSetting.CHECKS] or [])]
        if ProjectSetting.FIX_TRIES in changes:
            fix_tries(changes[ProjectSetting.FIX_TRIES])
        project = await self.project(project_key)
        settings = await self._call("GET", f"/projects/{project.id}/settings")
        await self._call("PUT", f"/projects/{project.id}/settings", json={**settings, **changes})
        return await self.project(project.id)

    async def delete_project(self, key: str, force: bool = False) -> None:
        await self._call("DELETE", f"/projects/{key}", params={"force": force})

    # -- webhooks and notifications ----------------------------------------------------------------

    async def add_webhook(self, project_key: str, url: str, events: list[str], format: str = "json",
                          secret: str | None = None) -> Webhook:
        return webhook_of(await self._call("POST", f"/projects/{project_key}/webhooks", json={
            "url": url, "events": events, "format": format, "secret": secret}))

    async def webhooks(self, project_key: str) -> list[Webhook]:
        return [webhook_of(w) for w in await self._call("GET", f"/projects/{project_key}/webhooks")]

    async def webhook(self, webhook_id: str) -> Webhook:
        return webhook_of(await self._call("GET", f"/webhooks/{webhook_id}"))

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._call("DELETE", f"/webhooks/{webhook_id}")

    async def webhook_deliveries(self, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]:
        return [delivery_of(d) for d in await self._call("GET", f"/webhooks/{webhook_id}/deliveries",
                                                         params={"limit": limit})]

    async def notifications(self) -> Webhook | None:
        got = await self._call("GET", "/settings/notifications")
        if not got["discord_webhook_url"]:
            return None
        return Webhook(id=NOTIFICATIONS, project_id=None, url=got["discord_webhook_url"], secret="",
                       events=got["events"], format="discord", created_at="")

    async def set_notifications(self, discord_url: str | None, events: list[str]) -> None:
        await self._call("PUT", "/settings/notifications", json={"discord_webhook_url": discord_url, "events": events})


class RemoteProfiles:
    """The remote host's agent profiles and its CLIs (installed there, or not)."""

    def __init__(self, call: Call):
        self._call = call

    async def agents(self) -> list[Agent]:
        return [agent_of(a) for a in await self._call("GET", "/agents")]

    async def agent(self, key: str, project_id: str | None = None) -> Agent:
        if project_id is None:
            return agent_of(await self._call("GET", f"/agents/{key}"))
        usable = await self._call("GET", f"/projects/{project_id}/agents")
        found = [a for a in usable if a["id"] == key] or [a for a in usable if a["name"] == key]
        return agent_of(found[0]) if len(found) == 1 else agent_of(await self._call("GET", f"/agents/{key}"))

    async def add_agent(self, name: str, *, cli: str = "claude-code", project: str | None = None,
                        model: str | None = None, instructions: str | None = None,
                        allowed_tools: list[str] | None = None, max_turns: int | None = None,
                        command: str | None = None, permission_mode: str = "acceptEdits",
                        max_budget_usd: float | None = None, timeout_seconds: int | None = None,
                        max_output_mb: float | None = None, idle_timeout_seconds: int | None = None,
                        provider_config: dict[str, Any] | None = None, role: str = "builder") -> Agent:
        fields = {"name": name, "cli": cli, "project_id": project, "model": model, "instructions": instructions,
                  "allowed_tools": allowed_tools or [], "max_turns": max_turns, "command": command,
                  "permission_mode": permission_mode, "max_budget_usd": max_budget_usd,
                  "timeout_seconds": timeout_seconds, "max_output_mb": max_output_mb,
                  "idle_timeout_seconds": idle_timeout_seconds, "provider_config": provider_config or {}, "role": role}
        return agent_of(await self._call("POST", "/agents", json=fields))

    async def update_agent(self, key: str, **changes: Any) -> Agent:
        return agent_of(await self._call("PATCH", f"/agents/{key}", json=changes))

    async def delete_agent(self, key: str) -> None:
        await self._call("DELETE", f"/agents/{key}")

    async def clis(self) -> list[Installed]:
        return [Installed(**{**c, "supports": Supports(**c["supports"])}) for c in await self._call("GET", "/clis")]

    async def model_settings(self) -> dict[str, dict[str, Any]]:
        return dict((await self._call("GET", "/settings/models"))["clis"])

    async def set_model_settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return dict((await self._call("PUT", "/settings/models", json={"clis": settings}))["clis"])
