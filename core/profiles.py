"""Agent profiles: which agent CLI, model, model endpoint, instructions and limits a run's agent
gets; and the model settings, each CLI's defaults for the profiles that name none.

A profile never holds an API key: it names the environment variable that does (api_key_env).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from . import agents
from .agents import Installed
from .errors import Conflict, CorralError, the_one
from .models import Agent, AuditAction, now
from .projects import Projects
from .store import Store

DEFAULT_AGENT_ID = "00000000-0000-4000-8000-000000000001"  # made by the first migration
MODEL_SETTINGS = "models"  # the settings key of each CLI's default model and endpoint
_SETTING_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SECRET_WORDS = ("key", "token", "secret", "password")


def _check_limits(**limits: float | None) -> None:
    for name, value in limits.items():
        if value is not None and value <= 0:
            label = name.replace("_", " ").replace("usd", "(USD)").replace("mb", "(MB)")
            floor = "at least 1" if name in ("max_turns", "timeout_seconds", "idle_timeout_seconds") else "more than 0"
            raise CorralError(f"{label} must be {floor}", code=f"INVALID_{name.upper()}")


def check_provider(config: dict[str, Any]) -> dict[str, str]:
    """A provider config as kept: settings of names in lower case, short string values; a key in
    clear is refused (a profile names the variable that holds it)."""
    checked: dict[str, str] = {}
    for name, value in config.items():
        if not isinstance(name, str) or not _SETTING_NAME.match(name):
            raise CorralError(f"provider setting {name!r}: names are lower case words, like base_url",
                              code="INVALID_PROVIDER")
        if any(word in name for word in _SECRET_WORDS) and name != "api_key_env":
            raise CorralError(f"provider setting {name!r} looks like a secret: corral keeps no keys; name the "
                              "environment variable that holds it with api_key_env", code="SECRET_REFUSED")
        if not isinstance(value, (str, int, float, bool)) or len(str(value)) > 2000:
            raise CorralError(f"provider setting {name!r} must be a short text", code="INVALID_PROVIDER")
        checked[name] = str(value)
    url = checked.get("base_url")
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise CorralError(f"base_url {url!r} is not an http(s) URL", code="INVALID_PROVIDER")
    env = checked.get("api_key_env")
    if env is not None and not _ENV_NAME.match(env):
        raise CorralError(f"api_key_env {env!r} is not the name of an environment variable", code="INVALID_PROVIDER")
    return checked


def _check_role(role: str) -> str:
    role = role.strip()
    if not _SETTING_NAME.match(role):
        raise CorralError(f"role {role!r}: one lower-case word, like builder or reviewer", code="INVALID_ROLE")
    return role


@dataclass(eq=False, repr=False)
class Profiles:
    """Agent profiles: global ones, and a project's own (which win over a global one of its name)."""

    store: Store
    projects: Projects

    async def add_agent(self, name: str, *, cli: str = "claude-code", project: str | None = None,
                        model: str | None = None, instructions: str | None = None,
                        allowed_tools: list[str] | None = None, max_turns: int | None = None,
                        command: str | None = None, permission_mode: str = "acceptEdits",
                        max_budget_usd: float | None = None, timeout_seconds: int | None = None,
                        max_output_mb: float | None = None, idle_timeout_seconds: int | None = None,
                        provider_config: dict[str, Any] | None = None, role: str = "builder") -> Agent:
        name = name.strip()
        if not name:
            raise CorralError("an agent needs a name", code="INVALID_NAME")
        agents.adapter(cli)  # refuse a CLI corral cannot drive
        _check_limits(max_turns=max_turns, max_budget_usd=max_budget_usd, timeout_seconds=timeout_seconds,
                      max_output_mb=max_output_mb, idle_timeout_seconds=idle_timeout_seconds)
        project_id = (await self.projects.project(project)).id if project else None
        if any(a.name == name and a.project_id == project_id for a in await self.store.list_agents()):
            raise Conflict(f"an agent named {name!r} already exists", code="AGENT_EXISTS")
        agent = Agent(id=str(uuid.uuid4()), name=name, cli=cli, project_id=project_id, model=model,
                      instructions=instructions, allowed_tools=list(allowed_tools or []),
                      max_turns=max_turns, command=command, permission_mode=permission_mode,
                      created_at=now(), max_budget_usd=max_budget_usd, timeout_seconds=timeout_seconds,
                      max_output_mb=max_output_mb, idle_timeout_seconds=idle_timeout_seconds,
                      provider_config=check_provider(provider_config or {}), role=_check_role(role))
        await self.store.create_agent(agent)
        await self.store.audit.record(project_id, AuditAction.AGENT_ADDED, name, {"cli": cli})
        return agent

    async def update_agent(self, key: str, **changes: Any) -> Agent:
        """Change some fields of a profile: name, cli, model, instructions, allowed_tools, command,
        permission_mode, its limits, provider_config (replaced whole), role."""
        agent = await self.agent(key)
        editable = {"name", "cli", "model", "instructions", "allowed_tools", "command", "permission_mode",
                    "provider_config", "role", *Agent.LIMITS}
        unknown = set(changes) - editable
        if unknown:
            raise CorralError(f"cannot change {', '.join(sorted(unknown))} of an agent", code="INVALID_FIELD")
        if "cli" in changes:
            agents.adapter(changes["cli"])
        _check_limits(**{k: v for k, v in changes.items() if k in Agent.LIMITS})
        if "provider_config" in changes:
            changes["provider_config"] = check_provider(changes["provider_config"] or {})
        if "role" in changes:
            changes["role"] = _check_role(changes["role"] or "")
        if "name" in changes:
            changes["name"] = (changes["name"] or "").strip()
            if not changes["name"]:
                raise CorralError("an agent needs a name", code="INVALID_NAME")
            if any(a.name == changes["name"] and a.project_id == agent.project_id and a.id != agent.id
                   for a in await self.store.list_agents()):
                raise Conflict(f"an agent named {changes['name']!r} already exists", code="AGENT_EXISTS")
        for name, value in changes.items():
            setattr(agent, name, list(value) if name == "allowed_tools" else value)
        await self.store.update_agent(agent)
        await self.store.audit.record(agent.project_id, AuditAction.AGENT_UPDATED, agent.name, {
            k: v for k, v in changes.items() if k != "provider_config"})  # a profile's endpoint may hold secrets
        return agent

    async def delete_agent(self, key: str) -> None:
        agent = await self.agent(key)
        if agent.id == DEFAULT_AGENT_ID:
            raise Conflict("the default agent 'claude' cannot be deleted; change it instead",
                           code="DEFAULT_AGENT")
        await self.store.delete_agent(agent.id)
        await self.store.audit.record(agent.project_id, AuditAction.AGENT_DELETED, agent.name)

    async def agents(self) -> list[Agent]:
        return await self.store.list_agents()

    async def agent(self, key: str, project_id: str | None = None) -> Agent:
        found = await self.store.find_agents(key, project_id)
        return the_one(found[:1], "agent", key)

    async def clis(self) -> list[Installed]:
        """Every agent CLI corral can drive: installed here or not, its version, how to install it."""
        kinds = sorted(agents.known().items())
        return list(await asyncio.gather(*(asyncio.to_thread(kind().installed) for _, kind in kinds)))

    # -- the model settings: each CLI's defaults -----------------------------------------------

    async def model_settings(self) -> dict[str, dict[str, Any]]:
        """Each agent CLI's default model and provider config, for profiles that set none."""
        text = await self.store.setting(MODEL_SETTINGS)
        return json.loads(text) if text else {}

    async def set_model_settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Replace the defaults: {cli: {"model": ..., "provider_config": {...}}}; every CLI known."""
        kept: dict[str, dict[str, Any]] = {}
        for cli, defaults in settings.items():
            agents.adapter(cli)
            if not isinstance(defaults, dict) or set(defaults) - {"model", "provider_config"}:
                raise CorralError(f"the settings of {cli!r} are a model and a provider_config",
                                  code="INVALID_SETTINGS")
            model = defaults.get("model")
            if model is not None and (not isinstance(model, str) or not model.strip() or len(model) > 200):
                raise CorralError(f"the model of {cli!r} must be a name", code="INVALID_SETTINGS")
            kept[cli] = {"model": model, "provider_config": check_provider(defaults.get("provider_config") or {})}
        await self.store.set_setting(MODEL_SETTINGS, json.dumps(kept) if kept else None)
        await self.store.audit.record(None, AuditAction.SETTINGS_UPDATED, "model settings",
                                      {cli: {"model": d["model"]} for cli, d in kept.items()})
        return kept

    async def for_run(self, key: str, project_id: str | None = None) -> Agent:
        """The profile as a run uses it: its CLI's defaults where it sets no model or endpoint."""
        agent = await self.agent(key, project_id)
        defaults = (await self.model_settings()).get(agent.cli, {})
        return replace(agent, model=agent.model or defaults.get("model"),
                       provider_config={**defaults.get("provider_config", {}), **agent.provider_config})
