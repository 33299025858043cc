"""The words the program shares are declared once, in core/models.py, and stay plain strings on the way out."""

import ast
import json
import sqlite3
from pathlib import Path

from core.models import END_EVENTS, Event, EventType, RunStatus, TaskStatus

ROOT = Path(__file__).resolve().parent.parent


def test_event_types_are_spelt_only_in_the_models():
    names = {e.value for e in EventType}
    found = []
    for path in [*(ROOT / "core").rglob("*.py"), *(ROOT / "tui").rglob("*.py")]:
        if path == ROOT / "core" / "models.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_statuses_and_event_types_are_stored_and_sent_as_plain_strings():
    event = Event("r1", 1, EventType.RUN_FAILED, {"status": RunStatus.FAILED}, "2026-01-01T00:00:00.000Z")
    assert json.loads(event.to_json())["type"] == "run.failed"
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (v TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (TaskStatus.REVIEW,))
    assert db.execute("SELECT v, typeof(v) FROM t").fetchone() == ("review", "text")


def test_every_ended_status_has_its_event():
    assert set(END_EVENTS) == RunStatus.ENDED
    assert all(event.startswith("run.") for event in END_EVENTS.values())
