"""Claude Code in its two-way stream-json mode: the prompt and our answers go in as JSON lines on
stdin, and every line it prints (init, partial tokens, messages, tool results, permission
requests, the final result) comes out as one JSON object."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from ..models import Agent, Approval, EventType
from .base import AgentAdapter, Launch, Supports, LineParser, Parsed, json_object, plain_output, provider_env

TOOL_OUTPUT_LIMIT = 20_000
# the kinds most lines become, looked up once (a member of an enum class is a slow attribute)
_TOKEN, _MESSAGE, _THINKING = EventType.AGENT_TOKEN, EventType.AGENT_MESSAGE, EventType.AGENT_THINKING
_TOOL_CALL, _TOOL_RESULT, _SYSTEM = EventType.AGENT_TOOL_CALL, EventType.AGENT_TOOL_RESULT, EventType.AGENT_SYSTEM


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _text_of(content: Any) -> str:
    """Tool results come as a string or as a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return "" if content is None else json.dumps(content)


# The three kinds of line that make most of the output, read into just the fields their handlers
# read: the rest (a tool result's `tool_use_result`, which repeats its output; ids, times, usage)
# is skipped rather than built, and the handlers take those fields as they are, from the struct or
# from a line read whole. A line of another kind, or shaped otherwise than these say (a field of
# another type), is read whole, as any line was before; a system line is named only so that its
# kind is not refused (an exception costs more than such a line takes to read).


class _Delta(msgspec.Struct, gc=False):
    type: Any = None
    text: Any = ""


class _StreamEvent(msgspec.Struct, gc=False):
    type: Any = None
    delta: _Delta | None = None


class _StreamLine(msgspec.Struct, tag="stream_event", tag_field="type", gc=False):
    event: _StreamEvent | None = None
    parent_tool_use_id: Any = None


class _Message(msgspec.Struct, gc=False):
    content: Any = None
    id: Any = None


class _UserLine(msgspec.Struct, tag="user", tag_field="type", gc=False):
    message: _Message | None = None
    parent_tool_use_id: Any = None
    uuid: Any = None


class _AssistantLine(msgspec.Struct, tag="assistant", tag_field="type", gc=False):
    message: _Message | None = None
    parent_tool_use_id: Any = None
    uuid: Any = None
    is_api_error_message: Any = None
    error: Any = None
    api_error_status: Any = None
    api_error_type: Any = None


class _SystemLine(msgspec.Struct, tag="system", tag_field="type", gc=False):
    """Read whole afterwards: its event holds all its fields."""


_COMMON_LINES = msgspec.json.Decoder(_StreamLine | _UserLine | _AssistantLine | _SystemLine)


class ClaudeCodeParser(LineParser):
    def __init__(self) -> None:
        self._tool_names: dict[str, str] = {}

    def parse(self, line: bytes) -> Parsed:
        try:
            common = _COMMON_LINES.decode(line)
        except msgspec.DecodeError:
            common = None
        if common is None or type(common) is _SystemLine:
            return self.parse_whole(line)
        # msgspec refuses invalid UTF-8 in what it reads, not in what it skips: such a line is read whole
        if not line.isascii():
            try:
                line.decode()
            except UnicodeDecodeError:
                return self.parse_whole(line)
        if type(common) is _StreamLine:
            event = common.event
            if event is None or event.type != "content_block_delta" or event.delta is None \
                    or event.delta.type != "text_delta":
                return Parsed()  # the rest of the stream is repeated whole in the `assistant` line
            return _token(event.delta.text, common.parent_tool_use_id)
        message = common.message
        content, message_id = (None, None) if message is None else (message.content, message.id)
        if type(common) is _UserLine:
            return self._user(content, common.parent_tool_use_id, common.uuid)
        assert type(common) is _AssistantLine
        return self._assistant(content, message_id, common.parent_tool_use_id, common.uuid,
                               common.is_api_error_message or common.error, common.api_error_status,
                               common.api_error_type or common.error)

    def parse_whole(self, line: bytes) -> Parsed:
        """A line read whole into a dict: any kind, any shape."""
        obj = json_object(line)
        if obj is None:
            return plain_output(line)
        kind = obj.get("type")
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            return Parsed([(EventType.AGENT_OUTPUT, {"data": obj})])
        return handler(obj)

    def _on_stream_event(self, obj: dict) -> Parsed:
        event = obj.get("event") or {}
        delta = event.get("delta") or {}
        if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
            return _token(delta.get("text", ""), obj.get("parent_tool_use_id"))
        return Parsed()  # the rest of the stream is repeated whole in the `assistant` line

    def _on_system(self, obj: dict) -> Parsed:
        if obj.get("subtype") == "init":
            return Parsed([(EventType.SESSION_INIT, {
                "session_id": obj.get("session_id"),
                "model": obj.get("model"),
                "cwd": obj.get("cwd"),
                "tools": obj.get("tools", []),
                "permission_mode": obj.get("permissionMode"),
                "version": obj.get("claude_code_version"),
                "agent": "Claude Code",
            })])
        if obj.get("subtype") == "api_retry":  # a failed model call, tried again after a delay
            return Parsed([(EventType.AGENT_RETRY, {
                "attempt": obj.get("attempt"),
                "max_retries": obj.get("max_retries"),
                "status": obj.get("error_status"),
                "error": obj.get("error"),
                "delay_ms": obj.get("retry_delay_ms"),
            })])
        return Parsed([(_SYSTEM, {k: v for k, v in obj.items() if k != "type"})])

    def _on_assistant(self, obj: dict) -> Parsed:
        message = obj.get("message") or {}
        return self._assistant(message.get("content"), message.get("id"), obj.get("parent_tool_use_id"),
                               obj.get("uuid"), obj.get("is_api_error_message") or obj.get("error"),
                               obj.get("api_error_status"), obj.get("api_error_type") or obj.get("error"))

    def _assistant(self, content: Any, message_id: Any, parent: Any, uuid: Any, failed: Any, status: Any,
                   error_kind: Any) -> Parsed:
        if failed:
            return Parsed([(EventType.AGENT_ERROR, {"message": _text_of(content), "status": status,
                                                    "kind": error_kind})])
        events: list[tuple[str, dict]] = []
        for block in content or []:
            kind = block.get("type")
            if kind == "text" and block.get("text"):
                events.append((_MESSAGE, {"text": block["text"]}))
            elif kind == "thinking" and block.get("thinking"):
                events.append((_THINKING, {"text": block["thinking"]}))
            elif kind == "tool_use":
                self._tool_names[block.get("id", "")] = block.get("name", "")
                events.append((_TOOL_CALL, {
                    "id": block.get("id"), "name": block.get("name"), "input": block.get("input", {})}))
        if parent:
            for _, payload in events:
                payload["parent_tool_use_id"] = parent
            return Parsed(events)  # a subagent's response: part of the main agent's turn
        return Parsed(events, message_id=message_id, line_id=uuid)

    def _on_user(self, obj: dict) -> Parsed:
        return self._user((obj.get("message") or {}).get("content"), obj.get("parent_tool_use_id"), obj.get("uuid"))

    def _user(self, content: Any, parent: Any, uuid: Any) -> Parsed:
        events: list[tuple[str, dict[str, Any]]] = []
        for block in content if isinstance(content, list) else []:
            if block.get("type") != "tool_result":
                continue
            output = _text_of(block.get("content"))
            tool_id = block.get("tool_use_id", "")
            events.append((_TOOL_RESULT, {
                "id": tool_id,
                "name": self._tool_names.get(tool_id),
                "output": output[:TOOL_OUTPUT_LIMIT],
                "truncated": len(output) > TOOL_OUTPUT_LIMIT,
                "is_error": bool(block.get("is_error")),
            }))
        return Parsed(events, line_id=None if parent else uuid)

    def _on_result(self, obj: dict) -> Parsed:
        usage = obj.get("usage") or {}
        tokens_in = sum(int(usage.get(k) or 0) for k in (
            "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        failed = bool(obj.get("is_error")) or obj.get("subtype") != "success"
        payload = {
            "subtype": obj.get("subtype"),
            "is_error": failed,
            "result": obj.get("result"),
            "session_id": obj.get("session_id"),
            "tokens_in": tokens_in,
            "tokens_out": int(usage.get("output_tokens") or 0),
            "cost_usd": float(obj.get("total_cost_usd") or 0.0),
            "num_turns": obj.get("num_turns"),
            "duration_ms": obj.get("duration_ms"),
        }
        if obj.get("structured_output") is not None:
            payload["structured_output"] = obj["structured_output"]
        if failed:
            payload["reason"] = _failure_reason(obj)
        return Parsed([(EventType.RUN_RESULT, payload)], turn_ended=True)

    def _on_control_request(self, obj: dict) -> Parsed:
        request = obj.get("request") or {}
        if request.get("subtype") != "can_use_tool":
            return Parsed([(EventType.AGENT_OUTPUT, {"data": obj})])
        return Parsed([(EventType.AGENT_NEEDS_ATTENTION, {
            "kind": "permission",
            "request_id": obj.get("request_id"),
            "tool": request.get("tool_name"),
            "input": request.get("input", {}),
            "tool_use_id": request.get("tool_use_id"),
            "reason": request.get("decision_reason") or request.get("blocked_path"),
            "suggestions": request.get("permission_suggestions") or [],
        })])

    def _on_control_cancel_request(self, obj: dict) -> Parsed:
        return Parsed([(EventType.AGENT_REQUEST_CANCELLED, {"request_id": obj.get("request_id")})])

    def _on_control_response(self, obj: dict) -> Parsed:
        return Parsed()  # the acknowledgement of our own requests


def _token(text: Any, parent: Any) -> Parsed:
    """A streamed text delta: a token (of a subagent's, with a parent)."""
    payload = {"text": text}
    if parent:
        payload["parent_tool_use_id"] = parent
    return Parsed([(_TOKEN, payload)])


def _failure_reason(obj: dict) -> str:
    if obj.get("subtype") == "error_max_turns":
        return f"stopped after reaching the maximum of {obj.get('num_turns')} turns"
    errors = obj.get("errors")
    if errors:
        return "; ".join(str(e) for e in errors)
    return str(obj.get("result") or obj.get("subtype") or "the agent reported an error")


class ClaudeCode(AgentAdapter):
    name = "claude-code"
    default_binary = "claude"
    install_hint = ("install Claude Code with `npm install -g @anthropic-ai/claude-code`, "
                    "or set the agent profile's `command` to its path")
    supports = Supports(asks=True, always=True, resume=True, fork=True, rewind=True, tokens=True, cost=True,
                        attach=True, plans=True)

    def launch(self, agent: Agent, prompt: str, *, resume: str | None = None, fork: bool = False,
               resume_at: str | None = None, tools: list[str] | None = None, json_schema: dict | None = None,
               effort: str | None = None, cwd: str = "", home: str = "") -> Launch:
        argv = [
            self.binary(agent), "-p",
            "--output-format", "stream-json", "--input-format", "stream-json", "--verbose",
            "--include-partial-messages", "--permission-prompt-tool", "stdio",
            "--permission-mode", agent.permission_mode,
        ]
        if agent.model:
            argv += ["--model", agent.model]
        if agent.instructions:
            argv += ["--append-system-prompt", agent.instructions]
        if agent.allowed_tools:
            argv += ["--allowedTools", ",".join(agent.allowed_tools)]
        if agent.max_turns:
            argv += ["--max-turns", str(agent.max_turns)]
        if agent.max_budget_usd:
            argv += ["--max-budget-usd", f"{agent.max_budget_usd:g}"]
        if tools is not None:
            argv += ["--tools", ",".join(tools)]
        if json_schema is not None:
            argv += ["--json-schema", json.dumps(json_schema, separators=(",", ":"))]
        if effort:
            argv += ["--effort", effort]
        if resume:
            argv += ["--resume", resume]
            if fork:
                argv.append("--fork-session")
            if resume_at:
                argv += ["--resume-session-at", resume_at]
        message = {"type": "user", "message": {"role": "user", "content": prompt},
                   "parent_tool_use_id": None, "session_id": "" if fork else resume or ""}
        return Launch(argv=argv, stdin=_line(message),
                      env=provider_env(agent, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"))

    def parser(self) -> LineParser:
        return ClaudeCodeParser()

    def interactive(self, agent: Agent, session_id: str, hooks_file: str) -> list[str]:
        argv = [self.binary(agent), "--resume", session_id, "--settings", hooks_file,
                "--permission-mode", agent.permission_mode]
        if agent.model:
            argv += ["--model", agent.model]
        if agent.allowed_tools:
            argv += ["--allowedTools", ",".join(agent.allowed_tools)]
        return argv

    def answer(self, approval: Approval, allow: bool, message: str | None, *, always: bool = False) -> bytes:
        if allow:
            decision: dict[str, Any] = {"behavior": "allow", "updatedInput": approval.input}
            if always and approval.suggestions:
                # Kept in the session: the suggested "localSettings" would write into the user's repo.
                decision["updatedPermissions"] = [{**s, "destination": "session"} for s in approval.suggestions]
        else:
            decision = {"behavior": "deny", "message": message or "The user denied this request."}
        return _line({"type": "control_response", "response": {
            "subtype": "success", "request_id": approval.request_id, "response": decision}})
