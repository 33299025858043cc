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

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

from model_server import call, error, text, tool, tools

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


class GeminiServer:
    """Serve a script of Gemini answers on 127.0.0.1 from a background thread."""

    def __init__(self, script: Iterable[dict] = (), *, log: Any = None) -> None:
        self.log = log
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.set_script(list(script))

    def set_script(self, script: list[dict]) -> None:
        """Replace the script: step N answers turn N; an error step with `times` is served that
        many times in front of the step after it (a retry then gets that step)."""
        for i, step in enumerate(script):
            if "error" not in step and "text" not in step and "tool_uses" not in step:
                raise ValueError(f"step {i} has neither text, tool_uses nor error: {step!r}")
        with self._lock:
            self.script = script
            self._errors_served: dict[int, int] = {}

    def _pick(self, turn: int) -> tuple[int | None, dict | None]:
        with self._lock:
            answers = -1
            for i, step in enumerate(self.script):
                if "error" in step and "times" in step:
                    if answers + 1 == turn and self._errors_served.get(i, 0) < step["times"]:
                        self._errors_served[i] = self._errors_served.get(i, 0) + 1
                        return i, step
                    continue
                answers += 1
                if answers == turn:
                    return i, step
            return None, None

    def start(self) -> GeminiServer:
        handler = type("Handler", (_Handler,), {"server_of": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"gemini-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> GeminiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)
        if self.log is not None:
            print(f"[gemini_server] {req.method} {req.path} kind={req.kind} status={req.status} step={req.step}",
                  file=self.log, flush=True)


class _Handler(BaseHTTPRequestHandler):
    server_of: GeminiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            super().handle()

    def do_GET(self) -> None:
        self._answer("GET", None)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._answer("POST", body)

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, method: str, body: Any) -> None:
        server = self.server_of
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
        server = self.server_of
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
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            data = f"data: {json.dumps(chunk)}\r\n\r\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _estimate(body: Any) -> int:
    return max(1, len(json.dumps(body)) // 4) if isinstance(body, dict) else 1
