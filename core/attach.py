"""Attach: the user opens a run's agent session interactively in its worktree, and what happens
there is reported back into the run's events by the agent's own hooks (`corral hook`), set in a
settings file outside the worktree so nothing is written into the user's repo.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
from dataclasses import dataclass
from typing import Any

from . import agents
from .config import Paths
from .errors import Conflict
from .models import EventType, Run, RunStatus
from .process import started_at
from .profiles import Profiles
from .runs import Runs
from .store import Store

HOOKED = ("SessionStart", "UserPromptSubmit", "PostToolUse", "Stop")
OUTPUT_LIMIT = 20_000


@dataclass(frozen=True)
class Attachment:
    """How to open the run's session in a terminal: run `argv` in `cwd` with `env`, then detach."""

    run: Run
    argv: list[str]
    cwd: str
    env: dict[str, str]


def hooks_settings(paths: Paths, run: Run) -> str:
    """Write the settings file whose hooks report the attached session's moments to corral."""
    command = f"{shlex.quote(sys.executable)} -m core hook --run {run.id}"
    hooks: dict[str, Any] = {name: [{"hooks": [{"type": "command", "command": command, "timeout": 30}]}]
                             for name in HOOKED}
    hooks["PostToolUse"][0]["matcher"] = "*"
    path = paths.home / "hooks" / f"{run.short_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hooks": hooks}, indent=2))
    return str(path)


def hook_events(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The run events one hook call stands for."""
    name = data.get("hook_event_name")
    if name == "SessionStart":
        return [(EventType.SESSION_ATTACHED, {"session_id": data.get("session_id"), "source": data.get("source")})]
    if name == "UserPromptSubmit":
        return [(EventType.USER_MESSAGE, {"text": str(data.get("prompt") or ""), "attached": True})]
    if name == "PostToolUse":
        tool_id = data.get("tool_use_id") or ""
        response = data.get("tool_response")
        output = response if isinstance(response, str) else json.dumps(response)
        call = {"id": tool_id, "name": data.get("tool_name"), "input": data.get("tool_input") or {}}
        return [(EventType.AGENT_TOOL_CALL, call),
                (EventType.AGENT_TOOL_RESULT, {"id": tool_id, "name": data.get("tool_name"),
                                               "output": output[:OUTPUT_LIMIT],
                                               "truncated": len(output) > OUTPUT_LIMIT, "is_error": False})]
    if name == "Stop":
        return [(EventType.AGENT_IDLE, {})]
    return []


async def run_in_terminal(attachment: Attachment) -> int:
    """Run the attached session in this terminal until the user leaves it; Ctrl-C belongs to it."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    try:
        process = await asyncio.create_subprocess_exec(*attachment.argv, cwd=attachment.cwd, env=attachment.env)
        return await process.wait()
    except OSError as error:
        print(f"corral: could not start {attachment.argv[0]}: {error.strerror}", file=sys.stderr)
        return 127
    finally:
        loop.remove_signal_handler(signal.SIGINT)


@dataclass(eq=False, repr=False)
class Attach:
    paths: Paths
    store: Store
    profiles: Profiles
    runs: Runs

    async def attach(self, run_key: str) -> Attachment:
        """Claim an ended run for an interactive session of its agent in this process."""
        run = await self.runs.run(run_key)
        if run.active:
            raise Conflict(f"run {run.short_id} is {run.status}: pause it first, then attach", code="RUN_ACTIVE")
        if not run.session_id:
            raise Conflict(f"run {run.short_id} has no agent session to open: its agent never started",
                           code="NO_SESSION")
        profile = await self.profiles.agent(run.agent_id, run.project_id)
        argv = agents.adapter(profile.cli).interactive(profile, run.session_id, hooks_settings(self.paths, run))
        if not await self.store.claim_run(run.id, RunStatus.ENDED, RunStatus.RUNNING, reason="attached",
                                          owner_pid=os.getpid(), owner_started=started_at(os.getpid()),
                                          cancel_requested=0, pid=None, ended_at=None):
            raise Conflict(f"run {run.short_id} was just taken by another corral process", code="RUN_TAKEN")
        try:
            await self.runs.restore_worktrees(run)
        except BaseException:
            await self.store.update_run(run.id, status=run.status, reason=run.reason, ended_at=run.ended_at)
            raise
        await self.store.append(run.id, [(EventType.RUN_ATTACHED, {"command": argv[0], "cwd": run.cwd})])
        env = {**os.environ, "CORRAL_HOME": str(self.paths.home)}
        return Attachment(await self.runs.run(run.id), argv, run.cwd, env)

    async def detach(self, run_key: str, exit_code: int) -> Run:
        """The interactive session ended: keep its work on the branch; the run is paused, to be
        continued or attached again."""
        run = await self.runs.run(run_key)
        await self.store.append(run.id, [(EventType.RUN_DETACHED, {"exit_code": exit_code})])
        await self.runs.end_unowned(run, RunStatus.PAUSED, "the attached session ended")
        return await self.runs.run(run.id)

    async def record_hook(self, run_id: str, data: dict[str, Any]) -> None:
        """Store what one hook call of an attached session reported, and the session it happened in."""
        items = hook_events(data)
        if items:
            await self.store.append(run_id, items)
        session = data.get("session_id")
        if isinstance(session, str) and session:
            await self.store.update_run(run_id, session_id=session)
