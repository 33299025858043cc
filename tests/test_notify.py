"""Desktop notifications when a run needs the user or ends, with the project's switch. There is no
desktop session here, so `notify-send` is a stand-in on PATH that records what it was asked to show."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from helpers import BASH, until_event
from model_server import text, tool

from core.models import RunStatus


@pytest.fixture
def shown(tmp_path: Path, monkeypatch) -> Path:
    """Where the stand-in notify-send writes each notification, one line per call."""
    bin_dir, record = tmp_path / "bin", tmp_path / "notifications.txt"
    bin_dir.mkdir()
    program = bin_dir / "notify-send"
    program.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {record}\necho >> {record}\n')
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def lines(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


async def until_lines(record: Path, count: int) -> list[str]:
    for _ in range(200):
        if len(lines(record)) >= count:
            return lines(record)
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} notifications, got {lines(record)}")


async def test_the_user_is_told_when_a_run_needs_them_and_when_it_ends(engine, model, repo, shown):
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute the answer")
    await until_event(engine, run.id, "agent.needs_attention")
    [asked] = await until_lines(shown, 1)
    assert f"corral: run {run.short_id} needs you" in asked and "--urgency=critical" in asked
    assert "print(6 * 7)" in asked
    await engine.approve(run.id)
    assert (await engine.wait(run.id)).status == RunStatus.COMPLETED
    ended = (await until_lines(shown, 2))[1]
    assert f"corral: run {run.short_id} completed" in ended and "compute the answer" in ended


async def test_the_projects_switch_turns_them_off_unless_the_run_asks(engine, model, repo, shown):
    model.set_script([text("Done.")])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, notify=False)
    quiet = await engine.wait((await engine.start_run(project.id, "quiet")).id)
    await engine.notifier.drain()
    assert quiet.status == RunStatus.COMPLETED and lines(shown) == []

    model.set_script([text("Done.", delay=0.5)])
    loud = await engine.start_run(project.id, "loud")
    await engine.set_notify(loud.id, True)
    await engine.wait(loud.id)
    assert f"run {loud.short_id} completed" in (await until_lines(shown, 1))[0]
