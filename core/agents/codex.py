"""OpenAI's Codex CLI through `codex app-server`: JSON-RPC 2.0 (without the "jsonrpc" member) as
one JSON object a line on stdin and stdout. corral is the client: it sends `initialize`, then
`thread/start` (or `thread/resume`, `thread/fork`), then `turn/start` with the prompt, each once the
answer to the one before has come; Codex streams notifications (`item/started`, `item/completed`,
`item/agentMessage/delta`, `thread/tokenUsage/updated`, `turn/completed`...) and asks its own
requests (`item/commandExecution/requestApproval`, `item/fileChange/requestApproval`), which the
user's answer settles.

Codex keeps its settings and sessions in CODEX_HOME: corral points it at the run's private folder and
writes its config.toml there, never into the user's ~/.codex. With OPENAI_API_KEY in the
environment the model is reached with that key (at OPENAI_BASE_URL when set)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import CorralError
from ..models import Agent, Approval, EventType
from .base import (
    AgentAdapter,
    AgentNotConfigured,
    Launch,
    JsonRpcParser,
    LineParser,
    Parsed,
    Supports,
    api_error,
    endpoint_failure,
    object_of,
)

TOOL_OUTPUT_LIMIT = 20_000
CLIENT = {"name": "corral", "title": "corral", "version": "1"}
SHELL, PATCH = "shell", "apply_patch"  # the names corral gives Codex's command executions and file changes
DEFAULT_BASE_URL = "https://api.openai.com/v1"

# the profile's permission mode → (Codex approval policy, sandbox)
POLICIES = {
    "bypassPermissions": ("never", "danger-full-access"),
    "plan": ("on-request", "read-only"),
    "default": ("untrusted", "workspace-write"),
}
DEFAULT_POLICY = ("on-request", "workspace-write")  # acceptEdits: edits in the worktree go, the rest asks

# tools (by Claude Code's names) that change things: a launch limited to tools without them (a planning
# session's) gets a read-only sandbox and no questions, as Codex's tools cannot be picked one by one
CHANGING_TOOLS = frozenset({"Bash", "Edit", "Write", "MultiEdit", "NotebookEdit"})
READ_ONLY = ("never", "read-only")

# the provider settings of a profile that go to Codex's config as they are
RETRY_SETTINGS = ("request_max_retries", "stream_max_retries")

DECISIONS = {"allow": "accept", "always": "acceptForSession", "deny": "decline"}

# notifications that change nothing a user follows
QUIET = frozenset({
    "thread/started", "thread/status/changed", "turn/started", "turn/diff/updated", "turn/plan/updated",
    "account/rateLimits/updated", "remoteControl/status/changed", "serverRequest/resolved",
    "item/commandExecution/outputDelta", "item/fileChange/outputDelta", "item/fileChange/patchUpdated",
    "item/reasoning/summaryTextDelta", "item/reasoning/summaryPartAdded", "item/reasoning/textDelta",
    "mcpServer/startupStatus/updated", "thread/settings/updated", "skills/changed", "hook/started",
    "hook/completed", "thread/name/updated", "thread/readState/changed", "app/list/updated",
})
NOTICES = frozenset({"warning", "configWarning", "deprecationNotice", "guardianWarning", "model/rerouted"})


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _request(id: int | str, method: str, params: dict[str, Any]) -> bytes:
    return _line({"id": id, "method": method, "params": params})


def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string escapes as JSON does


def _message_of(error: dict) -> str:
    """An error's message; the model server's own when Codex passes on its JSON body."""
    return api_error(str(error.get("message") or "Codex reported an error"))[0]


def _status_of(error: dict) -> tuple[int | None, str | None]:
    """The HTTP status of the model's answer an error is about, and the kind Codex gives it."""
    info = error.get("codexErrorInfo")
    if isinstance(info, str):
        return None, info
    if not isinstance(info, dict) or not info:
        return None, None
    for detail in info.values():
        if isinstance(detail, dict) and isinstance(detail.get("httpStatusCode"), int):
            return detail["httpStatusCode"], next(iter(info))
    return None, next(iter(info))


def _reason_of(error: dict) -> str:
    """A failure's one-line reason, saying so when the model endpoint answered an HTTP error."""
    message = _message_of(error)
    status, kind = _status_of(error)
    if status is None and kind == "internalServerError":
        return f"the model endpoint answered a server error: {message}"
    if status in (401, 403):
        return f"{endpoint_failure(message, status)} (the endpoint refused the API key)"
    return endpoint_failure(message, status)


def _cut(text: str) -> tuple[str, bool]:
    return text[:TOOL_OUTPUT_LIMIT], len(text) > TOOL_OUTPUT_LIMIT


class CodexParser(JsonRpcParser):
    """The client side of one app-server conversation: it turns Codex's lines into events and
    sends the requests that come next."""

    INITIALIZE, OPEN, TURN = 1, 2, 3  # our requests' ids

    def __init__(self, agent: Agent, prompt: str, *, cwd: str = "", resume: str | None = None,
                 fork: bool = False, json_schema: dict | None = None, effort: str | None = None,
                 read_only: bool = False) -> None:
        self.agent = agent
        self.read_only = read_only
        self.prompt = prompt
        self.cwd = cwd
        self.resume = resume
        self.fork = fork
        self.json_schema = json_schema
        self.effort = effort
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self._response = 0  # model responses so far in this turn: thread/tokenUsage/updated ends each
        self._items: dict[str, dict] = {}  # tool items by id, for the approval requests about them
        self._usage: dict[str, Any] = {}
        self._last_message: str | None = None
        self._errors: list[str] = []
        self._steers = 0
        self._answered: set[int] = set()  # which of our requests have their answer

    def first(self) -> bytes:
        return _request(self.INITIALIZE, "initialize", {"clientInfo": CLIENT, "capabilities": None})

    # -- lines -------------------------------------------------------------------------------

    def waiting_for(self) -> str | None:
        if self.INITIALIZE not in self._answered:
            return "initialize"
        return None if self.OPEN in self._answered else self._open_method()

    def on_response(self, obj: dict[str, Any]) -> Parsed:
        id: Any = obj.get("id")
        error = obj.get("error")
        ours = isinstance(id, int) and id in (self.INITIALIZE, self.OPEN, self.TURN)
        if not ours and isinstance(id, str) and id.startswith("corral-steer-"):
            if error:  # a steer that came too late: the turn it was for is over
                return Parsed([(EventType.AGENT_SYSTEM, {"kind": "steer_failed", "error": error})])
            return Parsed()
        if not ours or id in self._answered:  # an answer to nothing corral asked: kept, not acted on
            return Parsed([(EventType.AGENT_OUTPUT, {"data": obj})])
        self._answered.add(id)
        step = {self.INITIALIZE: "initialize", self.OPEN: self._open_method(), self.TURN: "turn/start"}[id]
        if error:
            message = _reason_of(error) if isinstance(error, dict) else str(error)
            return self._failed(f"Codex refused {step}: {message}")
        result = obj.get("result") or {}
        if not isinstance(result, dict):
            return self._failed(f"Codex answered {step} with {json.dumps(result)[:200]}, not an object: "
                                "is this a version of Codex that corral can drive?")
        if id == self.INITIALIZE:
            return Parsed(replies=[_line({"method": "initialized"}), self._open()])
        if id == self.OPEN:
            thread = result.get("thread") or {}
            self.thread_id = thread.get("id")
            sandbox = result.get("sandbox")
            return Parsed([(EventType.SESSION_INIT, {
                "session_id": self.thread_id,
                "model": result.get("model"),
                "cwd": result.get("cwd"),
                "tools": [],
                "permission_mode": self.agent.permission_mode,
                "approval_policy": result.get("approvalPolicy"),
                "sandbox": sandbox.get("type") if isinstance(sandbox, dict) else sandbox,
                "version": thread.get("cliVersion"),
                "agent": "Codex",
                "forked_from": thread.get("forkedFromId"),
            })], replies=[self._turn_start()])
        self.turn_id = (result.get("turn") or {}).get("id") or self.turn_id
        return Parsed()

    def _open_method(self) -> str:
        return "thread/start" if not self.resume else "thread/fork" if self.fork else "thread/resume"

    def _open(self) -> bytes:
        approval, sandbox = READ_ONLY if self.read_only else POLICIES.get(self.agent.permission_mode, DEFAULT_POLICY)
        params: dict[str, Any] = {"approvalPolicy": approval, "sandbox": sandbox}
        if self.cwd:
            params["cwd"] = self.cwd
        if self.agent.model:
            params["model"] = self.agent.model
        if self.agent.instructions:
            params["developerInstructions"] = self.agent.instructions
        if self.resume:
            params["threadId"] = self.resume
            params["excludeTurns"] = True
        return _request(self.OPEN, self._open_method(), params)

    def _turn_start(self) -> bytes:
        params: dict[str, Any] = {"threadId": self.thread_id,
                                  "input": [{"type": "text", "text": self.prompt, "text_elements": []}]}
        if self.effort:
            params["effort"] = self.effort
        if self.json_schema is not None:
            params["outputSchema"] = self.json_schema
        return _request(self.TURN, "turn/start", params)

    def _failed(self, reason: str) -> Parsed:
        return Parsed([(EventType.AGENT_ERROR, {"message": reason}), (EventType.RUN_RESULT, {
            "subtype": "error", "is_error": True, "result": None, "session_id": self.thread_id,
            "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "num_turns": 0, "duration_ms": None,
            "reason": reason})], turn_ended=True)

    # -- notifications ------------------------------------------------------------------------

    def on_notification(self, method: str, params: dict) -> Parsed:
        if method in QUIET:
            return Parsed()
        if method in NOTICES:  # e.g. "Model metadata for `x` not found": said, and the run goes on
            return Parsed([(EventType.AGENT_SYSTEM, {
                "kind": method, "message": params.get("message") or params.get("summary"),
                "details": params.get("details")})])
        if method == "item/agentMessage/delta":
            return Parsed([(EventType.AGENT_TOKEN, {"text": params.get("delta", "")})], message_id=self._message_id())
        if method in ("item/started", "item/completed"):
            return self._item(params.get("item") or {}, started=method == "item/started")
        if method == "thread/tokenUsage/updated":
            self._usage = (params.get("tokenUsage") or {}).get("total") or {}
            self._response += 1
            return Parsed()
        if method == "error":
            return self._error(params)
        if method == "turn/completed":
            return self._turn_completed(object_of(params.get("turn")))
        return Parsed([(EventType.AGENT_OUTPUT, {"data": {"method": method, "params": params}})])

    def _message_id(self) -> str:
        return f"{self.turn_id}:{self._response}"

    def _item(self, item: dict, started: bool) -> Parsed:
        kind, item_id = item.get("type"), item.get("id") or ""
        if kind == "agentMessage":
            if started or not item.get("text"):
                return Parsed(message_id=self._message_id())
            self._last_message = item["text"]
            return Parsed([(EventType.AGENT_MESSAGE, {"text": item["text"]})], message_id=self._message_id())
        if kind == "reasoning":
            text = "\n".join([*(item.get("summary") or []), *(item.get("content") or [])]).strip()
            if started or not text:
                return Parsed()
            return Parsed([(EventType.AGENT_THINKING, {"text": text})], message_id=self._message_id())
        if kind not in ("commandExecution", "fileChange", "mcpToolCall", "dynamicToolCall", "webSearch"):
            return Parsed()
        name, tool_input = _tool_of(item)
        if started:
            self._items[item_id] = item
            return Parsed([(EventType.AGENT_TOOL_CALL, {"id": item_id, "name": name, "input": tool_input})],
                          message_id=self._message_id())
        if item_id not in self._items:  # completed without a start (declined before it began): a call too
            self._items[item_id] = item
            events: list[tuple[str, dict[str, Any]]] = [
                (EventType.AGENT_TOOL_CALL, {"id": item_id, "name": name, "input": tool_input})]
        else:
            events = []
        output, failed = _result_of(item)
        text, truncated = _cut(output)
        events.append((EventType.AGENT_TOOL_RESULT, {
            "id": item_id, "name": name, "output": text, "truncated": truncated, "is_error": failed,
            "status": item.get("status"), "exit_code": item.get("exitCode")}))
        return Parsed(events, message_id=self._message_id())

    def _error(self, params: dict) -> Parsed:
        error = object_of(params.get("error"))
        message = _message_of(error)
        status, kind = _status_of(error)
        if params.get("willRetry"):
            return Parsed([(EventType.AGENT_RETRY, {"attempt": None, "max_retries": None, "status": status,
                                                    "error": error.get("additionalDetails") or message,
                                                    "delay_ms": None})])
        self._errors.append(_reason_of(error))
        return Parsed([(EventType.AGENT_ERROR, {"message": message, "status": status, "kind": kind,
                                                "details": error.get("additionalDetails")})])

    def _turn_completed(self, turn: dict) -> Parsed:
        status = turn.get("status")
        failed = status != "completed"
        payload: dict[str, Any] = {
            "subtype": status,
            "is_error": failed,
            "result": self._last_message,
            "session_id": self.thread_id,
            "tokens_in": int(self._usage.get("inputTokens") or 0),
            "tokens_out": int(self._usage.get("outputTokens") or 0),
            "cost_usd": 0.0,  # Codex does not price its tokens
            "num_turns": self._response,
            "duration_ms": turn.get("durationMs"),
        }
        if self.json_schema is not None and self._last_message:
            with contextlib.suppress(ValueError):
                payload["structured_output"] = json.loads(self._last_message)
        if failed:
            error = object_of(turn.get("error"))
            payload["reason"] = ((_reason_of(error) if error.get("message") else None) or "; ".join(self._errors)
                                 or ("the turn was interrupted" if status == "interrupted" else f"the turn {status}"))
        return Parsed([(EventType.RUN_RESULT, payload)], turn_ended=True)

    # -- Codex's requests ---------------------------------------------------------------------

    def on_request(self, rpc_id: Any, method: str, params: dict) -> Parsed:
        id = rpc_id
        request_id = json.dumps(id)  # the id as sent (a number or a string), given back in the answer
        if method == "item/commandExecution/requestApproval":
            tool_input = {"command": params.get("command"), "cwd": params.get("cwd")}
            if params.get("networkApprovalContext"):
                tool_input["network"] = params["networkApprovalContext"]
        elif method == "item/fileChange/requestApproval":
            _, tool_input = _tool_of(self._items.get(params.get("itemId") or "") or {"type": "fileChange"})
            if params.get("grantRoot"):
                tool_input["grant_root"] = params["grantRoot"]
        else:  # a question corral cannot put to the user (yet): said no to, so the agent goes on
            return Parsed([(EventType.AGENT_OUTPUT, {"data": {"method": method, "params": params}})],
                          replies=[_line({"id": id, "error": {
                              "code": -32601, "message": f"corral does not answer {method}"}})])
        return Parsed([(EventType.AGENT_NEEDS_ATTENTION, {
            "kind": "permission",
            "request_id": request_id,
            "tool": SHELL if method.startswith("item/commandExecution") else PATCH,
            "input": tool_input,
            "tool_use_id": params.get("itemId"),
            "reason": params.get("reason"),
            "suggestions": [],
        })])

    def steer(self, text: str) -> bytes:
        """A request that tells the agent `text` in its running turn."""
        if not (self.thread_id and self.turn_id):
            return b""
        self._steers += 1
        return _request(f"corral-steer-{self._steers}", "turn/steer", {
            "threadId": self.thread_id, "expectedTurnId": self.turn_id,
            "input": [{"type": "text", "text": text, "text_elements": []}]})


def _tool_of(item: dict) -> tuple[str, dict[str, Any]]:
    kind = item.get("type")
    if kind == "commandExecution":
        return SHELL, {"command": item.get("command"), "cwd": item.get("cwd")}
    if kind == "fileChange":
        changes = [{"path": c.get("path"), "kind": (c.get("kind") or {}).get("type"), "diff": c.get("diff")}
                   for c in item.get("changes") or []]
        return PATCH, {"path": ", ".join(str(c["path"]) for c in changes), "changes": changes}
    if kind == "mcpToolCall":
        return f"mcp__{item.get('server')}__{item.get('tool')}", item.get("arguments") or {}
    if kind == "dynamicToolCall":
        return str(item.get("tool")), item.get("arguments") or {}
    return str(kind), {k: v for k, v in item.items() if k not in ("type", "id")}


def _result_of(item: dict) -> tuple[str, bool]:
    status = item.get("status")
    failed = status in ("failed", "declined")
    kind = item.get("type")
    if kind == "commandExecution":
        output = item.get("aggregatedOutput") or ""
        failed = failed or bool(item.get("exitCode"))
        if status == "declined":
            output = output or "the user declined this command"
        return output, failed
    if kind == "fileChange":
        paths = ", ".join(str(c.get("path")) for c in item.get("changes") or [])
        return (f"{status}: {paths}" if paths else str(status)), failed
    if kind == "mcpToolCall":
        if item.get("error"):
            return json.dumps(item["error"]), True
        return json.dumps(item.get("result")), failed
    if kind == "dynamicToolCall":
        return json.dumps(item.get("contentItems")), failed or item.get("success") is False
    return str(status or ""), failed


class Codex(AgentAdapter):
    name = "codex"
    default_binary = "codex"
    install_hint = "install it with `npm install -g @openai/codex`, or set the agent profile's `command` to its path"
    supports = Supports(asks=True, always=True, resume=True, fork=True, tokens=True, plans=True)  # no prices

    def __init__(self) -> None:
        self._parser: CodexParser | None = None  # the conversation of this adapter's latest launch

    def launch(self, agent: Agent, prompt: str, *, resume: str | None = None, fork: bool = False,
               resume_at: str | None = None, tools: list[str] | None = None, json_schema: dict | None = None,
               effort: str | None = None, cwd: str = "", home: str = "") -> Launch:
        argv = [self.binary(agent), "app-server"]
        env: dict[str, str] = {}
        if home:
            write_config(Path(home), agent)
            env["CODEX_HOME"] = home
            if resume:
                bring_session(Path(home), resume)
        parser = CodexParser(agent, prompt, cwd=cwd, resume=resume, fork=fork, json_schema=json_schema,
                             effort=effort, read_only=tools is not None and not CHANGING_TOOLS & set(tools))
        self._parser = parser
        return Launch(argv=argv, stdin=parser.first(), env=env, parser=parser)

    def parser(self) -> LineParser:
        """A parser of recorded lines; a launch binds its own, which keeps the conversation going."""
        return CodexParser(Agent(id="", name="", cli=self.name), "")

    def interactive(self, agent: Agent, session_id: str, hooks_file: str) -> list[str]:
        raise CorralError("a Codex run cannot be opened in Codex's own terminal yet: continue it instead",
                          code="NOT_SUPPORTED")

    def answer(self, approval: Approval, allow: bool, message: str | None, *, always: bool = False) -> bytes:
        decision = DECISIONS["always" if allow and always else "allow" if allow else "deny"]
        try:
            id: Any = json.loads(approval.request_id)
        except ValueError:
            id = approval.request_id
        reply = _line({"id": id, "result": {"decision": decision}})
        if not allow and message and self._parser is not None:
            reply += self._parser.steer(f"I declined that request: {message}")
        return reply


def bring_session(home: Path, thread_id: str) -> None:
    """A fork's Codex starts in a home of its own: copy the parent run's session (its rollout file,
    found in the homes of corral's other runs beside this one) in, where `thread/fork` looks."""
    pattern = f"rollout-*-{glob.escape(thread_id)}.jsonl"
    if next((home / "sessions").rglob(pattern), None) is not None:
        return
    for found in home.parent.glob(f"*/sessions/**/{pattern}"):
        target = home.joinpath(*found.relative_to(home.parent).parts[1:])  # sessions/YYYY/MM/DD/rollout-...
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(found, target)
        return


def write_config(home: Path, agent: Agent) -> None:
    """Codex's config.toml in corral's folder for the run: quiet, and the model reached at the
    profile's base_url with the key in the variable its api_key_env names (its wire_api, responses
    by default); without those, the environment's OPENAI_API_KEY (at OPENAI_BASE_URL when set) when
    there is one. The file names the key's variable, never the key."""
    lines = ["# Written by corral for this run's agent; rewritten at each start.",
             "check_for_update_on_startup = false"]
    # no plug-in or app catalogue to fetch: a run is headless, in a folder of its own
    tables = ["[analytics]", "enabled = false", "", "[features]", "plugins = false", "remote_plugin = false",
              "apps = false"]
    config = agent.provider_config
    key_variable = config.get("api_key_env") or ("OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") else None)
    if key_variable and not os.environ.get(key_variable):
        raise AgentNotConfigured(f"profile {agent.name!r} reads its API key from ${key_variable}, which is not set "
                                 "where corral runs: export it, or change the profile's api_key_env")
    if key_variable:
        base_url = config.get("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        lines.append('model_provider = "corral-openai"')
        tables += ["", "[model_providers.corral-openai]", 'name = "OpenAI"', f"base_url = {_toml(base_url)}",
                   f"env_key = {_toml(key_variable)}", f"wire_api = {_toml(config.get('wire_api', 'responses'))}"]
        for name in RETRY_SETTINGS:  # how often a failed model request is tried again (Codex's defaults else)
            if name in config:
                if not str(config[name]).isdigit():
                    raise AgentNotConfigured(f"profile {agent.name!r}: {name} is a number of retries, "
                                             f"not {config[name]!r}")
                tables.append(f"{name} = {int(config[name])}")
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("\n".join([*lines, "", *tables, ""]))
