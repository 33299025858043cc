"""Agents that speak the Agent Client Protocol (ACP): JSON-RPC 2.0 over the agent's stdio, one JSON
object a line. corral is the client: it sends `initialize`, then `session/new` (or `session/load`
to go on in a session), then `session/prompt`; the agent streams `session/update` notifications
(message and thought chunks, tool calls and their updates) and asks `session/request_permission`
before a tool runs; the prompt's response (its `stopReason`) ends the turn.

One adapter serves every ACP agent; what differs between their CLIs (argv, where they keep their
settings, what they must not be offered) is one row of `CLIS`, in `acp_clis.py`."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import CorralError
from ..models import Agent, Approval, EventType
from .acp_clis import CLIS
from .base import (
    AgentAdapter,
    Launch,
    JsonRpcParser,
    LineParser,
    Parsed,
    Supports,
    api_error,
    endpoint_failure,
)

PROTOCOL_VERSION = 1
TOOL_OUTPUT_LIMIT = 20_000

# The errors of JSON-RPC and ACP that corral answers with.
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
RESOURCE_NOT_FOUND = -32002

def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _text(content: Any) -> str:
    """The text of an ACP content block or of a tool call's content list."""
    if isinstance(content, dict):
        if content.get("type") == "text":
            return str(content.get("text") or "")
        if content.get("type") == "content":
            return _text(content.get("content"))
        if content.get("type") == "diff":
            return f"{content.get('path')}: {'written' if content.get('newText') is not None else 'changed'}"
        return ""
    if isinstance(content, list):
        return "\n".join(t for t in (_text(c) for c in content) if t)
    return ""


def _tool_name(call: dict[str, Any]) -> str:
    """Qwen names the tool in `_meta`, Gemini in its call ids (`<tool>__<id>`); others say little
    more than the kind of tool."""
    named = (call.get("_meta") or {}).get("toolName")
    if isinstance(named, str) and named:
        return named
    call_id = str(call.get("toolCallId") or "")
    if "__" in call_id:
        return call_id.split("__", 1)[0]
    return str(call.get("kind") or call.get("title") or "tool")


def _tool_input(call: dict[str, Any]) -> dict[str, Any]:
    """The tool's arguments when the agent sends them (`rawInput`), else what its call shows."""
    raw = call.get("rawInput")
    if isinstance(raw, dict) and raw:  # an announced call's arguments may still be streaming: {}
        return raw
    shown: dict[str, Any] = {"title": call.get("title") or ""}
    if call.get("kind") == "execute":
        shown["command"] = call.get("title") or ""
    for block in call.get("content") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "diff":
            shown["file_path"] = block.get("path")
            shown["content"] = block.get("newText")
        elif _text(block):
            shown["description"] = _text(block)
    if call.get("locations"):
        shown["locations"] = [loc.get("path") for loc in call["locations"] if isinstance(loc, dict)]
    return shown


def request_key(rpc_id: Any, call_id: str) -> str:
    """An approval's request id: the JSON-RPC id to answer (JSON first), then the tool call's id,
    which keeps it unique in the run when a continuation's agent counts its ids from 0 again."""
    return f"{json.dumps(rpc_id)}/{call_id}"


def rpc_id_of(request_id: str) -> Any:
    return json.JSONDecoder().raw_decode(request_id)[0]


@dataclass
class _Pending:
    method: str


class AcpParser(JsonRpcParser):
    """One agent process's side of the conversation: reads its lines, sends what comes next."""

    def __init__(self, *, cwd: str, prompt: list[dict[str, Any]], resume: str | None = None,
                 fork: bool = False, noise: tuple[str, ...] = (), replay_end: str | None = None,
                 fs: bool = False, failures: tuple[str, ...] = ()) -> None:
        self.cwd = cwd
        self.fs = fs
        self.failures = failures
        self._failure: str | None = None  # what the CLI said failed this turn
        self.prompt = prompt
        self.resume = None if fork else resume
        self.forked = fork and resume is not None
        self.noise = noise
        self.replay_end = replay_end
        self.session_id: str | None = None
        self.version: str | None = None
        self.agent_name: str | None = None  # as the agent calls itself (agentInfo)
        self._ids = itertools.count(1)
        self._pending: dict[Any, _Pending] = {0: _Pending("initialize")}  # sent with the launch
        # A loaded session replays its history (already in the run's events) around the answer to
        # `session/load`; the prompt waits for the update that follows the replay, when there is one.
        self._loading = False
        self._loaded = False
        self._response = 0  # the model responses of this process, to tell turns apart
        self._in_response = False
        self._message = ""
        self._thought = ""
        self._calls: dict[str, str] = {}  # tool call id -> tool name
        self._open_calls: list[str] = []  # calls without a result yet
        self._announced: dict[str, dict[str, Any]] = {}  # calls told before their arguments
        self._usage = [0, 0]  # tokens in and out of the model responses this turn, when updates tell them

    def initialize(self) -> bytes:
        return _line({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "clientCapabilities": {"fs": {"readTextFile": self.fs, "writeTextFile": self.fs}, "terminal": False},
            "clientInfo": {"name": "corral", "version": "0.1.0"}}})

    def _request(self, method: str, params: dict[str, Any]) -> bytes:
        rpc_id = next(self._ids)
        self._pending[rpc_id] = _Pending(method)
        return _line({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params})

    # -- lines ------------------------------------------------------------------------------

    def waiting_for(self) -> str | None:
        opening = [p.method for p in self._pending.values() if p.method in ("initialize", "session/new",
                                                                             "session/load")]
        return opening[0] if opening else "session/load" if self._loading and not self._loaded else None

    def on_response(self, obj: dict[str, Any]) -> Parsed:
        rpc_id = obj["id"]
        pending = self._pending.pop(rpc_id, None) if isinstance(rpc_id, (int, str)) else None
        if pending is None:  # an answer to nothing corral asked: kept, not acted on
            return Parsed([(EventType.AGENT_OUTPUT, {"data": obj})])
        error = obj.get("error")
        if error is not None:
            return self._failed(pending.method, error if isinstance(error, dict) else {"message": str(error)})
        result = obj.get("result") or {}
        if not isinstance(result, dict):
            return self._failed(pending.method, {"message": f"the answer is {json.dumps(result)[:200]}, not an "
                                                            "object: is this a version that speaks ACP?"})
        if pending.method == "initialize":
            info = result.get("agentInfo") or {}
            self.version = info.get("version")
            self.agent_name = info.get("title") or info.get("name")
            can_load = bool((result.get("agentCapabilities") or {}).get("loadSession"))
            events: list[tuple[str, dict[str, Any]]] = []
            if self.resume and can_load:
                self._loading = True
                return Parsed(replies=[self._request("session/load", {
                    "sessionId": self.resume, "cwd": self.cwd, "mcpServers": []})])
            if self.resume:
                events.append((EventType.RUN_WARNING, {
                    "message": "the agent cannot go on in a session: this message starts a new one"}))
            elif self.forked:  # its session is in the parent run's home, and ACP has no stable fork
                events.append((EventType.RUN_WARNING, {
                    "message": "the agent cannot copy a session: the fork starts a new one, without its history"}))
            return Parsed(events, replies=[self._request("session/new", {"cwd": self.cwd, "mcpServers": []})])
        if pending.method in ("session/new", "session/load"):
            self.session_id = result.get("sessionId") or self.resume
            models = result.get("models") or {}
            modes = result.get("modes") or {}
            options = {o.get("id"): o.get("currentValue") for o in result.get("configOptions") or []
                       if isinstance(o, dict)}  # OpenCode says its model and mode only here
            init = (EventType.SESSION_INIT, {
                "session_id": self.session_id, "model": models.get("currentModelId") or options.get("model"),
                "cwd": self.cwd, "permission_mode": modes.get("currentModeId") or options.get("mode"),
                "version": self.version, "agent": self.agent_name})
            if self._loading and self.replay_end is not None:
                self._loaded = True
                return Parsed([init])
            self._loading = False
            return Parsed([init], replies=[self._prompt()])
        if pending.method == "session/prompt":
            return self._ended(result)
        return Parsed()

    def _prompt(self) -> bytes:
        return self._request("session/prompt", {"sessionId": self.session_id, "prompt": self.prompt})

    def _failed(self, method: str, error: dict[str, Any]) -> Parsed:
        message, status, name = api_error(str(error.get("message") or "the agent reported an error"))
        data = error.get("data")
        if isinstance(data, dict) and data.get("details"):
            message = f"{message}: {data['details']}"
        code = status or error.get("code")
        events = [*self._flush(), (EventType.AGENT_ERROR, {"message": message, "status": code, "kind": method})]
        # a model endpoint's HTTP error (the agent passes its status on as the error's code) says so
        reason = endpoint_failure(message, code, name) if isinstance(code, int) and 400 <= code < 600 else None
        if reason and code in (401, 403):
            reason += " (the endpoint refused the API key)"
        events.append(self._result(is_error=True, reason=reason or f"{method} failed: {message}"))
        return Parsed(events, turn_ended=True)

    def _ended(self, result: dict[str, Any]) -> Parsed:
        events = self._flush()
        events += self._unanswered()
        stop = result.get("stopReason") or "end_turn"
        reasons = {"max_tokens": "stopped at the model's limit of output tokens",
                   "max_turn_requests": "stopped after reaching the maximum of turns",
                   "refusal": "the agent refused to go on", "cancelled": "the turn was cancelled"}
        # Gemini counts in `_meta.quota`, OpenCode in `usage`, Qwen in each response's update.
        usage = ((result.get("_meta") or {}).get("quota") or {}).get("token_count") or result.get("usage") or {}
        tokens_in = int(usage.get("input_tokens") or usage.get("inputTokens") or self._usage[0])
        tokens_out = int(usage.get("output_tokens") or usage.get("outputTokens") or self._usage[1])
        self._usage = [0, 0]
        failure, self._failure = self._failure, None
        events.append(self._result(is_error=stop != "end_turn" or failure is not None,
                                   reason=failure or reasons.get(stop, stop),
                                   stop_reason=stop, tokens_in=tokens_in, tokens_out=tokens_out))
        return Parsed(events, turn_ended=True)

    def _result(self, *, is_error: bool, reason: str, stop_reason: str | None = None, tokens_in: int = 0,
                tokens_out: int = 0) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"subtype": stop_reason or "error", "is_error": is_error, "result": None,
                                   "session_id": self.session_id, "tokens_in": tokens_in,
                                   "tokens_out": tokens_out, "cost_usd": 0.0, "num_turns": self._response}
        if is_error:
            payload["reason"] = reason
        return EventType.RUN_RESULT, payload

    # -- what the agent asks --------------------------------------------------------------

    def on_request(self, rpc_id: Any, method: str, params: dict[str, Any]) -> Parsed:
        if method == "session/request_permission":
            return self._on_permission(rpc_id, params)
        if method in ("fs/read_text_file", "fs/write_text_file"):
            if self._inside(params.get("path")) is None:  # refused, and the run's log says so
                return Parsed([(EventType.RUN_WARNING, {
                    "message": f"refused the agent's {method} of {params.get('path')!r}: outside the run's worktree",
                    "kind": "fs_refused", "method": method, "path": params.get("path")})],
                    replies=[_error(rpc_id, INVALID_PARAMS,
                                    f"{params.get('path')!r} is outside the run's working directory")])
            serve = self._read if method == "fs/read_text_file" else self._write
            return Parsed(replies=[serve(rpc_id, params)])
        return Parsed([(EventType.AGENT_OUTPUT, {"data": {"method": method, "params": params}})],
                      replies=[_error(rpc_id, METHOD_NOT_FOUND, f"corral does not serve {method}")])

    def _on_permission(self, rpc_id: Any, params: dict[str, Any]) -> Parsed:
        call = params.get("toolCall") or {}
        call_id = str(call.get("toolCallId") or uuid.uuid4().hex)
        call = {**self._told(call_id, call), "toolCallId": call_id}
        events: list[tuple[str, dict[str, Any]]] = []
        message_id = None
        if call_id not in self._calls:  # else its `tool_call` came first, and began the response
            events, message_id = self._begin_response()
            events += self._flush()
            events.append(self._call(call))
        events.append((EventType.AGENT_NEEDS_ATTENTION, {
            "kind": "permission",
            "request_id": request_key(rpc_id, call_id),
            "tool": self._calls.get(call_id) or _tool_name(call),
            "input": _tool_input(call),
            "tool_use_id": call_id,
            "reason": call.get("title"),
            "suggestions": [o for o in params.get("options") or [] if isinstance(o, dict)],
        }))
        return Parsed(events, message_id=message_id)

    def _inside(self, path: Any) -> Path | None:
        """The path when it is inside the run's working directory (links followed), else None."""
        if not isinstance(path, str) or not path or not self.cwd:
            return None
        root = Path(os.path.realpath(self.cwd))
        target = Path(os.path.realpath(os.path.join(root, path)))
        return target if target == root or root in target.parents else None

    def _read(self, rpc_id: Any, params: dict[str, Any]) -> bytes:
        target = self._inside(params.get("path"))
        if target is None:
            return _error(rpc_id, INVALID_PARAMS, f"{params.get('path')!r} is outside the run's working directory")
        try:
            text = target.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return _error(rpc_id, RESOURCE_NOT_FOUND, f"{params.get('path')} does not exist")
        except OSError as error:
            return _error(rpc_id, INVALID_PARAMS, f"{params.get('path')}: {error.strerror}")
        line, limit = params.get("line"), params.get("limit")
        if line is not None or limit is not None:
            lines = text.splitlines(keepends=True)
            start = max(0, int(line or 1) - 1)
            text = "".join(lines[start:start + int(limit)] if limit is not None else lines[start:])
        return _line({"jsonrpc": "2.0", "id": rpc_id, "result": {"content": text}})

    def _write(self, rpc_id: Any, params: dict[str, Any]) -> bytes:
        target = self._inside(params.get("path"))
        if target is None:
            return _error(rpc_id, INVALID_PARAMS, f"{params.get('path')!r} is outside the run's working directory")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(params.get("content") or ""), encoding="utf-8")
        except OSError as error:
            return _error(rpc_id, INVALID_PARAMS, f"{params.get('path')}: {error.strerror}")
        return _line({"jsonrpc": "2.0", "id": rpc_id, "result": None})

    # -- what the agent tells -------------------------------------------------------------

    def on_notification(self, method: str, params: dict[str, Any]) -> Parsed:
        if method != "session/update":
            return Parsed([(EventType.AGENT_OUTPUT, {"data": {"method": method, "params": params}})])
        update = params.get("update") or {}
        kind = update.get("sessionUpdate")
        usage = (update.get("_meta") or {}).get("usage")
        if isinstance(usage, dict) and not self._loading:
            self._usage[0] += int(usage.get("inputTokens") or 0)
            self._usage[1] += int(usage.get("outputTokens") or 0)
        if self._loading:
            if self._loaded and kind == self.replay_end:
                self._loading = False
                return Parsed(replies=[self._prompt()])
            return Parsed()
        if kind == "agent_message_chunk":
            text = _text(update.get("content"))
            if not text or any(text.startswith(n) for n in self.noise):
                return Parsed()
            if any(text.startswith(f) for f in self.failures):
                self._failure = text.strip()
                return Parsed([*self._flush(), (EventType.AGENT_ERROR, {"message": self._failure, "kind": "agent"})])
            events, message_id = self._begin_response()
            if self._thought:
                events += self._flush()
            self._message += text
            events.append((EventType.AGENT_TOKEN, {"text": text}))
            return Parsed(events, message_id=message_id)
        if kind == "agent_thought_chunk":
            text = _text(update.get("content"))
            events, message_id = self._begin_response()
            if self._message:
                events += self._flush()
            self._thought += text
            return Parsed(events, message_id=message_id)
        if kind == "tool_call":
            events, message_id = self._begin_response()
            events += self._flush()
            call_id = str(update.get("toolCallId") or "")
            if update.get("status") == "pending" and set(update.get("rawInput") or {}) <= {"cwd"}:
                self._announced[call_id] = update  # Qwen and OpenCode: its arguments come in an update
                return Parsed(events, message_id=message_id)
            if call_id not in self._calls:
                events.append(self._call(update))
            if update.get("status") in ("completed", "failed"):
                events.append(self._tool_result(update))
            return Parsed(events, message_id=message_id)
        if kind == "tool_call_update":
            call_id = str(update.get("toolCallId") or "")
            events = []
            if call_id in self._announced:
                told = {k: v for k, v in update.items() if v not in (None, "", [], {})}
                events = [*self._flush(), self._call(self._told(call_id, told))]
            if update.get("status") not in ("completed", "failed"):
                return Parsed(events)
            return Parsed([*events, *self._flush(), self._tool_result(update)])
        if kind == "plan":
            return Parsed([(EventType.AGENT_SYSTEM, {"subtype": "plan", "entries": update.get("entries") or []})])
        return Parsed()  # commands, modes, the user's own message echoed: nothing to show

    def _told(self, call_id: str, told: dict[str, Any]) -> dict[str, Any]:
        """A call with what its announcement said; OpenCode titles the announcement with the tool."""
        announced = self._announced.pop(call_id, None)
        if announced is None:
            return told
        call = {**announced, **told}
        if not (call.get("_meta") or {}).get("toolName") and announced.get("title"):
            call["_meta"] = {**(call.get("_meta") or {}), "toolName": announced["title"]}
        return call

    def _begin_response(self) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """A line of the model's output: the first after tool results starts a new response (a
        turn), and the calls left without a result then were refused by the user."""
        if self._in_response:
            return [], None
        events = self._unanswered()
        self._in_response = True
        self._response += 1
        return events, f"{self.session_id}:{self._response}"

    def _unanswered(self) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = [
            (EventType.AGENT_TOOL_RESULT, {"id": call_id, "name": self._calls.get(call_id), "truncated": False,
                                           "output": "not run: the user refused it", "is_error": True})
            for call_id in self._open_calls]
        self._open_calls.clear()
        return events

    def _call(self, call: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        call_id = str(call.get("toolCallId") or "")
        name = _tool_name(call)
        self._calls[call_id] = name
        self._open_calls.append(call_id)
        self._in_response = False  # what the model says next comes after the call: a new response
        return EventType.AGENT_TOOL_CALL, {"id": call_id, "name": name, "input": _tool_input(call),
                                           "title": call.get("title"), "kind": call.get("kind")}

    def _tool_result(self, update: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        call_id = str(update.get("toolCallId") or "")
        if call_id in self._open_calls:
            self._open_calls.remove(call_id)
        self._in_response = False  # the model answers the results in a new response
        output = _text(update.get("content"))
        raw = update.get("rawOutput")
        if not output and isinstance(raw, dict):  # Copilot says why a call failed only there
            output = next((str(raw[k]) for k in ("message", "content", "output") if raw.get(k)), "")
        return EventType.AGENT_TOOL_RESULT, {
            "id": call_id, "name": self._calls.get(call_id) or _tool_name(update),
            "output": output[:TOOL_OUTPUT_LIMIT], "truncated": len(output) > TOOL_OUTPUT_LIMIT,
            "is_error": update.get("status") == "failed"}

    def _flush(self) -> list[tuple[str, dict[str, Any]]]:
        """The whole message (or thought) streamed so far, once something else begins."""
        events: list[tuple[str, dict[str, Any]]] = []
        if self._thought.strip():
            events.append((EventType.AGENT_THINKING, {"text": self._thought}))
        if self._message.strip():
            events.append((EventType.AGENT_MESSAGE, {"text": self._message}))
        self._thought = self._message = ""
        return events


def _error(rpc_id: Any, code: int, message: str) -> bytes:
    return _line({"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}})


@dataclass
class _Choice:
    kinds: tuple[str, ...]
    fallback: str


_CHOICES = {"once": _Choice(("allow_once",), "allow_once"),
            "always": _Choice(("allow_always", "allow_once"), "allow_always"),
            "deny": _Choice(("reject_once", "reject_always"), "reject_once")}


class AcpAgent(AgentAdapter):
    """An agent CLI that speaks ACP; `cli` names its row in `CLIS`."""

    cli: ClassVar[str]
    supports = Supports(asks=True, always=True, resume=True, tokens=True)  # a fork starts a new session

    def launch(self, agent: Agent, prompt: str, *, resume: str | None = None, fork: bool = False,
               resume_at: str | None = None, tools: list[str] | None = None, json_schema: dict | None = None,
               effort: str | None = None, cwd: str = "", home: str = "") -> Launch:
        table = CLIS[self.cli]
        argv = [self.binary(agent), *table.args(agent)]
        env = table.env(agent, Path(home) if home else None)
        if home:
            for name, content in table.files(agent).items():
                file = Path(home) / name
                file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                file.write_text(json.dumps(content, indent=2) + "\n")
            if resume and not fork and table.before_resume is not None:
                table.before_resume(Path(home), resume)
        blocks = [{"type": "text", "text": prompt}]
        if agent.instructions and not resume:
            blocks.insert(0, {"type": "text", "text": agent.instructions})
        parser = AcpParser(cwd=cwd or os.getcwd(), prompt=blocks, resume=resume, fork=fork, noise=table.noise,
                           replay_end=table.replay_end, fs=table.fs, failures=table.failures)
        return Launch(argv=argv, stdin=parser.initialize(), env=env, parser=parser)

    def parser(self) -> LineParser:
        return AcpParser(cwd=os.getcwd(), prompt=[], noise=CLIS[self.cli].noise)

    def interactive(self, agent: Agent, session_id: str, hooks_file: str) -> list[str]:
        # Its sessions are in the run's private home, which this call is not told, and it takes no hooks.
        raise CorralError(f"a {self.name} run cannot be opened in the agent's own terminal yet",
                          code="ATTACH_UNSUPPORTED")

    def answer(self, approval: Approval, allow: bool, message: str | None, *, always: bool = False) -> bytes:
        choice = _CHOICES["deny" if not allow else "always" if always else "once"]
        avoid = CLIS[self.cli].avoid_options
        offered = {o.get("kind"): o.get("optionId") for o in reversed(approval.suggestions or [])
                   if o.get("optionId") not in avoid}
        option = next((offered[k] for k in choice.kinds if offered.get(k)), choice.fallback)
        return _line({"jsonrpc": "2.0", "id": rpc_id_of(approval.request_id),
                      "result": {"outcome": {"outcome": "selected", "optionId": option}}})


class Gemini(AcpAgent):
    name = "gemini"
    cli = "gemini"
    default_binary = "gemini"
    install_hint = ("install it with `npm install -g @google/gemini-cli`, "
                    "or set the agent profile's `command` to its path")


class Qwen(AcpAgent):
    name = "qwen"
    cli = "qwen"
    default_binary = "qwen"
    install_hint = ("install it with `npm install -g @qwen-code/qwen-code`, "
                    "or set the agent profile's `command` to its path")


class OpenCode(AcpAgent):
    name = "opencode"
    cli = "opencode"
    default_binary = "opencode"
    install_hint = "install it with `npm install -g opencode-ai`, or set the agent profile's `command` to its path"


class Copilot(AcpAgent):
    name = "copilot"
    cli = "copilot"
    default_binary = "copilot"
    install_hint = ("install it with `npm install -g @github/copilot`, then `copilot login` (or give the profile "
                    "a --base-url and --api-key-env for a model provider of your own)")
