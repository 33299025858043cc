"""What the scripted model servers share: serving on 127.0.0.1 from a background thread, and
recording every request they are sent. Each server (model_server.py for the Anthropic Messages
API, openai_server.py, gemini_server.py) adds its script and its answers: its handler is a
ScriptedHandler, which reaches the server as `self.server_`."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any, ClassVar


class ScriptedHandler(BaseHTTPRequestHandler):
    server_: Any  # the ScriptedServer, set on the subclass its start() makes
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the server's _record logs each request

    def handle(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            super().handle()  # the client went away (interrupted, killed): nothing to do

    def _send_json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str = "text/event-stream", headers: dict | None = None) -> None:
        """The head of a streamed answer, sent as chunks (`_chunk`) until `_chunk(b"")`."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        """One chunk of a streamed answer; the empty one ends it."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class ScriptedServer:
    """A server on 127.0.0.1 (`port` 0: a free one) in a daemon thread, and its requests."""

    name: ClassVar[str] = "scripted-server"  # in the thread's name and the log's lines
    handler: ClassVar[type[ScriptedHandler]]

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, log: Any = None) -> None:
        self.host = host
        self.port = port
        self.log = log  # a file to print one line per request to, or None
        self.requests: list[Any] = []
        self.script: list[dict] = []
        self._served: dict[int, int] = {}  # how often each limited step was served
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Any:
        if self._httpd is not None:
            return self
        handler = type("Handler", (self.handler,), {"server_": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._closing.clear()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{self.name}-{self.port}", daemon=True)
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
        self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _step_for(self, turn: int, in_front: Callable[[dict], bool]) -> tuple[int | None, dict | None]:
        """The script's step (and its index) that answers turn `turn`: the steps `in_front` says so of
        (errors) are served their `times` (default 1) in front of the step after them; the others
        answer turns 0, 1, 2... Call it holding the lock; `_served` counts, reset with the script."""
        answers = -1
        for i, step in enumerate(self.script):
            if in_front(step):
                if answers + 1 == turn and self._served.get(i, 0) < step.get("times", 1):
                    self._served[i] = self._served.get(i, 0) + 1
                    return i, step
                continue
            answers += 1
            if answers == turn:
                return i, step
        return None, None

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    def _record(self, request: Any) -> None:
        with self._lock:
            self.requests.append(request)
        if self.log is not None:
            print(f"[{self.name}] {self.describe(request)}", file=self.log, flush=True)

    def describe(self, request: Any) -> str:
        return f"{request.method} {request.path} step={request.step}"
