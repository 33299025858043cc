"""What corral needs from an agent CLI: how to start it, what its lines mean, how to answer it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..errors import CorralError
from ..json_codec import decode
from ..models import Agent, Approval, EventType


class AgentMissing(CorralError):
    code = "AGENT_NOT_INSTALLED"


class AgentNotConfigured(AgentMissing):
    """The profile names something the agent needs that is not there (e.g. the key's variable)."""

    code = "AGENT_NOT_CONFIGURED"


def provider_env(agent: Agent, url_variable: str, key_variable: str) -> dict[str, str]:
    """The environment that points an agent CLI at its profile's model endpoint (base_url) and key
    (read from the variable api_key_env names, at launch: it is never stored)."""
    env = {}
    config = agent.provider_config
    if config.get("base_url"):
        env[url_variable] = config["base_url"]
    if config.get("api_key_env"):
        name = config["api_key_env"]
        if not os.environ.get(name):
            raise AgentNotConfigured(f"profile {agent.name!r} reads its API key from ${name}, which is not set "
                                     "where corral runs: export it, or change the profile's api_key_env")
        env[key_variable] = os.environ[name]
    return env


@dataclass
class Launch:
    """How to start one agent process: its argv, extra environment, its first input, and the parser
    of its lines when the adapter binds one to this launch (a protocol with a conversation to keep)."""

    argv: list[str]
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)
    parser: LineParser | None = None


@dataclass
class Parsed:
    """What one output line meant: events to record, and whether the agent's turn is over."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    turn_ended: bool = False
    message_id: str | None = None  # the agent's model response this line is part of (one per turn)
    line_id: str | None = None  # the line's own id in the session, to resume the session at it
    replies: list[bytes] = field(default_factory=list)  # written to the agent's stdin at once, in order


@dataclass(frozen=True)
class Supports:
    """What an agent CLI can do under corral, said where a user looks (`corral agents`, the Projects
    tab) rather than faked: a CLI without cost shows none, not $0."""

    asks: bool = False  # its permission requests wait for the user's answer
    always: bool = False  # an answer can allow the like for the rest of the run
    resume: bool = False  # `continue` goes on in its session
    fork: bool = False  # a fork starts from the parent's conversation, not a new one
    rewind: bool = False  # a rewind cuts its session back too, not only the files
    tokens: bool = False  # it reports the tokens it used
    cost: bool = False  # it reports what they cost
    attach: bool = False  # `corral attach` opens the run in its own terminal UI
    plans: bool = False  # it answers in a JSON schema, as a planning session needs

    def said(self) -> str:
        """`asks, always-allow, continue, tokens; no fork, rewind, cost, attach`."""
        names = {"always": "always-allow", "resume": "continue"}
        has = [names.get(f.name, f.name) for f in fields(self) if getattr(self, f.name)]
        lacks = [names.get(f.name, f.name) for f in fields(self) if not getattr(self, f.name)]
        return "; ".join(filter(None, [", ".join(has), "no " + ", ".join(lacks) if lacks else ""]))


@dataclass(frozen=True)
class Installed:
    """An agent CLI as this machine has it: where, which version, or how to install it; what it can do."""

    cli: str
    path: str | None
    version: str | None
    install_hint: str
    supports: Supports = field(default_factory=Supports)


_VERSIONS: dict[tuple, str] = {}  # (binary, version args, its mtime) -> the version it said


def json_object(line: bytes) -> dict[str, Any] | None:
    """The JSON object an output line holds, or None when it holds none."""
    try:
        obj = decode(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def object_of(value: Any) -> dict[str, Any]:
    """A protocol member that should be an object, or an empty one when it is not."""
    return value if isinstance(value, dict) else {}


def plain_output(line: bytes) -> Parsed:
    """A line that is not the agent's protocol: kept as its plain output (a blank one is dropped)."""
    text = line.decode("utf-8", "replace").rstrip("\r")
    return Parsed([(EventType.AGENT_OUTPUT, {"text": text})] if text.strip() else [])


def api_error(message: str) -> tuple[str, int | None, str | None]:
    """A model endpoint's error as an agent passes it on, its JSON body unwrapped: (message,
    HTTP status, status name) when it is a body like {"error": {"code", "message", "status"}}."""
    try:
        body = json.loads(message)
    except ValueError:
        return message, None, None
    inner = body.get("error") if isinstance(body, dict) else None
    if not isinstance(inner, dict) or not inner.get("message"):
        return message, None, None
    code = inner.get("code")
    return (str(inner["message"]), code if isinstance(code, int) else None,
            str(inner["status"]) if inner.get("status") else None)


def endpoint_failure(message: str, status: int | None, name: str | None = None) -> str:
    """A failure reason that says the model endpoint answered an HTTP error, and which."""
    if not status or not 400 <= status < 600 or str(status) in message:
        return message
    return f"the model endpoint answered {status}{f' {name}' if name else ''}: {message}"


class LineParser(ABC):
    """Turns an agent's output lines into events; one per run, so it may keep state."""

    @abstractmethod
    def parse(self, line: bytes) -> Parsed: ...

    def finish(self, code: int) -> Parsed:
        """What the agent's exit (with status `code`) means, for an agent whose output has no end
        of its own (a plain transcript): its result, say. Nothing by default."""
        return Parsed()

    def waiting_for(self) -> str | None:
        """The step of the protocol's opening the agent has not answered yet (e.g. "initialize"),
        so an agent that exits or stays silent before it works can be told apart; None once it
        has answered (and for protocols without an opening)."""
        return None


class JsonRpcParser(LineParser):
    """The client side of a JSON-RPC conversation on an agent's stdio (Codex's app-server, ACP): each
    line is the agent's request, notification or response to ours, or plain output; a line not
    shaped as the protocol says is kept as the agent's output, with why."""

    def parse(self, line: bytes) -> Parsed:
        obj = json_object(line)
        if obj is None:
            return plain_output(line)
        method = obj.get("method")
        params = object_of(obj.get("params"))
        try:
            if isinstance(method, str) and "id" in obj:
                return self.on_request(obj["id"], method, params)
            if isinstance(method, str):
                return self.on_notification(method, params)
            if "id" in obj and ("result" in obj or "error" in obj):
                return self.on_response(obj)
        except (AttributeError, TypeError, ValueError) as error:
            return Parsed([(EventType.AGENT_OUTPUT, {"data": obj, "not_understood": str(error)})])
        return Parsed([(EventType.AGENT_OUTPUT, {"data": obj})])

    @abstractmethod
    def on_request(self, rpc_id: Any, method: str, params: dict[str, Any]) -> Parsed:
        """The agent asks something of corral (a permission, a file)."""

    @abstractmethod
    def on_notification(self, method: str, params: dict[str, Any]) -> Parsed: ...

    @abstractmethod
    def on_response(self, obj: dict[str, Any]) -> Parsed:
        """The agent's answer (its `result` or `error`) to one of corral's requests."""


class AgentAdapter(ABC):
    """One kind of agent CLI. Register a new kind under the `corral.agents` entry point group."""

    name: ClassVar[str]
    default_binary: ClassVar[str]
    install_hint: ClassVar[str]

    version_args: ClassVar[tuple[str, ...]] = ("--version",)
    supports: ClassVar[Supports] = Supports()  # a plug-in claims nothing it does not say

    def installed(self, command: str | None = None) -> Installed:
        """Whether the CLI is on this machine (on PATH, or at `command`), and its version (asked
        of the CLI once per binary and change of it: starting a Node CLI takes a second)."""
        wanted = command or self.default_binary
        path = shutil.which(wanted) if os.sep not in wanted else (wanted if os.access(wanted, os.X_OK) else None)
        version = None
        if path:
            try:
                key = (path, *self.version_args, os.stat(path).st_mtime_ns)
            except OSError:
                key = None
            if key is not None and key in _VERSIONS:
                version = _VERSIONS[key]
            else:
                version = self._version(path)
                if key is not None and version is not None:
                    _VERSIONS[key] = version
        return Installed(self.name, path, version, self.install_hint, self.supports)

    def _version(self, path: str) -> str | None:
        try:
            done = subprocess.run([path, *self.version_args], capture_output=True, text=True, timeout=20,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = (done.stdout or done.stderr).strip().splitlines()
        return lines[0].strip() if done.returncode == 0 and lines else None

    def check(self, agent: Agent) -> None:
        """Refuse (AgentNotConfigured, saying why) a profile this agent cannot run as, before
        anything is made for its run. Nothing to refuse by default."""
        return None

    def binary(self, agent: Agent) -> str:
        """The executable to run, or AgentMissing with a message that says how to install it."""
        wanted = agent.command or self.default_binary
        found = shutil.which(wanted) if os.sep not in wanted else (wanted if os.access(wanted, os.X_OK) else None)
        if not found:
            raise AgentMissing(f"{wanted!r} not found: {self.install_hint}")
        return found

    @abstractmethod
    def launch(self, agent: Agent, prompt: str, *, resume: str | None = None, fork: bool = False,
               resume_at: str | None = None, tools: list[str] | None = None, json_schema: dict | None = None,
               effort: str | None = None, cwd: str = "", home: str = "") -> Launch:
        """How to start the agent on `prompt`; with `resume`, in that session (`fork`: as a new
        session branched from it; `resume_at`: cut after that line, dropping what came later).
        `tools` limits the tools it has, `json_schema` asks for its answer as that JSON, `effort`
        is low, medium or high. `cwd` is where it works; `home` a private folder of corral's for
        this run's agent, for the settings and sessions a CLI keeps (never the user's own)."""

    @abstractmethod
    def parser(self) -> LineParser: ...

    @abstractmethod
    def interactive(self, agent: Agent, session_id: str, hooks_file: str) -> list[str]:
        """The argv that opens `session_id` in the agent's own terminal UI, its hooks from `hooks_file`."""

    @abstractmethod
    def answer(self, approval: Approval, allow: bool, message: str | None, *, always: bool = False) -> bytes:
        """The bytes to write to the agent's stdin to answer a permission request; `always` also
        allows what the request offered to remember (for this agent process only)."""
