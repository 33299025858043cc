"""The ACP agents corral knows, one row each: how to start the CLI for a profile, point it at the
profile's model endpoint and key, and keep its settings and sessions in corral's private folder
for the run (never the user's own). The protocol they all speak is in `acp.py`."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import Agent
from .base import provider_env


@dataclass(frozen=True)
class AcpCli:
    """What one ACP agent's CLI needs: its arguments for a profile, its environment (endpoint, key,
    config home) in corral's folder `home` for the run, and the settings files corral writes there."""

    args: Callable[[Agent], list[str]]
    env: Callable[[Agent, Path | None], dict[str, str]]
    files: Callable[[Agent], dict[str, Any]]  # path relative to the home -> its JSON
    fs: bool = False  # offer it corral's fs/* methods (Gemini takes a missing file for a failure)
    noise: tuple[str, ...] = ()  # message chunks starting so are the CLI's own notes, not the model's words
    before_resume: Callable[[Path, str], None] | None = None  # readies the home to load a session in
    replay_end: str | None = None  # the update that follows a loaded session's replayed history
    avoid_options: tuple[str, ...] = ()  # permission options corral never picks (they write into the repo)
    failures: tuple[str, ...] = ()  # message chunks starting so are the CLI telling that the turn failed


def _json_copy(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value))


# -- Gemini CLI -------------------------------------------------------------------------------

# corral's permission modes (Claude Code's names) in Gemini CLI's words.
GEMINI_MODES = {"default": "default", "acceptEdits": "auto_edit", "bypassPermissions": "yolo", "plan": "plan"}

# A Gemini CLI kept to itself: no update checks, no usage statistics, no telemetry.
GEMINI_SETTINGS: dict[str, Any] = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
}


def _gemini_args(agent: Agent) -> list[str]:
    args = ["--acp", "--skip-trust",  # the run's worktree is trusted: its approval mode applies
            "--approval-mode", GEMINI_MODES.get(agent.permission_mode, "default")]
    if agent.model:
        args += ["-m", agent.model]
    if agent.allowed_tools:
        args += ["--allowed-tools", ",".join(agent.allowed_tools)]
    return args


def _gemini_env(agent: Agent, home: Path | None) -> dict[str, str]:
    # GOOGLE_GEMINI_BASE_URL makes it take the endpoint for a gateway, with GEMINI_API_KEY as its key.
    env = provider_env(agent, "GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY")
    if home:
        env["GEMINI_CLI_HOME"] = str(home)
    return env


def _gemini_files(agent: Agent) -> dict[str, Any]:
    settings = _json_copy(GEMINI_SETTINGS)
    if agent.max_turns:
        settings["model"] = {"maxSessionTurns": agent.max_turns}
    return {".gemini/settings.json": settings}


def _gemini_keep_session(home: Path, session_id: str) -> None:
    """Gemini CLI (0.61) names a session's file after the minute it began and its id, and a
    `session/load` first starts a new recording under the same id: begun in the same minute, it
    appends to the old file and hides its conversation, so the session cannot be found. The old
    file under another name (the CLI lists every `session-*.jsonl`) is found and goes on."""
    short = session_id[:8]
    for chats in (home / ".gemini" / "tmp").glob("*/chats"):
        for file in chats.glob(f"session-*-{short}.jsonl"):
            if not re.fullmatch(rf"session-\d{{4}}-\d\d-\d\dT\d\d-\d\d-{re.escape(short)}\.jsonl", file.name):
                continue
            target = next(t for n in itertools.count(1)
                          if not (t := file.with_name(f"{file.name[:-len('.jsonl')]}-{n}.jsonl")).exists())
            file.rename(target)


# -- Qwen Code --------------------------------------------------------------------------------

# Qwen Code starts in "auto", where a model classifier answers permission requests: corral's
# permission mode picks the mode instead, and the user answers.
QWEN_MODES = {"default": "default", "acceptEdits": "auto-edit", "bypassPermissions": "yolo", "plan": "plan"}

# No update checks, statistics or telemetry; no background memory extraction or follow-up
# suggestions, which are further model requests the user did not ask for.
QWEN_SETTINGS: dict[str, Any] = {
    "general": {"enableAutoUpdate": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "memory": {"enableManagedAutoMemory": False},
    "ui": {"enableFollowupSuggestions": False},
}


def _qwen_args(agent: Agent) -> list[str]:
    args = ["--acp", "--approval-mode", QWEN_MODES.get(agent.permission_mode, "default"),
            # its home is new: say which of its providers the endpoint and key are for
            "--auth-type", agent.provider_config.get("auth_type") or "openai"]
    if agent.model:
        args += ["-m", agent.model]
    if agent.allowed_tools:
        args += ["--allowed-tools", *agent.allowed_tools]
    return args


def _qwen_env(agent: Agent, home: Path | None) -> dict[str, str]:
    # An OpenAI-compatible Chat Completions endpoint; QWEN_HOME is its whole ~/.qwen.
    env = provider_env(agent, "OPENAI_BASE_URL", "OPENAI_API_KEY")
    if home:
        env["QWEN_HOME"] = str(home)
    return env


def _qwen_files(agent: Agent) -> dict[str, Any]:
    settings = _json_copy(QWEN_SETTINGS)
    if agent.max_turns:
        settings["model"] = {"maxSessionTurns": agent.max_turns}
    return {"settings.json": settings}


# -- OpenCode ---------------------------------------------------------------------------------

OPENCODE_PROVIDER = "corral"  # the provider corral's config adds for a profile's base_url
OPENCODE_KEY_ENV = "CORRAL_OPENCODE_API_KEY"  # the config names the key's variable: it is never written

# corral's permission modes as OpenCode's permission rules (edits, shell commands, the web).
OPENCODE_PERMISSIONS = {
    "default": {"edit": "ask", "bash": "ask", "webfetch": "ask"},
    "acceptEdits": {"edit": "allow", "bash": "ask", "webfetch": "ask"},
    "bypassPermissions": {"edit": "allow", "bash": "allow", "webfetch": "allow"},
    "plan": {"edit": "deny", "bash": "deny", "webfetch": "ask"},
}


def _opencode_args(agent: Agent) -> list[str]:
    return ["acp"]


def _opencode_env(agent: Agent, home: Path | None) -> dict[str, str]:
    env = {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
           "OPENCODE_DISABLE_SHARE": "1"}
    env.update(provider_env(agent, "CORRAL_OPENCODE_BASE_URL", OPENCODE_KEY_ENV))  # the config reads them
    if home:  # its config, sessions (a database), state and caches, all under the run's folder
        for variable, folder in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                                 ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
            env[variable] = str(home / folder)
    return env


def _opencode_files(agent: Agent) -> dict[str, Any]:
    config: dict[str, Any] = {"$schema": "https://opencode.ai/config.json", "autoupdate": False,
                              "share": "disabled",
                              "permission": OPENCODE_PERMISSIONS.get(agent.permission_mode,
                                                                     OPENCODE_PERMISSIONS["default"])}
    base_url = agent.provider_config.get("base_url")
    if base_url:
        options: dict[str, Any] = {"baseURL": base_url}
        if agent.provider_config.get("api_key_env"):
            options["apiKey"] = f"{{env:{OPENCODE_KEY_ENV}}}"  # OpenCode's substitution: no key in the file
        model = agent.model or "default"
        config["provider"] = {OPENCODE_PROVIDER: {"npm": "@ai-sdk/openai-compatible", "name": "corral",
                                                  "options": options, "models": {model: {"name": model}}}}
        config["model"] = f"{OPENCODE_PROVIDER}/{model}"
    elif agent.model:
        config["model"] = agent.model  # provider/model, as OpenCode names them
    return {"config/opencode/opencode.json": config}


# -- GitHub Copilot CLI -----------------------------------------------------------------------


# corral's permission modes as Copilot's flags: it asks for every tool unless allowed.
COPILOT_MODES = {"default": [], "acceptEdits": ["--allow-tool", "write"], "bypassPermissions": ["--allow-all-tools"],
                 "plan": ["--deny-tool", "write", "shell"]}
COPILOT_WIRE_APIS = {"chat": "completions", "completions": "completions", "responses": "responses"}


def _copilot_args(agent: Agent) -> list[str]:
    args = ["--acp", "--no-auto-update", "--disable-client-telemetry",
            *COPILOT_MODES.get(agent.permission_mode, [])]
    if agent.model:
        args += ["--model", agent.model]
    if agent.allowed_tools:
        args += ["--allow-tool", *agent.allowed_tools]
    return args


def _copilot_env(agent: Agent, home: Path | None) -> dict[str, str]:
    # A profile's base_url is Copilot's "bring your own key" provider, which needs no GitHub login;
    # without one, Copilot needs the user's GitHub login (`copilot login`, or COPILOT_GITHUB_TOKEN).
    env = provider_env(agent, "COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_API_KEY")
    if "COPILOT_PROVIDER_BASE_URL" in env:
        env["COPILOT_OFFLINE"] = "true"
        wire = COPILOT_WIRE_APIS.get(str(agent.provider_config.get("wire_api") or "chat"))
        if wire:
            env["COPILOT_PROVIDER_WIRE_API"] = wire
    if home:
        env["COPILOT_HOME"] = str(home)
    return env


def _no_files(agent: Agent) -> dict[str, Any]:
    return {}


CLIS: dict[str, AcpCli] = {
    "gemini": AcpCli(args=_gemini_args, env=_gemini_env, files=_gemini_files, noise=("[MODE_UPDATE]",),
                     before_resume=_gemini_keep_session,
                     # sent once the replay is written (a timer after the answer to `session/load`)
                     replay_end="available_commands_update"),
    # Qwen replays a loaded session before it answers `session/load`. "Always allow in project"
    # would write the rule into the worktree's .qwen/settings.json: "for user" keeps it in QWEN_HOME.
    "qwen": AcpCli(args=_qwen_args, env=_qwen_env, files=_qwen_files, avoid_options=("proceed_always_project",)),
    # OpenCode asks the client to write an edit it was allowed to make even when told there is no
    # file system (and writes it itself too): corral serves it inside the run's worktree only.
    "opencode": AcpCli(args=_opencode_args, env=_opencode_env, files=_opencode_files),
    # Copilot tells its own notes and failures (a refused key) as message chunks, and ends the turn.
    "copilot": AcpCli(args=_copilot_args, env=_copilot_env, files=_no_files, noise=("Info: ",),
                      failures=("Error: ",)),
}
