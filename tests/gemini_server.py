"""A scripted stand-in for the Gemini API, for the real Gemini CLI.

The CLI is pointed at it with ``GOOGLE_GEMINI_BASE_URL`` (which makes it use its "gateway" auth,
with ``GEMINI_API_KEY`` as the key) and then runs its real tools (write_file, run_shell_command...)
in a real directory, while every model answer comes from a script written by the test.

The main conversation is ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` with the
tool declarations; turn N (the number of ``model`` contents already in the request) gets the
N-th step. Anything else the CLI asks (``generateContent`` without tools, ``countTokens``) is a
side request and gets a short answer without using a step. Steps::

    text("All done.")
    tool("write_file", {"file_path": "a.txt", "content": "hi\\n"})
    tools(call("read_file", {...}), call("run_shell_command", {...}), text="Let me look.")
    error(400, "INVALID_ARGUMENT", "bad request")
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from model_server import call, error, text, tool, tools
from scripted_server import ScriptedHandler, ScriptedServer

__all__ = ["GeminiServer", "RecordedRequest", "call", "error", "text", "tool", "tools"]

EXHAUSTED_TEXT = "[gemini_server] script exhausted"
SIDE_TEXT = "Scripted session"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    kind: str  # "main", "side", "count_tokens" or "other"
    step: int | None = None
    status: int = 200
    time: float = field(default_factory=time.time)

    @property
    def contents(self) -> list[dict]:
        return (self.body or {}).get("contents") or [] if isinstance(self.body, dict) else []

    def function_responses(self) -> list[dict]:
        """The functionResponse parts of the last user content (what answers the last calls)."""
        if not self.contents or self.contents[-1].get("role") != "user":
            return []
        return [p["functionResponse"] for p in self.contents[-1].get("parts") or [] if "functionResponse" in p]


def classify(method: str, path: str, body: Any) -> str:
    route = path.split("?", 1)[0]
    if method != "POST":
        return "other"
    if route.endswith(":countTokens"):
        return "count_tokens"
    if route.endswith(":streamGenerateContent") and isinstance(body, dict) and body.get("tools"):
        return "main"
    if route.endswith(":streamGenerateContent") or route.endswith(":generateContent"):
        return "side"
    return "other"


class GeminiServer(ScriptedServer):
    """Serve a script of Gemini answers on 127.0.0.1 from a background thread."""

    name = "gemini_server"

    def __init__(self, script: Iterable[dict] = (), *, log: Any = None) -> None:
        super().__init__(log=log)
        self.requests: list[RecordedRequest] = []
        self.set_script(list(script))

    def set_script(self, script: list[dict]) -> None:
        """Replace the script: step N answers turn N; an error step with `times` is served that
        many times in front of the step after it (a retry then gets that step)."""
        for i, step in enumerate(script):
            if "error" not in step and "text" not in step and "tool_uses" not in step:
                raise ValueError(f"step {i} has neither text, tool_uses nor error: {step!r}")
        with self._lock:
            self.script = script
            self._served = {}

    def _pick(self, turn: int) -> tuple[int | None, dict | None]:
        with self._lock:  # an error without `times` takes its turn's place; with it, it goes in front
            return self._step_for(turn, lambda step: "error" in step and "times" in step)

    @property
    def main_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == "main"]

    def function_responses(self) -> list[dict]:
        """Every functionResponse the model was sent, in order, without repeats."""
        seen: set[str] = set()
        out: list[dict] = []
        for req in self.main_requests:
            for content in req.contents:
                for part in content.get("parts") or []:
                    response = part.get("functionResponse")
                    key = json.dumps(response, sort_keys=True) if response else ""
                    if response and key not in seen:
                        seen.add(key)
                        out.append(response)
        return out

    def describe(self, req: RecordedRequest) -> str:
        return f"{req.method} {req.path} kind={req.kind} status={req.status} step={req.step}"


class _Handler(ScriptedHandler):
    server_: GeminiServer

    def do_GET(self) -> None:
        self._answer("GET", None)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._answer("POST", body)

    def _answer(self, method: str, body: Any) -> None:
        server = self.server_
        kind = classify(method, self.path, body)
        req = RecordedRequest(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body, kind)
        if kind == "count_tokens":
            server._record(req)
            self._send_json(200, {"totalTokens": _estimate(body)})
        elif kind == "side":
            server._record(req)
            self._reply(body, {"text": SIDE_TEXT}, stream=":streamGenerateContent" in self.path)
        elif kind == "main":
            turn = sum(1 for c in body.get("contents") or [] if c.get("role") == "model")
            req.step, step = server._pick(turn)
            step = step or {"text": EXHAUSTED_TEXT}
            if "error" in step:
                err = step["error"]
                req.status = int(err["status"])
                server._record(req)
                self._send_json(req.status, {"error": {"code": req.status, "message": err["message"],
                                                       "status": err["type"]}})
            else:
                server._record(req)
                self._reply(body, step, stream=True)
        else:
            req.status = 404
            server._record(req)
            self._send_json(404, {"error": {"code": 404, "message": f"not served: {method} {self.path}",
                                            "status": "NOT_FOUND"}})

    def _reply(self, body: dict, step: dict, *, stream: bool) -> None:
        server = self.server_
        if step.get("delay") and server._closing.wait(float(step["delay"])):
            return
        parts: list[dict] = []
        if step.get("text"):
            parts.append({"text": step["text"]})
        for use in step.get("tool_uses") or []:
            parts.append({"functionCall": {"name": use["name"], "args": use.get("input") or {}}})
        prompt_tokens = _estimate(body)
        output_tokens = max(1, len(json.dumps(parts)) // 4)
        usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
                 "totalTokenCount": prompt_tokens + output_tokens}
        final = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                 "usageMetadata": usage, "modelVersion": "gemini-scripted"}
        if not stream:
            self._send_json(200, final)
            return
        chunks: list[dict] = []
        text_parts = [p for p in parts if "text" in p]
        if text_parts and len(text_parts[0]["text"]) > 1:  # stream the text in two pieces
            half = len(text_parts[0]["text"]) // 2
            chunks.append({"candidates": [{"content": {"role": "model", "parts": [
                {"text": text_parts[0]["text"][:half]}]}, "index": 0}], "modelVersion": "gemini-scripted"})
            parts = [{"text": text_parts[0]["text"][half:]}, *[p for p in parts if "text" not in p]]
            final["candidates"][0]["content"]["parts"] = parts
        chunks.append(final)
        self._start_stream()
        for chunk in chunks:
            self._chunk(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        self._chunk(b"")


def _estimate(body: Any) -> int:
    return max(1, len(json.dumps(body)) // 4) if isinstance(body, dict) else 1

GeminiServer.handler = _Handler
