"""Debian's chromium, headless, driven through its DevTools protocol over a websocket: open a page,
press keys in it, read what its terminal shows, close it. No browser download, no driver binary."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# The page's terminal (xterm.js) keeps the screen in a buffer, not in the page's DOM: its Terminal
# class is found among the variables the page's resize handler closes over, and its one instance by
# asking DevTools for the objects of that class.
SCREEN = """function () { const t = this, b = t.buffer.active; const rows = [];
  for (let y = 0; y < t.rows; y++) { const line = b.getLine(b.viewportY + y);
    rows.push(line ? line.translateToString(true) : ''); }
  return rows.join('\\n'); }"""

# The module of the page's script that holds xterm.js's Terminal class: its instances are the terminals.
TERMINAL_CLASS = """function () { return this && typeof this.Terminal === 'function'
  && typeof this.Terminal.prototype.write === 'function' ? this.Terminal.prototype : undefined; }"""

# Keys as DevTools dispatches them: (key, code, key code, text).
KEYS = {"enter": ("Enter", "Enter", 13, "\r"), "escape": ("Escape", "Escape", 27, ""),
        "tab": ("Tab", "Tab", 9, "\t"), "down": ("ArrowDown", "ArrowDown", 40, ""),
        "up": ("ArrowUp", "ArrowUp", 38, "")}
CTRL = 2


class Page:
    """One tab, through its own DevTools socket."""

    def __init__(self, browser: Browser, target: dict[str, Any], socket: Any):
        self.browser = browser
        self.id = target["id"]
        self.socket = socket
        self._ids = itertools.count(1)
        self._terminal: str | None = None

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 30))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screen(self) -> str:
        """The text the page's terminal shows, a line per row; empty before it has one."""
        try:
            if self._terminal is None:
                self._terminal = await self._find_terminal()
                if self._terminal is None:
                    return ""
            result = await self.call("Runtime.callFunctionOn", functionDeclaration=SCREEN,
                                     objectId=self._terminal, returnByValue=True)
        except RuntimeError:  # the page is loading: what it held is gone
            self._terminal = None
            return ""
        return result["result"].get("value") or ""

    async def _find_terminal(self) -> str | None:
        handler = await self.call("Runtime.evaluate", expression="window.onresize")
        if handler["result"].get("type") != "function":
            return None
        scopes = await self._internal(handler["result"]["objectId"], "[[Scopes]]")
        for scope in (await self.call("Runtime.getProperties", objectId=scopes, ownProperties=True))["result"]:
            variables = scope.get("value", {}).get("objectId")
            if variables is None:
                continue
            for variable in (await self.call("Runtime.getProperties", objectId=variables))["result"]:
                value = variable.get("value", {}).get("objectId")
                if value is None:
                    continue
                kind = await self.call("Runtime.callFunctionOn", objectId=value, functionDeclaration=TERMINAL_CLASS)
                prototype = kind["result"].get("objectId")
                if prototype is None:
                    continue
                instances = await self.call("Runtime.queryObjects", prototypeObjectId=prototype)
                first = await self.call("Runtime.callFunctionOn", objectId=instances["objects"]["objectId"],
                                        functionDeclaration="function () { return this[0]; }")
                return first["result"].get("objectId")
        return None

    async def _internal(self, object_id: str, name: str) -> str:
        properties = await self.call("Runtime.getProperties", objectId=object_id, ownProperties=True)
        for entry in properties.get("internalProperties", []):
            if entry["name"] == name:
                return entry["value"]["objectId"]
        raise RuntimeError(f"no {name} on the object")

    async def size(self) -> tuple[int, int]:
        """The columns and rows of the page's terminal."""
        await self.screen()  # finds it
        result = await self.call("Runtime.callFunctionOn", objectId=self._terminal, returnByValue=True,
                                 functionDeclaration="function () { return [this.cols, this.rows]; }")
        columns, rows = result["result"]["value"]
        return columns, rows

    async def click(self, text: str) -> None:
        """A click on the middle of `text` where the page's terminal shows it."""
        rows = (await self.screen()).splitlines()
        row = next(y for y, line in enumerate(rows) if text in line)
        column = rows[row].index(text) + len(text) / 2
        box = await self.evaluate("(() => { const r = document.querySelector('.xterm-screen')"
                                  ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
        columns, lines = await self.size()
        x, y = box[0] + column * box[2] / columns, box[1] + (row + 0.5) * box[3] / lines
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def type(self, text: str) -> None:
        for char in text:
            await self.press(char)

    async def press(self, key: str) -> None:
        """A key as the user presses it: `a`, `A`, `enter`, `ctrl+s`..."""
        modifiers = 0
        if key.startswith("ctrl+"):
            modifiers, key = CTRL, key.removeprefix("ctrl+")
        if key in KEYS:
            name, code, number, text = KEYS[key]
        else:
            name, text = key, key
            code = f"Key{key.upper()}" if key.isalpha() else ""
            number = ord(key.upper()) if key.isalnum() else ord(key)
        if modifiers:
            text = ""
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")  # as a click on it would
        down = {"key": name, "code": code, "windowsVirtualKeyCode": number, "modifiers": modifiers}
        await self.call("Input.dispatchKeyEvent", type="keyDown" if text else "rawKeyDown", text=text, **down)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **down)

    async def until(self, check: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        """The screen once `check` holds for it; fails with the screen after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = await self.screen()
            if check(screen):
                return screen
            await asyncio.sleep(0.1)
        raise AssertionError(f"waited {timeout:g} s for {what}; the page shows:\n{screen}")

    async def close(self) -> None:
        httpx.get(f"{self.browser.endpoint}/json/close/{self.id}")
        with contextlib.suppress(Exception):
            await self.socket.close()


class Browser:
    """A headless chromium of its own (its own profile folder), killed at the end."""

    def __init__(self, folder: Path, size: tuple[int, int] = (1100, 700)):
        self.folder = folder
        self.size = size
        self.process: subprocess.Popen | None = None
        self.profile: Path | None = None
        self.endpoint = ""

    def start(self) -> None:
        # Its own short folder: chromium's singleton socket path must fit a unix socket's 108 bytes.
        self.profile = profile = Path(tempfile.mkdtemp(dir="/tmp", prefix="chromium-"))
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "chromium.log").open("wb"),
            env={**os.environ, "TMPDIR": str(profile)})
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            assert self.process.poll() is None, "chromium exited: " + (self.folder / "chromium.log").read_text()
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        self.endpoint = f"http://127.0.0.1:{port_file.read_text().split()[0]}"

    @contextlib.asynccontextmanager
    async def page(self, url: str) -> AsyncIterator[Page]:
        """A new tab on `url`, closed at the end of the block if it is still open."""
        target = httpx.put(f"{self.endpoint}/json/new?{url}").json()
        socket = await websockets.connect(target["webSocketDebuggerUrl"], max_size=None)
        page = Page(self, target, socket)
        try:
            yield page
        finally:
            await page.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
