"""Where the real Claude Code CLI is, and how to run it against a scripted model.

The CLI is a test dependency pinned in ``tests/package.json``; install it with
``npm install --prefix tests --no-save`` from the repository root.  It is pointed at
:mod:`tests.model_server` and given its own config dir and HOME, so nothing
reaches the network, nothing leaks into ``~/.claude``, and tests can run in
parallel.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pytest

TESTS_DIR = Path(__file__).resolve().parent
NODE_MODULES = TESTS_DIR / "node_modules"
CLAUDE_VERSION = "2.1.331"
INSTALL_HINT = "run `npm install --prefix tests --no-save` from the repository root"

DUMMY_API_KEY = "sk-ant-api03-corral-tests-dummy-key"

# Everything that would make Claude Code talk to anything but ANTHROPIC_BASE_URL,
# or behave differently from one machine to the next.
QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # autoupdate, telemetry, error reports, feature flags
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
    "DISABLE_COST_WARNINGS": "1",
    "NO_COLOR": "1",
}

# Inherited variables that would change where Claude Code authenticates, what it
# thinks its environment is, or where it sends data.
_STRIP_PREFIXES = ("ANTHROPIC_", "CLAUDE", "OTEL_", "AWS_BEARER_TOKEN_BEDROCK", "VERTEX_")
_STRIP_NAMES = {
    "IS_SANDBOX",  # lets root use --dangerously-skip-permissions; keep runs alike everywhere
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "NO_PROXY", "no_proxy",
    "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
}


def _platform_package() -> str | None:
    """The npm package holding the native binary for this machine."""
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    system = platform.system().lower()
    if arch is None or system not in ("linux", "darwin"):
        return None
    musl = system == "linux" and platform.libc_ver()[0] != "glibc"
    return f"@anthropic-ai/claude-code-{system}-{arch}{'-musl' if musl else ''}"


def _is_native(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def find_claude() -> Path | None:
    """The native Claude Code binary, or None when the test dependency is missing.

    ``node_modules/.bin/claude`` is the native binary once the package's
    postinstall has copied it in place; if postinstall was skipped it is a
    shell placeholder, and the binary of the platform package is used directly.
    """
    candidates = [NODE_MODULES / ".bin" / "claude"]
    pkg = _platform_package()
    if pkg:
        candidates.append(NODE_MODULES / pkg / "claude")
    for path in candidates:
        if path.exists() and os.access(path, os.X_OK) and _is_native(path):
            return path
    return None


def claude_binary() -> Path:
    """The pinned Claude Code binary; fails the test with the install command when
    it is missing or is another version."""
    path = find_claude()
    if path is None:
        pytest.fail(f"Claude Code {CLAUDE_VERSION} is not installed under {NODE_MODULES}: "
                    f"{INSTALL_HINT}", pytrace=False)
    version = claude_version(path)
    if not version.startswith(CLAUDE_VERSION + " "):
        pytest.fail(f"{path} is Claude Code {version!r}, the tests pin {CLAUDE_VERSION}: "
                    f"{INSTALL_HINT}", pytrace=False)
    return path


@functools.lru_cache(maxsize=None)
def claude_version(binary: Path) -> str:
    """What ``claude --version`` prints, e.g. ``2.1.331 (Claude Code)``."""
    with tempfile.TemporaryDirectory(prefix="claude-version-") as home:
        try:
            out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                                 timeout=60, stdin=subprocess.DEVNULL,
                                 env=claude_env("http://127.0.0.1:9", home))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unusable ({exc})"
    return out.stdout.strip() or f"unusable (exit {out.returncode}: {out.stderr.strip()[:200]})"


def claude_env(base_url: str, home: os.PathLike | str, *,
               base: Mapping[str, str] | None = None,
               extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for running Claude Code against the model server at ``base_url``.

    ``home`` is a per-test directory: it becomes HOME, ``home/.claude`` the
    config dir (CLAUDE_CONFIG_DIR), where settings, sessions and transcripts
    stay, and ``home/tmp`` (created here) TMPDIR.  ``base`` defaults to
    ``os.environ``; every inherited Anthropic/Claude variable is removed from
    it.  ``extra`` is applied last.
    """
    home = Path(home)
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith(_STRIP_PREFIXES) and k not in _STRIP_NAMES}
    env.update(QUIET_ENV)
    tmp = home / "tmp"  # Claude Code's scratch files and its messaging socket
    tmp.mkdir(parents=True, exist_ok=True)
    env.update({
        "ANTHROPIC_BASE_URL": base_url.rstrip("/"),
        "ANTHROPIC_API_KEY": DUMMY_API_KEY,
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TMPDIR": str(tmp),
        "CLAUDE_CODE_TMPDIR": str(tmp),
    })
    if extra:
        env.update(extra)
    return env


def prepare_home(home: os.PathLike | str, trusted: Iterable[os.PathLike | str] = ()) -> Path:
    """Create ``home`` and its config dir, as a user who finished onboarding; return ``home``.

    Without this, the interactive terminal UI starts with onboarding, which
    checks connectivity to api.anthropic.com and stops there.  ``trusted``
    directories skip the "do you trust this folder" dialog.  Print mode
    (``-p``) needs none of it, and gets it harmlessly.
    """
    home = Path(home)
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    state_file = config / ".claude.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state = {}
    state.setdefault("hasCompletedOnboarding", True)
    state.setdefault("lastOnboardingVersion", CLAUDE_VERSION)
    state.setdefault("theme", "dark")
    state.setdefault("customApiKeyResponses",
                     {"approved": [DUMMY_API_KEY[-20:]], "rejected": []})
    projects = state.setdefault("projects", {})
    for path in trusted:
        entry = projects.setdefault(str(Path(path).resolve()), {})
        entry["hasTrustDialogAccepted"] = True
    state_file.write_text(json.dumps(state, indent=2))
    return home


def init_git_repo(path: os.PathLike | str) -> Path:
    """A git repository with one commit, as Claude Code would find a user's project."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    git = shutil.which("git") or "git"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=corral tests", "-c", "user.email=tests@corral.invalid",
             "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    subprocess.run([git, *ident, "init", "-q", str(path)], check=True, env=env)
    (path / "README.md").write_text("scratch repository\n")
    subprocess.run([git, *ident, "-C", str(path), "add", "README.md"], check=True, env=env)
    subprocess.run([git, *ident, "-C", str(path), "commit", "-q", "-m", "init"],
                   check=True, env=env)
    return path


def stream_json_args(*, model: str | None = None, max_turns: int | None = None,
                     allowed_tools: list[str] | None = None,
                     permission_mode: str = "acceptEdits",
                     partial: bool = True) -> list[str]:
    """The flags for the two-way stream-json mode corral drives Claude Code in."""
    args = ["-p", "--output-format", "stream-json", "--input-format", "stream-json",
            "--verbose", "--permission-prompt-tool", "stdio",
            "--permission-mode", permission_mode]
    if partial:
        args.append("--include-partial-messages")
    if model:
        args += ["--model", model]
    if max_turns is not None:
        args += ["--max-turns", str(max_turns)]
    if allowed_tools:
        args += ["--allowedTools", ",".join(allowed_tools)]
    return args


# --------------------------------------------------------------------------
# A small synchronous driver, for tests and for recording fixtures
# --------------------------------------------------------------------------


def user_message(content: str | list) -> dict:
    """The stdin line that sends a prompt in stream-json input mode."""
    return {"type": "user", "message": {"role": "user", "content": content}}


def allow(request: dict) -> dict:
    """Answer a can_use_tool request: allow, with the input unchanged."""
    return {"behavior": "allow", "updatedInput": request["request"]["input"]}


def deny(message: str = "The user denied this tool use.") -> Callable[[dict], dict]:
    """A can_use_tool answer that denies with ``message``."""
    return lambda request: {"behavior": "deny", "message": message}


def control_response(request_id: str, response: dict) -> dict:
    return {"type": "control_response",
            "response": {"subtype": "success", "request_id": request_id, "response": response}}


@dataclass
class ClaudeRun:
    """What one Claude Code process printed, in order."""

    lines: list[dict]
    raw: list[str]
    sent: list[dict]
    returncode: int | None
    stderr: str
    duration: float
    timed_out: bool = False

    def of_type(self, type: str, subtype: str | None = None) -> list[dict]:
        return [m for m in self.lines if m.get("type") == type
                and (subtype is None or m.get("subtype") == subtype)]

    @property
    def results(self) -> list[dict]:
        return self.of_type("result")

    @property
    def result(self) -> dict | None:
        results = self.results
        return results[-1] if results else None

    @property
    def control_requests(self) -> list[dict]:
        return self.of_type("control_request")

    def describe(self) -> str:
        """A readable summary for assertion messages."""
        kinds = [m.get("type") + (f"/{m['subtype']}" if m.get("subtype") else "")
                 for m in self.lines if m.get("type") != "stream_event"]
        return (f"returncode={self.returncode} timed_out={self.timed_out} "
                f"duration={self.duration:.2f}s lines={kinds}\nstderr:\n{self.stderr[-3000:]}")


def run_claude(base_url: str, cwd: os.PathLike | str, home: os.PathLike | str,
               prompts: str | list[str], *,
               args: list[str] | None = None,
               can_use_tool: Callable[[dict], dict | None] | None = allow,
               on_line: Callable[[dict, Callable[[dict], None]], None] | None = None,
               timeout: float = 60.0,
               env_extra: Mapping[str, str] | None = None) -> ClaudeRun:
    """Run Claude Code in stream-json mode until it exits, answering permission requests.

    ``prompts`` are sent one at a time: the first at start, each next one after
    a ``result`` line; stdin is closed after the last result, which makes
    Claude Code exit.  ``can_use_tool`` maps each can_use_tool control_request
    to the ``response`` payload (``None``: leave it unanswered).  ``on_line``
    sees every parsed stdout line with a ``send`` function (to interrupt, say).
    The process is killed after ``timeout`` seconds.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = list(prompts)
    home = prepare_home(home)
    cmd = [str(claude_binary()), *(args if args is not None else stream_json_args())]
    env = claude_env(base_url, home, extra=env_extra)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=str(cwd), env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", bufsize=1)
    sent: list[dict] = []
    lines: list[dict] = []
    raw: list[str] = []
    stderr_chunks: list[str] = []
    timed_out = threading.Event()
    write_lock = threading.Lock()

    def send(obj: dict) -> None:
        with write_lock:
            if proc.stdin is None or proc.stdin.closed:
                return
            sent.append(obj)
            try:
                proc.stdin.write(json.dumps(obj) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def close_stdin() -> None:
        with write_lock:
            if proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    stderr_reader = threading.Thread(
        target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    stderr_reader.start()
    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        send(user_message(prompts.pop(0)))
        for line in proc.stdout:
            raw.append(line.rstrip("\n"))
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            lines.append(msg)
            if on_line is not None:
                on_line(msg, send)
            if msg.get("type") == "control_request" and can_use_tool is not None:
                if msg.get("request", {}).get("subtype") == "can_use_tool":
                    answer = can_use_tool(msg)
                    if answer is not None:
                        send(control_response(msg["request_id"], answer))
            elif msg.get("type") == "result":
                if prompts:
                    send(user_message(prompts.pop(0)))
                else:
                    close_stdin()
        returncode = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        kill()
        returncode = proc.wait()
    finally:
        timer.cancel()
        close_stdin()
    stderr_reader.join(timeout=5)
    return ClaudeRun(lines=lines, raw=raw, sent=sent, returncode=returncode,
                     stderr="".join(stderr_chunks), duration=time.monotonic() - start,
                     timed_out=timed_out.is_set())
