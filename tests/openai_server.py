"""A scripted stand-in for the OpenAI APIs agent CLIs call: Responses (as the Codex CLI uses it)
and Chat Completions (as OpenAI-compatible clients such as Qwen Code, OpenCode and Aider use it).

Codex is pointed at it through a model provider in its config (``base_url`` =
``server.url + "/v1"``, ``wire_api = "responses"``) and then runs real shell
commands and real patches in a real directory, while every model answer comes
from a script written by the test.

A script is a list of steps.  Which step answers a request is decided from the
request itself: Codex sends the whole conversation as ``input``, and turn N is
the number of model responses already in it (runs of consecutive assistant
items: messages, reasoning, function and custom tool calls), so retries never
shift the script.  Steps are plain dicts, built with the helpers below::

    text("All done.")                          # {"text": "All done."}
    shell("echo hi > a.txt")                   # an `exec_command` function call
    patch("*** Begin Patch\\n*** Add File: a.txt\\n+hi\\n*** End Patch\\n")
                                               # an `apply_patch` custom tool call
    error(400, "bad request")                  # {"error": {"status": 400, "message": ...}}

    call("write_file", {"path": "a.txt"})      # any function call, by the tool's name

A Responses answer is streamed as server-sent events (``response.created``,
``response.output_item.added``, ``response.output_text.delta``,
``response.output_item.done``, ``response.completed`` with usage).  A Chat
Completions request (``POST .../chat/completions``) is answered from the same
script, its turn being the number of assistant messages in ``messages``: as
``chat.completion.chunk`` events ending in ``data: [DONE]`` when it asks to
stream, else as one ``chat.completion``.  Other requests (``GET /v1/models``
and the like) get a 404 and are recorded too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from scripted_server import ScriptedHandler, ScriptedServer

__all__ = ["OpenAIServer", "Request", "call", "error", "patch", "shell", "text"]

EXHAUSTED_TEXT = "[openai_server] script exhausted"
MODEL_ITEMS = {"message", "reasoning", "function_call", "custom_tool_call", "local_shell_call"}
OUTPUT_ITEMS = {"function_call_output", "custom_tool_call_output", "local_shell_call_output"}


def text(content: str) -> dict:
    return {"text": content}


def shell(command: str, *, text: str | None = None, escalate: bool = False, workdir: str | None = None) -> dict:
    """A shell command the way Codex's `exec_command` tool takes it; `escalate` asks to run it
    outside the sandbox, which Codex asks the user about first (approval policy "on-request")."""
    arguments: dict[str, Any] = {"cmd": command, "yield_time_ms": 5000}
    if escalate:
        arguments.update(sandbox_permissions="require_escalated", justification="Run the command?")
    if workdir:
        arguments["workdir"] = workdir
    return {"text": text, "calls": [{"type": "function", "name": "exec_command", "arguments": arguments}]}


def patch(body: str, *, text: str | None = None) -> dict:
    """A file edit: Codex's `apply_patch` freeform tool, given the patch text."""
    return {"text": text, "calls": [{"type": "custom", "name": "apply_patch", "input": body}]}


def call(name: str, arguments: dict[str, Any], *, text: str | None = None) -> dict:
    """A call of the tool `name` with `arguments`, as a function call."""
    return {"text": text, "calls": [{"type": "function", "name": name, "arguments": arguments}]}


def error(status: int, message: str, *, times: int = 1) -> dict:
    return {"error": {"status": status, "message": message}, "times": times}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any
    step: int | None = None

    @property
    def input(self) -> list[dict]:
        items = self.body.get("input") if isinstance(self.body, dict) else None
        return items if isinstance(items, list) else []

    @property
    def messages(self) -> list[dict]:
        """A Chat Completions request's conversation."""
        items = self.body.get("messages") if isinstance(self.body, dict) else None
        return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []

    @property
    def tool_names(self) -> list[str]:
        tools = self.body.get("tools") if isinstance(self.body, dict) else None
        return [t.get("name") or (t.get("function") or {}).get("name") or t.get("type")
                for t in tools or [] if isinstance(t, dict)]

    def tool_outputs(self) -> list[dict]:
        return [item for item in self.input if item.get("type") in OUTPUT_ITEMS]


def turn_of(items: list[dict]) -> int:
    """How many model responses the conversation holds: runs of consecutive model items."""
    turns, inside = 0, False
    for item in items:
        kind = item.get("type") or ("message" if item.get("role") else None)
        is_model = kind in MODEL_ITEMS and (kind != "message" or item.get("role") == "assistant")
        if is_model and not inside:
            turns += 1
        inside = is_model
    return turns


class OpenAIServer(ScriptedServer):
    """Serve a script of model answers on 127.0.0.1 from a background thread."""

    name = "openai_server"

    def __init__(self, script: Iterable[dict] = (), *, host: str = "127.0.0.1", log: Any = None) -> None:
        super().__init__(host=host, log=log)
        self.requests: list[Request] = []
        self.set_script(list(script))

    def set_script(self, script: list[dict]) -> None:
        """Replace the script: its text/call steps answer turns 0, 1, 2...; an error step is served
        `times` times in front of the step after it."""
        with self._lock:
            self.script = script
            self._served = {}

    def _pick(self, turn: int) -> tuple[int | None, dict | None]:
        with self._lock:
            return self._step_for(turn, lambda step: "error" in step)

    @property
    def responses(self) -> list[Request]:
        """The model requests (POST .../responses), in order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path.rstrip("/").endswith("/responses")]

    @property
    def chat_requests(self) -> list[Request]:
        """The Chat Completions requests (POST .../chat/completions), in order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and _is_chat(r.path)]

    def tool_outputs(self) -> list[dict]:
        """Every tool output Codex sent back to the model, in order, without repeats."""
        seen: set[str] = set()
        out: list[dict] = []
        for request in self.responses:
            for item in request.tool_outputs():
                if item.get("call_id") not in seen:
                    seen.add(item.get("call_id"))
                    out.append(item)
        return out



class _Handler(ScriptedHandler):
    server_: OpenAIServer

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _body(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "zstd":
            return {"undecoded": len(raw)}
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return {"raw": raw.decode("utf-8", "replace")}

    def _answer(self, method: str) -> None:
        server = self.server_
        body = self._body() if method == "POST" else None
        request = Request(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        chat = _is_chat(self.path)
        if not (method == "POST" and (chat or self.path.rstrip("/").endswith("/responses"))):
            server._record(request)
            return self._send_json(404, {"error": {"message": f"not served: {method} {self.path}"}})
        turn = sum(m.get("role") == "assistant" for m in request.messages) if chat else turn_of(request.input)
        request.step, step = server._pick(turn)
        server._record(request)
        if step is None:
            step = text(EXHAUSTED_TEXT)
        if "error" in step:
            return self._send_json(step["error"]["status"], {"error": {
                "message": step["error"]["message"], "type": "invalid_request_error", "code": None}})
        if not chat:
            self._stream(body, step)
        elif body.get("stream"):
            self._stream_chat(body, step)
        else:
            self._send_json(200, self._chat_completion(body, step))

    def _chat_parts(self, body: dict, step: dict) -> tuple[list[dict], dict]:
        """A step as Chat Completions tool calls, and the answer's usage."""
        calls = [{"id": self.server_.next_id("call"), "type": "function",
                  "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                 for c in step.get("calls") or []]
        prompt = max(1, len(json.dumps(body.get("messages") or [])) // 4)
        completion = max(1, len(json.dumps([step.get("text"), calls])) // 4)
        return calls, {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _chat_completion(self, body: dict, step: dict) -> dict:
        calls, usage = self._chat_parts(body, step)
        message: dict[str, Any] = {"role": "assistant", "content": step.get("text")}
        if calls:
            message["tool_calls"] = calls
        return {"id": self.server_.next_id("chatcmpl"), "object": "chat.completion", "created": 0,
                "model": body.get("model") or "gpt-scripted", "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}]}

    def _stream_chat(self, body: dict, step: dict) -> None:
        calls, usage = self._chat_parts(body, step)
        head = {"id": self.server_.next_id("chatcmpl"), "object": "chat.completion.chunk", "created": 0,
                "model": body.get("model") or "gpt-scripted"}

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> None:
            payload = dict(head, choices=[{"index": 0, "delta": delta, "finish_reason": finish}], **extra)
            self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

        self._start_stream()
        chunk({"role": "assistant", "content": ""})
        for piece in _split(step["text"]) if step.get("text") else []:
            chunk({"content": piece})
        for index, tool_call in enumerate(calls):
            function = tool_call["function"]
            chunk({"tool_calls": [dict(tool_call, index=index, function={"name": function["name"], "arguments": ""})]})
            chunk({"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]})
        chunk({}, "tool_calls" if calls else "stop", usage=usage)
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _event(self, payload: dict) -> None:
        self._chunk(f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode())

    def _stream(self, body: dict, step: dict) -> None:
        server = self.server_
        response_id = server.next_id("resp")
        model = body.get("model") or "gpt-scripted"
        self._start_stream()
        head = {"id": response_id, "object": "response", "model": model, "status": "in_progress", "output": []}
        self._event({"type": "response.created", "response": head})
        output: list[dict] = []
        if step.get("text"):
            item_id = server.next_id("msg")
            item = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []}
            self._event({"type": "response.output_item.added", "output_index": len(output), "item": item})
            for piece in _split(step["text"]):
                self._event({"type": "response.output_text.delta", "item_id": item_id, "output_index": len(output),
                             "content_index": 0, "delta": piece})
            done = dict(item, status="completed",
                        content=[{"type": "output_text", "text": step["text"], "annotations": []}])
            self._event({"type": "response.output_item.done", "output_index": len(output), "item": done})
            output.append(done)
        for call in step.get("calls") or []:
            call_id = server.next_id("call")
            if call["type"] == "custom":
                item = {"type": "custom_tool_call", "id": server.next_id("ctc"), "call_id": call_id,
                        "name": call["name"], "input": call["input"], "status": "completed"}
            else:
                item = {"type": "function_call", "id": server.next_id("fc"), "call_id": call_id,
                        "name": call["name"], "arguments": json.dumps(call["arguments"]), "status": "completed"}
            self._event({"type": "response.output_item.added", "output_index": len(output),
                         "item": dict(item, status="in_progress")})
            self._event({"type": "response.output_item.done", "output_index": len(output), "item": item})
            output.append(item)
        input_tokens = max(1, len(json.dumps(body.get("input") or [])) // 4)
        output_tokens = max(1, len(json.dumps(output)) // 4)
        usage = {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": input_tokens + output_tokens}
        self._event({"type": "response.completed",
                     "response": dict(head, status="completed", output=output, usage=usage)})
        self._chunk(b"")


def _is_chat(path: str) -> bool:
    return path.split("?", 1)[0].rstrip("/").endswith("/chat/completions")


def _split(s: str, parts: int = 3) -> list[str]:
    size = max(1, -(-len(s) // parts))
    return [s[i:i + size] for i in range(0, len(s), size)]

OpenAIServer.handler = _Handler
