"""A unified diff read into files, hunks and numbered lines, and paired up for a side-by-side view."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


@dataclass
class DiffLine:
    kind: str  # add | del | ctx | hunk | note
    text: str
    old: int | None = None
    new: int | None = None


@dataclass
class DiffFile:
    path: str
    repo: str | None = None
    old_path: str | None = None
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind == "add")

    @property
    def deleted(self) -> int:
        return sum(1 for line in self.lines if line.kind == "del")


def _unquote(name: str) -> str:
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape").encode(
            "latin-1", "replace").decode("utf-8", "replace")
    return name


def _path_of(header: str) -> str:
    """The new path of a `diff --git a/X b/Y` line (X and Y may be quoted)."""
    rest = header[len("diff --git "):]
    if rest.endswith('"'):
        start = rest.rfind(' "')
        return _unquote(rest[start + 1:])[2:]
    middle = rest.find(" b/")
    return rest[middle + 3:] if middle >= 0 else rest


def parse(text: str) -> list[DiffFile]:
    files: list[DiffFile] = []
    repo: str | None = None
    current: DiffFile | None = None
    old = new = 0
    for raw in text.splitlines():
        if raw.startswith("# repo "):
            repo = raw[len("# repo "):]
            continue
        if raw.startswith("diff --git "):
            current = DiffFile(_path_of(raw), repo)
            files.append(current)
            continue
        if current is None:
            continue
        match = HUNK.match(raw)
        if match:
            old, new = int(match[1]), int(match[2])
            current.lines.append(DiffLine("hunk", raw))
        elif raw.startswith("+") and not raw.startswith("+++ "):
            current.lines.append(DiffLine("add", raw[1:], new=new))
            new += 1
        elif raw.startswith("-") and not raw.startswith("--- "):
            current.lines.append(DiffLine("del", raw[1:], old=old))
            old += 1
        elif raw.startswith(" "):
            current.lines.append(DiffLine("ctx", raw[1:], old, new))
            old, new = old + 1, new + 1
        elif raw.startswith("rename from "):
            current.old_path = _unquote(raw[len("rename from "):])
        elif raw.startswith(("new file", "deleted file", "Binary files", "\\", "rename to", "old mode",
                             "new mode")):
            current.lines.append(DiffLine("note", raw))
    return files


def side_by_side(lines: list[DiffLine]) -> list[tuple[DiffLine | None, DiffLine | None]]:
    """Rows of (old, new): context on both sides, a deletion beside the addition that replaced it."""
    rows: list[tuple[DiffLine | None, DiffLine | None]] = []
    dels: list[DiffLine] = []
    adds: list[DiffLine] = []
    ends: list[DiffLine | None] = [None, None]  # "\ No newline at end of file" of the old and the new side

    def settle() -> None:
        for index in range(max(len(dels), len(adds))):
            rows.append((dels[index] if index < len(dels) else None, adds[index] if index < len(adds) else None))
        if ends != [None, None]:
            rows.append((ends[0], ends[1]))
        dels.clear()
        adds.clear()
        ends[:] = [None, None]

    previous = None
    for line in lines:
        if line.kind == "del":
            if adds:
                settle()
            dels.append(line)
        elif line.kind == "add":
            adds.append(line)
        elif line.text.startswith("\\") and previous in ("del", "add"):
            ends[previous == "add"] = line  # the note of one side must not part a line from its replacement
        else:
            settle()
            rows.append((line, line))
        previous = line.kind
    settle()
    return rows
