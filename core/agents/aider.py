"""Aider (PyPI `aider-chat`): no machine protocol and no permission requests. corral runs it once per
message (`--message`), answering yes to what it would ask (`--yes-always`: it edits files in the
worktree; shell commands the model proposes need an explicit yes, so they never run), never letting
it commit (`--no-auto-commits`: the run's branch holds corral's commits only). Its output is kept
as plain transcript lines.

Aider keeps its state in the user's home (~/.aider) and in the repository's root (chat and input
histories, its repo map's tags cache). corral gives it the run's private folder as HOME, points each
of those files there, and reads the user's own git settings through GIT_CONFIG_GLOBAL. The repo map's
cache has no option: aider is started through its own Python with the cache's folder set first.
Model prices come from the copy litellm ships (no download at each start).

The events aider logs with `--analytics-log` (a local file; analytics stay off) give each model
answer's exact tokens and cost, read when aider exits. A continuation goes on in the run's chat
history (`--restore-chat-history`), which aider reads back from the markdown it wrote."""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
import uuid
from pathlib import Path
from typing import Any

from dulwich.config import ConfigFile

from ..errors import CorralError
from ..models import Agent, Approval, EventType
from .base import (AgentAdapter, AgentNotConfigured, Launch, LineParser, Parsed, Supports, json_object,
                   plain_output, provider_env)

# tools (by Claude Code's names) that change things: a launch limited to tools without them gets aider's ask mode
CHANGING_TOOLS = frozenset({"Bash", "Edit", "Write", "MultiEdit", "NotebookEdit"})
EVENTS_FILE = "aider-events.jsonl"
TAGS_CACHE = "aider-tags-cache"
# Set aider's repo map cache folder (an absolute path wins over the repository's root), then run it.
BOOT = ("import sys; from aider import repomap; repomap.RepoMap.TAGS_CACHE_DIR = sys.argv.pop(1); "
        "from aider.main import main; sys.exit(main())")
QUIET_FLAGS = [
    "--yes-always", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
    "--no-analytics", "--no-check-update", "--no-show-release-notes", "--no-show-model-warnings",
    "--no-pretty", "--no-fancy-input", "--no-detect-urls", "--disable-playwright", "--no-suggest-shell-commands",
]
ERROR_LINE = re.compile(r"^litellm\.\w+:")  # how aider prints a failed model call (str() of litellm's error)
RETRY_LINE = re.compile(r"^Retrying in ([\d.]+) seconds\.\.\.$")
TOKENS_LINE = re.compile(r"^Tokens: ([\d.]+)(k?) sent, (?:.*, )?([\d.]+)(k?) received\.")
VERSION_LINE = re.compile(r"^Aider v(\S+)$")


def _count(number: str, thousands: str) -> int:
    return round(float(number) * (1000 if thousands else 1))


def chat_file(home: Path, session_id: str) -> Path:
    return home / f"aider-chat-{session_id}.md"


class AiderParser(LineParser):
    """Aider's lines as plain output; its version, the model's failures and retries noted on the
    way, and the run's result once it exits."""

    def __init__(self, session_id: str | None = None, events_file: Path | None = None, model: str | None = None):
        self.session_id = session_id
        self.events_file = events_file
        self.model = model
        self.version: str | None = None
        self._error: str | None = None  # the model call's failure not followed by an answer yet
        self._reason: list[str] = []  # the lines that say why, after the error's
        self._tokens = [0, 0]  # as the "Tokens:" lines round them, when the events file is not there
        self._answers = 0
        self._last = ""

    def parse(self, line: bytes) -> Parsed:
        text = line.decode("utf-8", "replace").rstrip("\r").rstrip()
        if not text.strip():
            return Parsed()
        self._last = text
        if self.version is None and (found := VERSION_LINE.match(text)):
            self.version = found.group(1)
            return Parsed([*plain_output(line).events, (EventType.SESSION_INIT, {
                "session_id": self.session_id, "model": self.model, "tools": [], "agent": "Aider",
                "version": self.version})])
        if ERROR_LINE.match(text):  # an error only if no answer follows: aider retries some
            self._error, self._reason = text, []
            return plain_output(line)
        if (retry := RETRY_LINE.match(text)) and self._error:
            return Parsed([(EventType.AGENT_RETRY, {"attempt": None, "max_retries": None, "status": None,
                                                    "error": self._error,
                                                    "delay_ms": round(float(retry.group(1)) * 1000)})])
        if tokens := TOKENS_LINE.match(text):
            self._error, self._reason = None, []
            self._answers += 1
            self._tokens[0] += _count(tokens.group(1), tokens.group(2))
            self._tokens[1] += _count(tokens.group(3), tokens.group(4))
        elif self._error and len(self._reason) < 3:
            self._reason.append(text)
        return plain_output(line)

    def finish(self, code: int) -> Parsed:
        tokens_in, tokens_out, cost, answers = self._usage()
        reason = None
        if code:
            reason = f"aider exited with status {code}: {self._error or self._last}"
        elif self._error:
            reason = " ".join([self._error, *self._reason])
        payload: dict[str, Any] = {
            "subtype": "error" if reason else "success", "is_error": reason is not None, "result": None,
            "session_id": self.session_id, "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost,
            "num_turns": answers, "duration_ms": None}
        if reason is None:
            return Parsed([(EventType.RUN_RESULT, payload)])
        payload["reason"] = reason
        return Parsed([(EventType.AGENT_ERROR, {"message": reason}), (EventType.RUN_RESULT, payload)])

    def _usage(self) -> tuple[int, int, float, int]:
        """Tokens in and out, cost and model answers: exact from aider's events file, else as its
        "Tokens:" lines round them (with no cost)."""
        answers = [e.get("properties") or {} for e in self._events() if e.get("event") == "message_send"]
        if not answers:
            return self._tokens[0], self._tokens[1], 0.0, self._answers
        return (sum(int(a.get("prompt_tokens") or 0) for a in answers),
                sum(int(a.get("completion_tokens") or 0) for a in answers),
                float(answers[-1].get("total_cost") or 0.0), len(answers))

    def _events(self) -> list[dict[str, Any]]:
        """What this launch's aider logged in its events file (each launch starts it anew)."""
        if self.events_file is None:
            return []
        try:
            lines = self.events_file.read_text().splitlines()
        except OSError:
            return []
        return [event for line in lines if (event := json_object(line.encode())) is not None]


def python_of(binary: str) -> list[str] | None:
    """The interpreter line of the `aider` script (a console script's shebang), when it is Python's."""
    try:
        with open(binary, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    command = shlex.split(first[2:].decode("utf-8", "replace").strip())
    return command if command and any("python" in Path(part).name for part in command) else None


def git_settings(env: dict[str, str]) -> None:
    """Under a HOME of corral's, git still reads the user's own settings; and aider, which writes a
    placeholder name and email into the repository's config when git knows none, finds them set
    (for its git only: it makes no commits here)."""
    if not os.environ.get("GIT_CONFIG_GLOBAL"):
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "git" / "config"
        found = next((f for f in (Path.home() / ".gitconfig", xdg) if f.is_file()), None)
        if found is not None:
            env["GIT_CONFIG_GLOBAL"] = str(found)
    if _has_identity(env.get("GIT_CONFIG_GLOBAL") or os.environ.get("GIT_CONFIG_GLOBAL")):
        return
    count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    for i, (key, value) in enumerate({"user.name": "corral", "user.email": "corral@localhost"}.items(), count):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(count + 2)


def _has_identity(config_file: str | None) -> bool:
    if not config_file:
        return False
    try:
        config = ConfigFile.from_path(config_file)
        return bool(config.get((b"user",), b"name") and config.get((b"user",), b"email"))
    except (OSError, KeyError, ValueError):
        return False


class Aider(AgentAdapter):
    name = "aider"
    default_binary = "aider"
    install_hint = ("install it with `pipx install aider-chat` (or `uv tool install aider-chat`), "
                    "or set the agent profile's `command` to its path")
    # it never asks (edits go, the commands its model proposes are refused); cost from litellm's price list
    supports = Supports(resume=True, fork=True, tokens=True, cost=True)

    def check(self, agent: Agent) -> None:
        """What aider cannot do for a profile, said before anything is made for its run."""
        if agent.permission_mode == "default":
            raise AgentNotConfigured(
                f"profile {agent.name!r} asks before every edit (permission mode default), and aider cannot ask: "
                "give it the mode acceptEdits (it edits the worktree; the shell commands its model proposes are "
                "refused) or plan (it only answers)")
        config = agent.provider_config
        if config.get("wire_api") not in (None, "chat", "chat_completions"):
            raise AgentNotConfigured(f"profile {agent.name!r} sets wire_api {config['wire_api']!r}: "
                                     "aider reaches a base_url through Chat Completions only (wire_api chat)")
        if config.get("base_url") and not agent.model:
            raise AgentNotConfigured(f"profile {agent.name!r} names a base_url but no model: aider needs the "
                                     "model's name to ask for at that endpoint")
        provider_env(agent, "OPENAI_API_BASE", "OPENAI_API_KEY")  # the key's variable is set

    def launch(self, agent: Agent, prompt: str, *, resume: str | None = None, fork: bool = False,
               resume_at: str | None = None, tools: list[str] | None = None, json_schema: dict | None = None,
               effort: str | None = None, cwd: str = "", home: str = "") -> Launch:
        self.check(agent)
        if json_schema is not None:
            raise AgentNotConfigured("aider cannot answer in a given JSON shape: plan with another agent")
        if resume_at:
            raise AgentNotConfigured("aider's chat history cannot be cut at a turn: continue the run as it is")
        binary = self.binary(agent)
        folder = Path(home or tempfile.mkdtemp(prefix="corral-aider-"))
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        session_id = resume if resume and not fork else str(uuid.uuid4())
        if resume and fork:
            _copy_history(folder, resume, session_id)
        events_file = folder / EVENTS_FILE
        events_file.unlink(missing_ok=True)
        _no_price_download(folder)

        env = provider_env(agent, "OPENAI_API_BASE", "OPENAI_API_KEY")
        env.update(HOME=str(folder), LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1", COLUMNS="4096")
        git_settings(env)

        args = [f"--message={prompt}", *QUIET_FLAGS,  # one word, even for a prompt that starts with "-"
                "--chat-history-file", str(chat_file(folder, session_id)),
                "--input-history-file", str(folder / "aider-input-history"),
                "--analytics-log", str(events_file)]
        if resume:
            args.append("--restore-chat-history")
        model = agent.model
        config = agent.provider_config
        if config.get("base_url"):
            args += ["--openai-api-base", config["base_url"]]  # a flag: a repository's .env cannot move it
            model = model if (model or "").startswith("openai/") else f"openai/{model}"
        if model:
            args += ["--model", model]
        read_only = agent.permission_mode == "plan" or (tools is not None and not CHANGING_TOOLS & set(tools))
        if read_only:
            args += ["--edit-format", "ask"]
        elif config.get("edit_format"):
            args += ["--edit-format", config["edit_format"]]
        if agent.instructions:
            conventions = folder / "aider-instructions.md"
            conventions.write_text(agent.instructions + "\n")
            args += ["--read", str(conventions)]
        python = python_of(binary)
        argv = [*python, "-c", BOOT, str(folder / TAGS_CACHE), *args] if python else [binary, *args]
        parser = AiderParser(session_id, events_file, model)
        return Launch(argv=argv, env=env, parser=parser)

    def parser(self) -> LineParser:
        return AiderParser()

    def interactive(self, agent: Agent, session_id: str, hooks_file: str) -> list[str]:
        raise CorralError("an Aider run cannot be opened in aider's own terminal: continue it instead",
                          code="ATTACH_UNSUPPORTED")

    def answer(self, approval: Approval, allow: bool, message: str | None, *, always: bool = False) -> bytes:
        return b""  # aider never asks: corral runs it with --yes-always


def _copy_history(home: Path, parent_session: str, session_id: str) -> None:
    """A fork goes on from a copy of its parent's chat history, found in the parent run's folder."""
    for found in home.parent.glob(f"*/{chat_file(Path(), parent_session).name}"):
        chat_file(home, session_id).write_bytes(found.read_bytes())
        return
    raise AgentNotConfigured(f"the chat history of aider session {parent_session} is gone: start a new run")


def _no_price_download(home: Path) -> None:
    """Aider downloads a model price list into ~/.aider/caches at each start in a new home; a fresh
    cache without models makes it use the list litellm ships."""
    caches = home / ".aider" / "caches"
    caches.mkdir(parents=True, exist_ok=True)
    (caches / "model_prices_and_context_window.json").write_text(
        json.dumps({"corral": {"note": "prices come from the copy litellm ships"}}))
