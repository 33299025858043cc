"""Plain-text views of runs and events, for the terminal verbs (and anything else that prints)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .models import Approval, Command, CommandStatus, Event, EventType, Project, Run, RunStatus, Worktree

# how a message ends that says a run ended, by its status: "run 1a2b3c4d was cancelled"
ENDED: dict[str, str] = {RunStatus.COMPLETED: "completed", RunStatus.FAILED: "failed",
                         RunStatus.CANCELLED: "was cancelled", RunStatus.INTERRUPTED: "was interrupted",
                         RunStatus.PAUSED: "was paused"}


def _when(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def elapsed(run: Run) -> str:
    start = _when(run.started_at) or _when(run.created_at)
    end = _when(run.ended_at) or datetime.now(timezone.utc)
    return duration((end - start).total_seconds()) if start else "-"


def plural(count: int, word: str) -> str:
    """The count and its word, agreeing: plural(1, "turn") is "1 turn", plural(2, "turn") "2 turns"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)


def size(count: int) -> str:
    """Bytes as a person reads them: 812 B, 4.2 KB, 20.0 MB."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def tool_summary(tool: str | None, tool_input: dict[str, Any] | None) -> str:
    """The one thing a person wants to see of a tool call: the command, the file, the pattern."""
    tool_input = tool_input or {}
    for key in ("command", "file_path", "path", "pattern", "url", "query", "description"):
        if tool_input.get(key):
            return _one_line(str(tool_input[key]), 100)
    return _one_line(", ".join(f"{k}={v}" for k, v in tool_input.items()), 100)


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def run_line(run: Run, depth: int = 0) -> str:
    """One run in a list; a fork (depth > 0) is marked under the run it came from."""
    money = f"${run.cost_usd:.4f}" if run.cost_usd else "-"
    fork = "  " * (depth - 1) + "└ " if depth else ""
    marks = f"{check_marks(run)} " if run.checks else ""
    return (f"{run.short_id}  {run.status:<15} {run.agent_name:<10} {elapsed(run):>7} "
            f"{tokens(run.tokens_in + run.tokens_out):>7} {money:>9}  {marks}{fork}"
            f"{_one_line(run.task, 60 - len(fork) - len(marks))}")


def entrant_line(entrant: Any) -> str:
    """One run of a race beside the others: who, how it ended, what it changed, what it took, its check."""
    run = entrant.run
    money = f"${run.cost_usd:.4f}" if run.cost_usd else "-"
    changed = ("worktree gone" if entrant.files is None
               else f"{plural(entrant.files, 'file')} +{entrant.added} -{entrant.deleted}")
    check = ""
    if entrant.check is not None:
        check = ("  check: did not finish" if entrant.check.exit_code is None
                 else "  check: passed" if entrant.check.exit_code == 0
                 else f"  check: failed ({entrant.check.exit_code})")
    if run.checks:
        check += f"  checks {check_marks(run)}"
    status = "landed" if entrant.landed else run.status
    return (f"{run.short_id}  {run.agent_name:<10} {status:<10} {changed}  {plural(entrant.turns, 'turn')}  "
            f"{tokens(run.tokens_in + run.tokens_out)} tokens  {money}  {elapsed(run)}{check}")


def run_tree(runs: list[Run]) -> list[tuple[Run, int]]:
    """Runs in their order, each fork right under the run it was forked from, with its depth."""
    listed = {run.id for run in runs}
    forks: dict[str, list[Run]] = {}
    for run in runs:
        if run.parent_run_id in listed:
            forks.setdefault(run.parent_run_id, []).append(run)
    ordered: list[tuple[Run, int]] = []

    def place(run: Run, depth: int) -> None:
        ordered.append((run, depth))
        for child in sorted(forks.get(run.id, []), key=lambda r: r.created_at):
            place(child, depth + 1)

    for run in runs:
        if run.parent_run_id not in listed:
            place(run, 0)
    return ordered


def run_details(run: Run, pending: list[Approval], changes: list[tuple[Worktree, list[Any]]]) -> str:
    lines = [
        f"run      {run.id}",
        f"status   {run.status}" + (f": {run.reason}" if run.reason else ""),
        f"task     {run.task}",
        f"agent    {run.agent_name}",
        f"branch   {run.branch} (from {run.base_ref})",
        f"elapsed  {elapsed(run)}",
        f"tokens   {run.tokens_in} in, {run.tokens_out} out",
        f"cost     ${run.cost_usd:.4f}" if run.cost_usd else "cost     - (none reported)",
    ]
    if run.session_id:
        lines.append(f"session  {run.session_id}")
    for result in run.checks:
        lines.append(f"check    {'✓' if result.get('passed') else '✗'} {result.get('command')}  "
                     f"({result.get('outcome')})")
    for worktree in run.worktrees:
        lines.append(f"worktree {worktree.path} ({worktree.repo_name} @ {worktree.base_sha[:8]})")
    for approval in pending:
        lines.append(f"waiting  {approval.tool}: {tool_summary(approval.tool, approval.input)}  "
                     f"(corral approve {run.short_id} [--deny])")
    if any(files for _, files in changes):
        lines.append(stat(changes))
    return "\n".join(lines)


def stat(changes: list[tuple[Worktree, list[Any]]]) -> str:
    many = len(changes) > 1
    rows, added, deleted, count = [], 0, 0, 0
    for worktree, files in changes:
        for change in files:
            name = f"{worktree.repo_name}/{change.path}" if many else change.path
            counts = "binary" if change.binary else f"+{change.added} -{change.deleted}"
            rows.append(f" {change.status[:1].upper()} {name}  {counts}")
            added, deleted, count = added + change.added, deleted + change.deleted, count + 1
    if not count:
        return "no changes"
    rows.append(f" {plural(count, 'file')} changed, {plural(added, 'insertion')}(+), "
                f"{plural(deleted, 'deletion')}(-)")
    return "\n".join(rows)


def describe(event: Event) -> str:
    """One line that says what happened."""
    p = event.payload
    kind = event.type
    if kind == EventType.RUN_CREATED:
        return f"created on {p.get('branch')} from {p.get('base')}: {_one_line(p.get('task', ''), 80)}"
    if kind == EventType.RUN_STARTED:
        return f"agent started (pid {p.get('pid')}) in {p.get('cwd')}"
    if kind == EventType.SESSION_INIT:
        return f"session {p.get('session_id')} ({p.get('model')}, {p.get('agent') or 'the agent'} {p.get('version')})"
    if kind in (EventType.AGENT_MESSAGE, EventType.AGENT_TOKEN, EventType.AGENT_THINKING):
        return _one_line(p.get("text", ""), 120)
    if kind == EventType.USER_MESSAGE:
        return f"{p.get('by') or 'you'}: {_one_line(p.get('text', ''), 110)}"
    if kind == EventType.AGENT_TOOL_CALL:
        return f"{p.get('name')}: {tool_summary(p.get('name'), p.get('input'))}"
    if kind == EventType.AGENT_TOOL_RESULT:
        mark = "error" if p.get("is_error") else "ok"
        return f"{p.get('name') or 'tool'} {mark}: {_one_line(p.get('output', ''), 100)}"
    if kind == EventType.AGENT_RETRY:
        wait = f" in {duration(max(1, round((p.get('delay_ms') or 0) / 1000)))}" if p.get("delay_ms") else ""
        return (f"model error {p.get('status') or '?'}, retry {p.get('attempt')} of {p.get('max_retries')}{wait}"
                + (f" ({p['error']})" if p.get("error") else ""))
    if kind == EventType.AGENT_NEEDS_ATTENTION:
        return f"asks to use {p.get('tool')}: {tool_summary(p.get('tool'), p.get('input'))}"
    if kind in CHECK_STEPS:
        return check_step(p, kind)
    if kind == EventType.PLAN_PHASE:
        return p.get("phase", "")
    if kind in (EventType.PLAN_LOG, EventType.PLAN_PROGRESS):
        return _one_line(str(p.get("message") or p.get("content") or ""), 120)
    if kind == EventType.PLAN_COMPLETED:
        return f"{plural(len(p.get('tasks') or []), 'task')} written"
    if kind == EventType.RUN_QUEUED:
        return f"waiting, number {p.get('position')} in line: {p.get('reason')}"
    if kind == EventType.RUN_TURN:
        return f"turn {p.get('turn')} kept"
    if kind == EventType.AGENT_REQUEST_CANCELLED:
        return "withdrew its permission request"
    if kind == EventType.USER_APPROVAL:
        verdict = "allowed" if p.get("allow") else "denied"
        return (f"{verdict} {p.get('tool')}" + (f": {p['message']}" if p.get("message") else "")
                + (f" (by {p['by']})" if p.get("by") else ""))
    if kind == EventType.USER_STOPPED:
        return f"{'cancelled' if p.get('status') == 'cancelled' else 'paused'} by {p.get('by') or 'the user'}"
    if kind == EventType.RUN_RESULT:
        text = f"{plural(p.get('tokens_in') or 0, 'token')} in, {p.get('tokens_out') or 0} out"
        if p.get("cost_usd"):  # an agent that prices nothing shows no cost, not $0
            text += f", ${p['cost_usd']:.4f}"
        if p.get("num_turns") is not None:
            text += f", {plural(p['num_turns'], 'turn')}"
        return text + (f": {p['reason']}" if p.get("reason") else "")
    if kind == EventType.RUN_CONTEXT:
        files = ", ".join(f"{f.get('name')} ~{tokens(f.get('tokens') or 0)}" for f in p.get("files") or [])
        notes = ", ".join(f"{n.get('name')} ~{tokens(n.get('tokens') or 0)}" for n in p.get("notes") or [])
        return "context given: " + "; ".join(filter(None, [files and f"{files} in {p.get('folder')}/",
                                                           notes and f"notes {notes}"]))
    if kind == EventType.RUN_CHECKPOINT:
        return f"checkpoint {p.get('commit', '')[:8]} in {p.get('repo')}"
    if kind == EventType.AGENT_OUTPUT:
        return _one_line(p.get("text") or str(p.get("data")), 120)
    if kind == EventType.AGENT_OUTPUT_CUT:
        return (f"a line of {size(p.get('bytes') or 0)} was cut to its first {size(p.get('kept') or 0)}: "
                f"{_one_line(p.get('head', ''), 60)}")
    if kind == EventType.COMMAND_STARTED:
        return f"$ {_one_line(p.get('command', ''), 100)}" + (f" (by {p['by']})" if p.get("by") else "")
    if kind == EventType.COMMAND_OUTPUT:
        lines = p.get("lines") or [""]
        return _one_line(lines[0], 100) + (f"  (+{plural(len(lines) - 1, 'line')})" if len(lines) > 1 else "")
    if kind == EventType.COMMAND_FINISHED:
        return command_end(p)
    if p.get("reason"):
        return str(p["reason"])
    return _one_line(", ".join(f"{k}={v}" for k, v in p.items()), 120)


CHECK_STEPS = frozenset({EventType.CHECK_STARTED, EventType.CHECK_OUTPUT, EventType.CHECK_PASSED,
                         EventType.CHECK_FAILED, EventType.CHECK_FIXING})


def check_step(p: dict[str, Any], kind: str) -> str:
    """A check's step in a line: started, a line it printed, passed, failed, sent back to the agent."""
    where = f" in {p['repo']}" if p.get("repo") else ""
    if kind == EventType.CHECK_STARTED:
        return f"check `{p.get('command')}`{where}"
    if kind == EventType.CHECK_OUTPUT:
        return _one_line(" ⏎ ".join(p.get("lines") or []), 120)
    if kind == EventType.CHECK_FIXING:
        return (f"sent the failure of {', '.join(f'`{c}`' for c in p.get('checks') or [])} back to the agent "
                f"(try {p.get('try')} of {p.get('of')})")
    took = f" in {duration(max(1, round(p.get('seconds') or 0)))}" if p.get("seconds", 0) >= 1 else ""
    if kind == EventType.CHECK_PASSED:
        return f"✓ `{p.get('command')}` passed{where}{took}"
    dropped = f", {size(p['dropped_bytes'])} of output not kept" if p.get("dropped_bytes") else ""
    return f"✗ `{p.get('command')}` failed{where}: {p.get('outcome')}{took}{dropped}"


def checks_setting(project: Project) -> str:
    """A project's checks in a few words: "checks `pytest -q`, `ruff check .` (fixed up to 3 times)"."""
    if not project.checks:
        return "no checks"
    fixes = f" (failures go back to the agent up to {plural(project.fix_tries, 'time')})" if project.fix_tries else ""
    return "checks " + ", ".join(f"`{c.command}`" for c in project.checks) + fixes


def check_marks(run: Run) -> str:
    """The run's last check results as marks, one a check: "✓✓✗"; "" before any ran."""
    return "".join("✓" if result.get("passed") else "✗" for result in run.checks)


def command_end(payload: dict[str, Any]) -> str:
    """How a command ended, from its command.finished event: "exit 0 in 2s", "cancelled after 1m04s"."""
    seconds = payload.get("seconds")
    took = ""
    if seconds is not None:
        ran = payload.get("status") in (CommandStatus.COMPLETED, CommandStatus.FAILED)
        took = f"{' in ' if ran else ' after '}{duration(seconds)}"
    dropped = f", {size(payload['dropped_bytes'])} of output not kept" if payload.get("dropped_bytes") else ""
    return f"{payload.get('outcome') or payload.get('status')}{took}{dropped}"


def command_line(command: Command) -> str:
    """One command in a list: id, status, how long, who, the command."""
    took = duration(command.seconds) if command.seconds is not None else "-"
    how = command.outcome if command.outcome and command.status == CommandStatus.FAILED else command.status
    return f"{command.short_id}  {how:<12} {took:>7}  {command.by:<10} {_one_line(command.command, 60)}"


def event_line(event: Event) -> str:
    return f"{event.seq:>5} {event.created_at[11:19]} {event.type:<22} {describe(event)}"


_QUIET = {EventType.AGENT_TOKEN, EventType.AGENT_THINKING, EventType.AGENT_OUTPUT, EventType.AGENT_SYSTEM,
          EventType.RUN_CHECKPOINT, EventType.COMMAND_OUTPUT}


def progress(run: Run, event: Event) -> str | None:
    """The line `corral run --wait` prints on stderr for an event, or None to stay quiet."""
    if event.type in _QUIET:
        return None
    line = f"[{run.short_id}] {event.type:<22} {describe(event)}"
    if event.type == EventType.AGENT_NEEDS_ATTENTION:
        line += f"\n[{run.short_id}] answer with: corral approve {run.short_id} [--deny --message TEXT]"
    return line


def conversation(turns: list[Any]) -> str:
    """A run's conversation as text: each turn's message from the user, then the agent's answers."""
    if not turns:
        return "no conversation yet"
    lines: list[str] = []
    for turn in turns:
        who = f" by {turn.by}" if turn.by else ""
        lines.append(f"── turn {turn.number}{who}, {turn.at[:16].replace('T', ' ')}")
        lines += [f"> {line}" for line in turn.message.splitlines() or [""]]
        for answer in turn.answers:
            lines += ["", answer]
        if turn.tool_calls:
            more = turn.tool_calls - len(turn.tools)
            lines += ["", plural(turn.tool_calls, "tool call") + ":", *(f"  {tool}" for tool in turn.tools)]
            if more > 0:
                lines.append(f"  and {more} more")
        totals = [f"{tokens(turn.tokens_in + turn.tokens_out)} tokens"] if turn.tokens_in + turn.tokens_out else []
        if turn.cost_usd:
            totals.append(f"${turn.cost_usd:.4f}")
        if turn.error:
            totals.append(f"failed: {turn.error}")
        elif turn.ended_at is None:
            totals.append("no answer yet" if not turn.answers else "going on")
        if totals:
            lines += ["", "  " + ", ".join(totals)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def audit_line(entry: Any) -> str:
    """One change in the audit log: when, who, what, to what."""
    return f"{entry.at[:19].replace('T', ' ')}  {entry.by:<12} {entry.action:<20} {_one_line(entry.target, 40)}"
