"""A scripted stand-in for the Anthropic Messages API.

The real Claude Code CLI is pointed at it with ``ANTHROPIC_BASE_URL`` and then
runs real tools (Write, Edit, Bash...) in a real directory, while every model
answer comes from a script written by the test.

A script is a list of steps for the main conversation.  Which step answers a
request is decided from the request itself: the number of assistant messages
already in ``messages`` (turn N gets the N-th text/tool step).  Retries and
side requests therefore never shift the script.  A request without ``tools``
is taken for a side request (title or summary generation and the like; Claude
Code 2.1.331 was not seen sending any) and gets a short answer without using a
step; ``/v1/messages/count_tokens`` gets a token estimate.

Steps are plain JSON-able dicts, built with the helpers below::

    text("All done.")                    # {"text": "All done."}
    tool("Write", {"file_path": "/abs/a.txt", "content": "hi\\n"})
                                         # {"tool_uses": [{"name": ..., "input": ...}]}
    tools(call("Read", {...}), call("Bash", {...}), text="Let me look.")
    error(400, "invalid_request_error", "messages: bad")
                                         # {"error": {"status": 400, "type": ..., "message": ...}}

Error steps are served in front of the next text/tool step, ``times`` times
(``None``: every time that point of the conversation is reached).  Claude Code
obeys the ``x-should-retry`` header: 4xx errors (sent with ``false`` by
default) end its turn at once; 529 is retried twice (~2 s); other 5xx are
retried with backoff for minutes unless the step says ``retry=False``.

An interrupted answer that had already streamed some content stays in the
conversation as a (truncated) assistant message, so the next request is the
next turn; one interrupted before its first content block does not: give such
a step ``times=1`` and the next step answers the same turn.

Use it as a context manager (``with ModelServer(script) as server:``), or run
it standalone for a demo::

    python tests/model_server.py --script script.json

which prints ``ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`` and serves until
killed.  The script file holds a JSON list of steps (or ``{"steps": [...]}``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import signal
import sys
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from scripted_server import ScriptedHandler, ScriptedServer

__all__ = [
    "ModelServer",
    "RecordedRequest",
    "call",
    "error",
    "load_script",
    "result_text",
    "text",
    "tool",
    "tools",
]

EXHAUSTED_TEXT = "[model_server] script exhausted"
SIDE_TEXT = "Scripted session"


# --------------------------------------------------------------------------
# Step constructors
# --------------------------------------------------------------------------


def _options(step: dict, delay: float, chunk_delay: float, times: int | None) -> dict:
    if delay:
        step["delay"] = delay
    if chunk_delay:
        step["chunk_delay"] = chunk_delay
    if times is not None:
        step["times"] = times
    return step


def text(content: str, *, delay: float = 0.0, chunk_delay: float = 0.0,
         times: int | None = None) -> dict:
    """A plain text answer that ends the turn (stop_reason ``end_turn``).

    ``delay`` holds the response that many seconds before its first byte;
    ``chunk_delay`` sleeps between streamed events (both help interrupt tests).
    ``times=N`` makes the step serve at most N requests without taking a turn
    of its own: use it for an answer Claude Code will throw away (a stream
    that gets interrupted); the next step then answers the same turn.
    """
    return _options({"text": content}, delay, chunk_delay, times)


def call(name: str, input: dict, id: str | None = None) -> dict:
    """One tool_use block, for :func:`tools`."""
    block: dict[str, Any] = {"name": name, "input": input}
    if id is not None:
        block["id"] = id
    return block


def tools(*calls: dict, text: str | None = None, delay: float = 0.0,
          chunk_delay: float = 0.0, times: int | None = None) -> dict:
    """One assistant message with several tool_use blocks (stop_reason ``tool_use``)."""
    if not calls:
        raise ValueError("tools() needs at least one call()")
    step: dict[str, Any] = {"tool_uses": [dict(c) for c in calls]}
    if text:
        step["text"] = text
    return _options(step, delay, chunk_delay, times)


def tool(name: str, input: dict, *, text: str | None = None, id: str | None = None,
         delay: float = 0.0, chunk_delay: float = 0.0, times: int | None = None) -> dict:
    """One assistant message with a single tool_use block, optionally preceded by text."""
    return tools(call(name, input, id), text=text, delay=delay, chunk_delay=chunk_delay,
                 times=times)


def error(status: int, type: str, message: str, *, times: int | None = None,
          retry: bool | None = None) -> dict:
    """An API error: HTTP ``status`` with ``{"type":"error","error":{...}}``.

    ``times=None`` answers every request at this point of the conversation
    with the error; ``times=N`` answers the first N, then falls through to the
    next step (for retry tests).  ``retry`` sets the ``x-should-retry``
    header, which Claude Code obeys; by default it is ``false`` for 4xx other
    than 408/409/429 (as the real API does), and absent otherwise.
    """
    step: dict[str, Any] = {"error": {"status": status, "type": type, "message": message}}
    if times is not None:
        step["times"] = times
    if retry is not None:
        step["error"]["retry"] = retry
    return step


def load_script(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data["steps"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: a script is a JSON list of steps")
    return data


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, raw str, or None
    kind: str  # "main", "side", "count_tokens" or "other"
    step: int | None = None  # index into the script, for "main"
    status: int = 200
    time: float = field(default_factory=time.time)

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict]:
        if isinstance(self.body, dict):
            return self.body.get("messages") or []
        return []

    @property
    def system_text(self) -> str:
        return _system_text(self.body)

    def tool_results(self) -> list[dict]:
        """tool_result blocks of the last user message (what answers the last tool_use)."""
        msgs = self.messages
        if not msgs or msgs[-1].get("role") != "user":
            return []
        content = msgs[-1].get("content")
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _system_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    return ""


def result_text(block: dict) -> str:
    """The text of a tool_result block, whether its content is a string or blocks."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def classify(path: str, body: Any) -> str:
    """Tell the main conversation apart from Claude Code's side requests.

    The main agent loop always sends its tool definitions; the side requests
    (session title, summaries, topic detection, quota probe...) send none.
    """
    route = path.split("?", 1)[0].rstrip("/")
    if route.endswith("/messages/count_tokens"):
        return "count_tokens"
    if not route.endswith("/v1/messages"):
        return "other"
    if not isinstance(body, dict):
        return "side"
    if body.get("tools"):
        return "main"
    return "side"


class ModelServer(ScriptedServer):
    """Serve a script of model answers on 127.0.0.1 from a background thread."""

    name = "model_server"

    def __init__(self, script: Iterable[dict] = (), *, host: str = "127.0.0.1",
                 port: int = 0, log: Any = None) -> None:
        super().__init__(host=host, port=port, log=log)
        self.requests: list[RecordedRequest] = []
        self.set_script(list(script))

    # -- script ------------------------------------------------------------

    def set_script(self, script: list[dict]) -> None:
        """Replace the script (and forget how often limited steps were served).

        The script is cut into turns: turn N answers the main requests that
        already hold N assistant messages.  A turn ends with its first text or
        tool step that has no ``times`` limit.  Steps before it (errors, or
        answers with ``times`` that Claude Code is expected to throw away, as
        an interrupted stream) are each served ``times`` times at that turn,
        then the next one is.
        """
        slots: list[list[int]] = []
        pending: list[int] = []
        for i, step in enumerate(script):
            if not isinstance(step, dict):
                raise TypeError(f"step {i} is not a dict: {step!r}")
            if "error" not in step and "text" not in step and "tool_uses" not in step:
                raise ValueError(f"step {i} has neither text, tool_uses nor error: {step!r}")
            pending.append(i)
            if "error" not in step and step.get("times") is None:
                slots.append(pending)
                pending = []
        if pending:
            slots.append(pending)
        with self._lock:
            self.script = script
            self._slots = slots
            self._served = {}

    def _pick(self, turn: int) -> tuple[int | None, dict | None]:
        """The step answering the main request after ``turn`` assistant messages."""
        with self._lock:
            if turn >= len(self._slots):
                return None, None
            for i in self._slots[turn]:
                step = self.script[i]
                times = step.get("times")
                if times is None or self._served.get(i, 0) < times:
                    self._served[i] = self._served.get(i, 0) + 1
                    return i, step
            return None, None

    # -- inspection --------------------------------------------------------

    @property
    def main_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == "main"]

    @property
    def side_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == "side"]

    def last_main(self) -> RecordedRequest:
        reqs = self.main_requests
        if not reqs:
            raise AssertionError("the model server got no main-conversation request")
        return reqs[-1]

    def tool_results(self) -> list[dict]:
        """Every tool_result block the model was sent, in order, without repeats."""
        seen: set[str] = set()
        out: list[dict] = []
        for req in self.main_requests:
            for msg in req.messages:
                if msg.get("role") != "user" or not isinstance(msg.get("content"), list):
                    continue
                for block in msg["content"]:
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        key = block.get("tool_use_id") or json.dumps(block, sort_keys=True)
                        if key not in seen:
                            seen.add(key)
                            out.append(block)
        return out

    # -- answering ---------------------------------------------------------

    def describe(self, req: RecordedRequest) -> str:
        extra = f" step={req.step}" if req.step is not None else ""
        return f"{req.method} {req.path} kind={req.kind} model={req.model} status={req.status}{extra}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}{uuid.uuid4().hex[:20]}"


def _split(s: str, parts: int = 3) -> list[str]:
    """Cut a string into a few pieces so partial-message streaming is exercised."""
    if len(s) <= 1:
        return [s]
    parts = max(1, min(parts, len(s)))
    size = -(-len(s) // parts)
    return [s[i:i + size] for i in range(0, len(s), size)]


class _Handler(ScriptedHandler):
    server_: ModelServer
    server_version = "corral-model-server/1"

    # -- plumbing ----------------------------------------------------------

    def _read_body(self) -> Any:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        enc = self.headers.get("Content-Encoding", "").lower()
        if enc == "gzip":
            raw = gzip.decompress(raw)
        elif enc == "deflate":
            raw = zlib.decompress(raw)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        super()._send_json(status, payload, {"request-id": self.server_.next_id("req"), **(headers or {})})

    def _event(self, name: str, payload: dict) -> None:
        self._chunk(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())

    # -- routes ------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._answer("HEAD", None)

    def do_GET(self) -> None:
        self._answer("GET", None)

    def do_DELETE(self) -> None:
        self._answer("DELETE", None)

    def do_POST(self) -> None:
        self._answer("POST", self._read_body())

    def do_PUT(self) -> None:
        self._answer("PUT", self._read_body())

    def do_PATCH(self) -> None:
        self._answer("PATCH", self._read_body())

    def _answer(self, method: str, body: Any) -> None:
        server = self.server_
        kind = classify(self.path, body) if method == "POST" else "other"
        req = RecordedRequest(method=method, path=self.path, headers=dict(self.headers),
                              body=body, kind=kind)
        try:
            if kind == "count_tokens":
                req.status = 200
                server._record(req)
                self._send_json(200, {"input_tokens": _estimate_tokens(body)})
            elif kind == "side":
                server._record(req)
                self._reply(body, {"text": SIDE_TEXT})
            elif kind == "main":
                turn = sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant")
                index, step = server._pick(turn)
                req.step = index
                if step is None:
                    step = {"text": EXHAUSTED_TEXT}
                if "error" in step:
                    err = step["error"]
                    req.status = int(err["status"])
                    server._record(req)
                    retry = err.get("retry")
                    if retry is None and 400 <= req.status < 500 \
                            and req.status not in (408, 409, 429):
                        retry = False
                    headers = {} if retry is None else {"x-should-retry": str(retry).lower()}
                    self._send_json(req.status, {
                        "type": "error",
                        "error": {"type": err["type"], "message": err["message"]},
                    }, headers=headers)
                else:
                    server._record(req)
                    self._reply(body, step)
            elif method == "HEAD":
                # connectivity probe (HEAD /api/hello when nonessential traffic is on)
                server._record(req)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                req.status = 404
                server._record(req)
                self._send_json(404, {"type": "error", "error": {
                    "type": "not_found_error",
                    "message": f"model_server does not serve {method} {self.path}"}})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (interrupt, kill): nothing to do

    def _reply(self, body: dict, step: dict) -> None:
        server = self.server_
        delay = float(step.get("delay") or 0)
        if delay and server._closing.wait(delay):
            return
        model = body.get("model") or "claude-scripted"
        content: list[dict] = []
        if step.get("text"):
            content.append({"type": "text", "text": step["text"]})
        for use in step.get("tool_uses") or []:
            content.append({"type": "tool_use", "id": use.get("id") or server.next_id("toolu"),
                            "name": use["name"], "input": use.get("input") or {}})
        stop_reason = step.get("stop_reason") or (
            "tool_use" if step.get("tool_uses") else "end_turn")
        input_tokens = _estimate_tokens(body)
        output_tokens = max(1, sum(len(json.dumps(c)) for c in content) // 4)
        message = {
            "id": server.next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        if not body.get("stream"):
            self._send_json(200, message)
            return

        chunk_delay = float(step.get("chunk_delay") or 0)

        def pause() -> bool:
            return bool(chunk_delay) and server._closing.wait(chunk_delay)

        self._start_stream("text/event-stream; charset=utf-8", {"request-id": server.next_id("req")})
        start = dict(message, content=[], stop_reason=None,
                     usage=dict(message["usage"], output_tokens=1))
        self._event("message_start", {"type": "message_start", "message": start})
        self._event("ping", {"type": "ping"})
        for index, block in enumerate(content):
            if pause():
                return
            if block["type"] == "text":
                self._event("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}})
                for piece in _split(block["text"]):
                    if pause():
                        return
                    self._event("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": piece}})
            else:
                self._event("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": block["id"],
                                      "name": block["name"], "input": {}}})
                for piece in _split(json.dumps(block["input"])):
                    if pause():
                        return
                    self._event("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
        self._event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens}})
        self._event("message_stop", {"type": "message_stop"})
        self._chunk(b"")  # the zero-length chunk ends the body


def _estimate_tokens(body: Any) -> int:
    if not isinstance(body, dict):
        return 1
    return max(1, len(json.dumps(body.get("messages") or [])) // 4
               + len(_system_text(body)) // 4)


# --------------------------------------------------------------------------
# Standalone
# --------------------------------------------------------------------------


ModelServer.handler = _Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", help="JSON file: a list of steps (default: one text step)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: an ephemeral port")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    parser.add_argument("--dump", help="on exit, write every recorded request to this JSON file")
    args = parser.parse_args(argv)
    script = load_script(args.script) if args.script else [text("Hello from the scripted model.")]
    server = ModelServer(script, host=args.host, port=args.port,
                         log=None if args.quiet else sys.stderr)
    server.start()
    print(f"ANTHROPIC_BASE_URL={server.url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as f:
                json.dump([r.__dict__ for r in server.requests], f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
