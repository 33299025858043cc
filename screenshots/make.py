"""Regenerate the dashboard's screenshots: each tab of a demo home, wide (160x48) and narrow (60x24).

    .venv/bin/python screenshots/make.py

Writes SVG (Textual's own export); PNG beside it when `rsvg-convert` is installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from demo import HOME, ROOT, build, demo_app, demo_home  # noqa: E402
from demo_states import STATES  # noqa: E402

from core.config import Paths  # noqa: E402

SIZES = {"wide": (160, 48), "narrow": (60, 24)}
SHOTS = [("runs", "wide"), ("runs", "narrow"), ("diffs", "wide"), ("diffs", "narrow"), ("branches", "wide"),
         ("branches", "narrow"), ("merge", "wide"), ("merge", "narrow"), ("projects", "wide"), ("projects", "narrow"),
         ("new-run", "narrow"), ("tasks", "wide"), ("tasks", "narrow")]


async def shoot(state: str, size: str, paths: Paths) -> Path:
    await build(paths)
    app = demo_app(paths)
    async with app.run_test(size=SIZES[size]) as pilot:
        await STATES[state](pilot)
        name = f"{state}-{size}.svg"
        app.save_screenshot(filename=name, path=str(HERE))
    return HERE / name


def main() -> None:
    os.environ["HOME"] = str(HOME)  # paths show as ~/src/shop
    paths = Paths(ROOT / "corral-home")
    png = shutil.which("rsvg-convert")
    with demo_home():
        for state, size in SHOTS:
            svg = asyncio.run(shoot(state, size, paths))
            print(svg.relative_to(HERE.parent))
            if png:  # rsvg drops leading spaces unless told to keep them
                keep = svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1)
                subprocess.run([png, "-o", str(svg.with_suffix(".png"))], input=keep.encode(), check=True)
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
