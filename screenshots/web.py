"""The dashboard in a browser: `corral --web` on the demo home, opened in headless chromium
(Debian's, through its DevTools protocol, as the tests drive it), saved as screenshots/web.png.

    .venv/bin/python screenshots/web.py
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

from browser import Browser  # noqa: E402
from demo import HOME, NOW, REPO, ROOT, build, demo_home  # noqa: E402
from helpers import CORRAL, corral_web  # noqa: E402

from core.config import Paths  # noqa: E402
from core.models import RunStatus  # noqa: E402
from core.store import Store  # noqa: E402

SIZE = (1280, 720)


async def shoot(folder: Path) -> Path:
    browser = Browser(folder, SIZE)
    browser.start()
    try:
        with corral_web(folder, cwd=REPO) as web:
            async with browser.page(web.login_url) as page:
                await page.until(lambda s: "needs you" in s and "fix the flaky" in s, "the demo's runs")
                for _ in range(2):  # to the run that is done: its transcript below the runs
                    await page.press("j")
                await page.until(lambda s: s.count("fix the flaky date parsing test") == 2 and "completed" in s,
                                 "the transcript of the done run")
                await asyncio.sleep(0.5)  # the terminal's canvas paints on the next frame: a still picture
                shot = await page.call("Page.captureScreenshot", format="png")
        path = HERE / "web.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
    finally:
        browser.stop()


async def as_of_now(paths: Paths) -> None:
    """The dashboard in the browser reads the real clock: the demo's runs still going started as long
    before now as they did before the demo's own moment."""
    store = Store(paths.database)
    await store.open()
    try:
        late = datetime.now(timezone.utc) - NOW
        for run in await store.list_runs(RunStatus.ACTIVE):
            started = datetime.fromisoformat(run.started_at.replace("Z", "+00:00")) + late
            await store.update_run(run.id, started_at=started.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    finally:
        await store.close()


def main() -> None:
    os.environ["HOME"] = str(HOME)  # paths show as ~/src/shop
    paths = Paths(ROOT / "corral-home")
    os.environ["CORRAL_HOME"] = str(paths.home)
    with demo_home(), tempfile.TemporaryDirectory() as folder:
        asyncio.run(build(paths))
        asyncio.run(as_of_now(paths))
        assert Path(CORRAL).exists(), "install corral first: .venv/bin/pip install -e ."
        print(asyncio.run(shoot(Path(folder))).relative_to(HERE.parent))
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
