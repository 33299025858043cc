"""`corral --web`: the dashboard in a browser. A real `corral --web` process, Debian's chromium
driven headless through its DevTools protocol, and the real Claude Code CLI with the scripted model."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets
from browser import Browser
from helpers import BASH, ServedWeb, corral, corral_web, git, running
from model_server import text, tool
from sshd import add_remote

from core.config import Paths
from core.engine import Engine
from core.models import RunStatus


async def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        await asyncio.sleep(0.05)


async def dashboard_of(web: ServedWeb) -> int:
    await eventually(lambda: len(web.dashboards()) == 1, "the page's dashboard process")
    return web.dashboards()[0]


def runs_of(repo: Path) -> list[dict]:
    return json.loads(corral("runs", "--json", cwd=repo).stdout)


async def test_a_run_started_in_the_page_is_answered_completed_and_its_diff_shown(
        agent_env, model, repo, tmp_path, browser: Browser):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    corral("project", "add", ".", cwd=repo)
    with corral_web(tmp_path, cwd=repo) as web:
        async with browser.page(web.login_url) as page:
            screen = await page.until(lambda s: "Pick a run" in s, "the Runs tab")
            for word in ("Projects", "Runs", "Diffs", f"corral · {repo.name}", "n New"):
                assert word in screen, f"{word!r} is not in the page:\n{screen}"
            assert await page.evaluate("location.pathname") == "/"  # the login link is not in the history
            columns, rows = await page.size()  # the terminal fills the 1100x700 window, not 80x24
            assert columns > 100 and rows > 30
            assert "^p palette" in screen.splitlines()[rows - 1]  # the dashboard's footer on its last row

            await page.press("n")
            await page.until(lambda s: "What should the agent do?" in s, "the new-run dialog")
            await page.type("compute the answer")
            await page.press("ctrl+s")
            await page.until(lambda s: "asks to use Bash" in s, "the Bash approval", timeout=120)
            [run] = runs_of(repo)
            assert run["status"] == RunStatus.NEEDS_ATTENTION

            await page.press("a")
            await page.until(lambda s: "The answer is in answer.txt." in s, "the agent's last words", timeout=120)
            await eventually(lambda: runs_of(repo)[0]["status"] == RunStatus.COMPLETED, "the run to complete", 60)

            await page.press("D")
            await page.until(lambda s: "answer.txt" in s and "+ 42" in s, "the run's diff")
            assert git(repo, "show", f"{run['branch']}:answer.txt") == "42\n"
            dashboard = await dashboard_of(web)
        await eventually(lambda: not running(dashboard), "the closed page's dashboard to end")
        assert web.dashboards() == []
    assert "/login/" not in (Path(agent_env["CORRAL_HOME"]) / "logs" / "corral.log").read_text()


async def test_beyond_loopback_only_the_one_time_link_logs_in_and_foreign_pages_are_refused(
        agent_env, repo, tmp_path):
    with corral_web(tmp_path, "--host", "0.0.0.0", cwd=repo) as web:
        code = web.login_url.rsplit("/", 1)[1]
        page = httpx.get(f"{web.url}/")
        assert page.status_code == 401 and "log in with the link" in page.text
        assert httpx.get(f"{web.url}/static/js/textual.js").status_code == 401
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"ws://{web.url.split('://')[1]}/ws")
        assert refused.value.response.status_code == 401
        assert httpx.get(f"{web.url}/login/{code[:-1]}x").status_code == 403  # a guess

        rebound = httpx.get(web.login_url, headers={"Host": f"evil.example:{web.url.rsplit(':', 1)[1]}"})
        assert rebound.status_code == 403 and "DNS rebinding" in rebound.text

        login = httpx.get(web.login_url)
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        session = login.cookies
        assert httpx.get(f"{web.url}/", cookies=session).status_code == 200
        assert httpx.get(web.login_url).status_code == 403  # spent
        assert httpx.get(f"{web.url}/", cookies={"corral_session_1": "made-up"}).status_code == 401

        address = web.url.split("://")[1]
        header = "; ".join(f"{k}={v}" for k, v in session.items())
        with pytest.raises(websockets.InvalidStatus) as foreign:  # a page elsewhere, in a logged-in browser
            await websockets.connect(f"ws://{address}/ws", origin="http://evil.example",
                                     additional_headers={"Cookie": header})
        assert foreign.value.response.status_code == 403

        tries = [httpx.get(f"{web.url}/login/guess-{n}") for n in range(12)]  # 10 a minute, 3 made
        assert tries[0].status_code == 403 and tries[-1].status_code == 429  # logins are rate limited
        assert "too many logins" in tries[-1].text and int(tries[-1].headers["retry-after"]) >= 1
        assert web.output().count(code) == 1  # the link it printed, and nowhere else
    for secret in (*session.values(), "made-up", "guess-"):
        assert secret not in web.output()
        assert secret not in (Path(agent_env["CORRAL_HOME"]) / "logs" / "corral.log").read_text()


async def test_a_tab_clicked_in_the_page_opens_and_a_killed_server_leaves_no_dashboard_behind(
        agent_env, repo, tmp_path, browser: Browser):
    corral("project", "add", ".", cwd=repo)
    with corral_web(tmp_path, cwd=repo) as web:
        async with browser.page(web.login_url) as page:
            await page.until(lambda s: "Pick a run" in s, "the Runs tab")
            await page.click("Projects")  # the mouse where the dashboard has clickable parts
            await page.until(lambda s: "Agent profiles" in s, "the Projects tab")
            dashboard = await dashboard_of(web)
            assert os.getpgid(dashboard) == dashboard  # a process group of its own, ended as one
            os.kill(web.process.pid, signal.SIGKILL)
            web.process.wait(30)
            await eventually(lambda: not running(dashboard), "the dashboard to end with its server")
            deadline = time.monotonic() + 30
            while "-closed" not in await page.evaluate("document.body.className"):
                assert time.monotonic() < deadline, "the page did not say the dashboard ended"
                await asyncio.sleep(0.05)


def test_bad_options_and_a_taken_port_are_one_line_errors(agent_env, repo):
    for args, words in ((["--web", "--remote", "nosuch"], "no remote 'nosuch'"),
                        (["--web", "--serve"], "--web serves the dashboard to a browser"),
                        (["--web", "runs"], "take no command")):
        done = corral(*args, check=False, cwd=repo, timeout=60)
        assert done.returncode != 0 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = corral("--web", "--port", str(taken.getsockname()[1]), check=False, cwd=repo, timeout=60)
    assert done.returncode == 1 and "cannot serve on 127.0.0.1" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


async def test_the_page_shows_a_remote_hosts_dashboard_with_remote(sshd, remote_home, repo, agent_env, tmp_path,
                                                                   browser: Browser):
    async with Engine(Paths(remote_home)) as there:  # the remote's project, as its user made it
        await there.add_project(repo)
    add_remote("box", sshd)
    with corral_web(tmp_path, "--remote", "box", cwd=tmp_path) as web:
        async with browser.page(web.login_url) as page:
            await page.until(lambda s: "Pick a run" in s and f"corral @ box · {repo.name}" in s,
                             "the Runs tab of the remote's project")
