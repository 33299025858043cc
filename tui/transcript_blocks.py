"""A run's event log folded into what a person reads: the task, the assistant's text as it streams,
tool calls paired with their results, permission requests and answers, errors, the outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core import render
from core.models import END_EVENTS, CommandStatus, Event, EventType

# Events that say nothing a reader of the transcript needs.
HIDDEN = frozenset({EventType.AGENT_SYSTEM})


@dataclass(eq=False)
class Block:
    """One thing in the transcript. `version` changes whenever the block does (it keys the line cache)."""

    kind: str  # task | user | text | thinking | tool | check | command | attention | answer | error | retry | note
    #           | outcome
    text: str = ""
    title: str = ""
    input: dict[str, Any] | None = None
    output: str | None = None
    is_error: bool = False
    streaming: bool = False
    expanded: bool = False
    tone: str = ""  # success | warning | error, for notes, outcomes and commands
    by: str = ""  # who said a message of the user's kind, when not the user (corral, sending a failed check)
    status: str = ""  # how a command ended: "exit 0 in 2s"
    version: int = 0

    @property
    def expandable(self) -> bool:
        return self.kind in ("tool", "check", "thinking", "command")

    def touch(self) -> None:
        self.version += 1

    def input_text(self) -> str:
        if not self.input:
            return ""
        if set(self.input) <= {"command", "description"} and "command" in self.input:
            return str(self.input["command"])
        return json.dumps(self.input, indent=2, ensure_ascii=False)


@dataclass
class Transcript:
    run_id: str | None = None
    blocks: list[Block] = field(default_factory=list)
    last_seq: int = 0
    _tools: dict[str, Block] = field(default_factory=dict)
    _check: Block | None = None  # the check running now: its output goes in it
    _commands: dict[str, Block] = field(default_factory=dict)  # by command id

    def reset(self, run_id: str | None) -> None:
        self.run_id = run_id
        self.blocks.clear()
        self._tools.clear()
        self._check = None
        self._commands.clear()
        self.last_seq = 0

    def add(self, events: list[Event]) -> int | None:
        """Fold events in (older or repeated ones are skipped); the index of the first block that changed."""
        first: int | None = None
        for event in events:
            if event.seq <= self.last_seq:
                continue
            self.last_seq = event.seq
            if event.type in HIDDEN:
                continue
            index = self._fold(event)
            if index is not None and (first is None or index < first):
                first = index
        return first

    def running_commands(self) -> list[tuple[str, str]]:
        """The commands whose end has not been read yet: (id, command), oldest first."""
        return [(command_id, block.text) for command_id, block in self._commands.items() if block.streaming]

    def _append(self, block: Block) -> int:
        self.blocks.append(block)
        return len(self.blocks) - 1

    def _last(self, kind: str) -> Block | None:
        if self.blocks and self.blocks[-1].kind == kind and self.blocks[-1].streaming:
            return self.blocks[-1]
        return None

    def _fold(self, event: Event) -> int | None:
        p = event.payload
        kind = event.type
        if kind == EventType.RUN_CREATED:
            return self._append(Block("task", text=p.get("task", ""),
                                      title=f"{p.get('branch', '')} from {p.get('base', '')}"))
        if kind == EventType.USER_MESSAGE:
            return self._append(Block("user", text=p.get("text", ""), by="corral" if p.get("fix_try") else ""))
        if kind in render.CHECK_STEPS:
            return self._fold_check(event)
        if kind == EventType.RUN_STARTED:
            return self._append(Block("note", text=f"agent started (pid {p.get('pid')})"))
        if kind == EventType.AGENT_TOKEN:
            block = self._last("text")
            if block is None:
                return self._append(Block("text", text=p.get("text", ""), streaming=True))
            block.text += p.get("text", "")
            block.touch()
            return len(self.blocks) - 1
        if kind == EventType.AGENT_MESSAGE:
            block = self._last("text")
            if block is None:
                return self._append(Block("text", text=p.get("text", "")))
            block.text, block.streaming = p.get("text", block.text), False
            block.touch()
            return len(self.blocks) - 1
        if kind == EventType.AGENT_THINKING:
            return self._append(Block("thinking", text=p.get("text", "")))
        if kind == EventType.AGENT_TOOL_CALL:
            self._settle_stream()
            block = Block("tool", title=p.get("name") or "tool", input=p.get("input") or {},
                          text=render.tool_summary(p.get("name"), p.get("input")))
            if p.get("id"):
                self._tools[p["id"]] = block
            return self._append(block)
        if kind == EventType.AGENT_TOOL_RESULT:
            block = self._tools.get(p.get("id") or "")
            if block is None:
                block = self.blocks[self._append(Block("tool", title=p.get("name") or "tool"))]
            first = self.blocks.index(block)
            if any(b.kind != "tool" for b in self.blocks[first + 1:]):
                self.blocks.append(self.blocks.pop(first))  # after the request and answer that came between
            block.output = p.get("output") or ""
            block.is_error = bool(p.get("is_error"))
            block.touch()
            return first
        if kind in (EventType.COMMAND_STARTED, EventType.COMMAND_OUTPUT, EventType.COMMAND_FINISHED):
            return self._fold_command(event)
        if kind == EventType.AGENT_NEEDS_ATTENTION:
            return self._append(Block("attention", title=p.get("tool") or "a tool",
                                      text=render.tool_summary(p.get("tool"), p.get("input")),
                                      output=p.get("reason")))
        if kind == EventType.USER_APPROVAL:
            allowed = bool(p.get("allow"))
            verdict = ("allowed always" if p.get("always") else "allowed") if allowed else "denied"
            text = f"{verdict} {p.get('tool') or ''}".strip()
            if p.get("message"):
                text += f": {p['message']}"
            if p.get("by"):
                text += f" (by {p['by']})"
            return self._append(Block("answer", text=text, tone="success" if allowed else "error"))
        if kind == EventType.AGENT_RETRY:
            last = self.blocks[-1] if self.blocks else None
            if last is not None and last.kind == "retry":  # one line that counts the retries up, not ten
                last.text = render.describe(event)
                last.touch()
                return len(self.blocks) - 1
            return self._append(Block("retry", text=render.describe(event), tone="warning"))
        if kind == EventType.AGENT_REQUEST_CANCELLED:
            return self._append(Block("note", text="the agent withdrew its permission request"))
        if kind == EventType.AGENT_ERROR:
            message = p.get("message") or p.get("reason") or render.describe(event)
            return self._append(Block("error", text=str(message)))
        if kind == EventType.AGENT_OUTPUT:
            return self._append(Block("note", text=render.describe(event)))
        if kind == EventType.RUN_RESULT:
            block = Block("note", text=render.describe(event))
            if p.get("is_error"):
                block.tone = "error"
            return self._append(block)
        if kind in END_EVENTS.values():
            self._settle_stream()
            word = kind.split(".")[1]
            tone = {"completed": "success", "failed": "error"}.get(word, "warning")
            text = word + (f": {p['reason']}" if p.get("reason") else "")
            if word in ("paused", "interrupted"):
                text += " · r continues it with a message"
            return self._append(Block("outcome", text=text, tone=tone))
        if kind == EventType.RUN_CHECKPOINT_FAILED:
            return self._append(Block("note", text=render.describe(event), tone="error"))
        return self._append(Block("note", text=render.describe(event)))

    def _fold_check(self, event: Event) -> int | None:
        """A check is shown as a tool is (its command, its output as it comes, ✓ or ✗ when it ends),
        closed on the last line it printed, which says why it failed."""
        p, kind = event.payload, event.type
        if kind == EventType.CHECK_FIXING:
            return self._append(Block("note", text=render.describe(event), tone="warning"))
        block = self._check
        if kind == EventType.CHECK_STARTED or block is None:
            self._settle_stream()
            where = f" ({p['repo']})" if p.get("repo") else ""
            block = self._check = Block("check", title="check", text=f"{p.get('command', '')}{where}", output="",
                                        streaming=True)
            self._append(block)
            if kind == EventType.CHECK_STARTED:
                return len(self.blocks) - 1
        if kind == EventType.CHECK_OUTPUT:
            block.output = (block.output or "") + "".join(f"{line}\n" for line in p.get("lines") or [])
        else:
            block.streaming, block.is_error, self._check = False, kind == EventType.CHECK_FAILED, None
            block.output = (block.output or "").rstrip("\n")
            if block.is_error:
                block.title = f"check ({p.get('outcome')})"
        block.touch()
        return self.blocks.index(block)

    def _fold_command(self, event: Event) -> int:
        """A command run in the worktree: one block, its output growing under it until it ends."""
        p = event.payload
        block = self._commands.get(p.get("command_id") or "")
        if block is None:
            block = self._commands[p.get("command_id") or ""] = Block(
                "command", text=p.get("command", ""), title=p.get("by") or "", output="", streaming=True)
            if event.type == EventType.COMMAND_STARTED:
                self._settle_stream()
                return self._append(block)
            self._append(block)  # its start was not read (a transcript read from the middle)
        if event.type == EventType.COMMAND_OUTPUT:
            block.output = (block.output or "") + "".join(f"{line}\n" for line in p.get("lines") or [])
        elif event.type == EventType.COMMAND_FINISHED:
            block.streaming = False
            block.status = render.command_end(p)
            block.tone = "success" if p.get("status") == CommandStatus.COMPLETED else "error"
            block.is_error = block.tone == "error"
        block.touch()
        return self.blocks.index(block)

    def _settle_stream(self) -> None:
        block = self._last("text")
        if block is not None:
            block.streaming = False
            block.touch()
