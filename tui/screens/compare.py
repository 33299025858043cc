"""A race side by side: one row per run (agent, status, what it changed, turns, tokens, cost, time) and,
once asked for, whether a check (the project's own command) passes in each worktree; the chosen one is
landed with the merge dialog."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Label, Static

from core.models import Run
from core.racing import Check, Entrant

from .. import format
from ..messages import CompareWanted, LandingRequested, RaceCompared
from .dialog import Dialog

COLUMNS = {"agent": "agent", "status": "status", "files": "files", "lines": "+/-", "turns": "turns",
           "tokens": "tokens", "cost": "cost", "time": "time", "check": "check"}
NARROW = ("agent", "status", "files", "cost", "time", "check")  # turns and tokens go under the table
WIDE_FROM = 80


def check_word(check: Check | None, colors: dict[str, str] | None = None) -> Text:
    """passed or failed, in the theme's success and error colours (`colors`: the app's theme variables)."""
    colors = colors or {}
    if check is None:
        return Text("-", style="dim")
    if check.exit_code == 0:
        return Text("✓ passed", style=colors.get("text-success", "green"))
    return Text("✗ timeout" if check.exit_code is None else f"✗ failed {check.exit_code}",
                style=f"bold {colors.get('text-error', 'red')}")


class EntrantTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="compare.down"),
        Binding("k", "cursor_up", "Up", show=False, id="compare.up"),
    ]


class CompareScreen(Dialog[None]):
    BINDINGS = [
        Binding("m", "merge", "Merge", tooltip="Land the selected run (the merge dialog)", id="compare.merge"),
        Binding("slash", "check", "Check", tooltip="Run a check command in each worktree", id="compare.check"),
    ]

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.group_id = run.group_id or ""
        self.race_task = run.task
        self.title_text = f"Race {self.group_id[:8]}"
        self.entrants: list[Entrant] = []
        self.checking: str | None = None  # the check being run, until its results arrive

    def compose(self) -> ComposeResult:
        with self.frame(id="compare"):
            yield Static(Text(format.one_line(self.race_task, 200), style="bold"), classes="dialog-text")
            yield EntrantTable(id="entrants", cursor_type="row", zebra_stripes=False)
            yield Static("Comparing the runs…", id="compare-detail", classes="dialog-hint")
            yield Label("Check: a command for each worktree (enter runs it)", classes="field-label")
            yield Input(compact=True, id="check", placeholder="e.g. pytest -q")
            yield self.error_line()
            yield Static("m lands the selected run · / the check · esc back", classes="dialog-hint")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_rows()
        self.query_one(EntrantTable).focus()
        self.post_message(CompareWanted(self.group_id))

    def on_resize(self) -> None:
        self._show_rows()

    def on_screen_resume(self) -> None:
        """Back from the merge dialog: the runs are compared again, to show what landed."""
        if self.entrants:
            self.post_message(CompareWanted(self.group_id))

    # -- what it is handed -----------------------------------------------------------------------

    @on(RaceCompared)
    def compared(self, message: RaceCompared) -> None:
        """The runs as they are now; a check asked for earlier stays beside its run until asked again."""
        checks = {e.run.id: e.check for e in self.entrants}
        self.entrants = [e if e.check is not None or self.checking else replace(e, check=checks.get(e.run.id))
                         for e in message.entrants]
        self.checking = None
        self._show_rows()

    def _show_rows(self) -> None:
        table = self.query_one(EntrantTable)
        narrow = self.app.size.width < WIDE_FROM
        columns = NARROW if narrow else tuple(COLUMNS)
        row = table.cursor_row
        table.clear(columns=True)
        for key in columns:
            table.add_column(COLUMNS[key] if not (narrow and key == "files") else "files +/-", key=key)
        now = self.app.clock()  # type: ignore[attr-defined]
        colors = self.app.get_css_variables()
        for entrant in self.entrants:
            run = entrant.run
            gone = entrant.files is None
            lines = "" if gone else f"+{entrant.added} -{entrant.deleted}"
            values = {
                "agent": Text(format.one_line(run.agent_name, 10)),
                "status": Text("✓ landed" if entrant.landed else format.status(run)),
                "files": Text("gone" if gone else f"{entrant.files} {lines}" if narrow else str(entrant.files),
                              justify="right"),
                "lines": Text(lines, justify="right"), "turns": Text(str(entrant.turns), justify="right"),
                "tokens": Text(format.tokens(run), justify="right"), "cost": Text(format.cost(run), justify="right"),
                "time": Text(format.elapsed(run, now), justify="right"), "check": check_word(entrant.check, colors)}
            table.add_row(*(values[key] for key in columns), key=run.id)
        if self.entrants:
            table.move_cursor(row=min(max(row, 0), len(self.entrants) - 1))
        self._show_detail()

    def refused(self, error) -> None:  # type: ignore[no-untyped-def]
        self.checking = None
        self._show_detail()
        super().refused(error)

    @property
    def selected(self) -> Entrant | None:
        row = self.query_one(EntrantTable).cursor_row
        return self.entrants[row] if self.entrants and 0 <= row < len(self.entrants) else None

    @on(DataTable.RowHighlighted, "#entrants")
    def _show_detail(self) -> None:
        detail = self.query_one("#compare-detail", Static)
        entrant = self.selected
        if self.checking is not None:
            detail.update(f"Running `{self.checking}` in each worktree…")
        elif entrant is None:
            detail.update("Comparing the runs…")
        else:
            run = entrant.run
            text = Text(f"{run.short_id} ({run.agent_name}): {format.plural(entrant.turns, 'turn')}, "
                        f"{format.tokens(run)} tokens, on {run.branch}")
            if entrant.check is not None:
                text.append(f"\n`{entrant.check.command}` ")
                text.append_text(check_word(entrant.check, self.app.get_css_variables()))
                for line in entrant.check.output.strip().splitlines()[-2:]:
                    text.append(f"\n  {format.one_line(line, 70)}")
            detail.update(text)

    # -- what the user does ----------------------------------------------------------------------

    @on(Input.Submitted, "#check")
    def check_submitted(self, event: Input.Submitted) -> None:
        command = event.value.strip()
        self.show_error("")
        self.checking = command or None
        self._show_detail()
        self.post_message(CompareWanted(self.group_id, command or None))
        self.query_one(EntrantTable).focus()

    def action_check(self) -> None:
        self.query_one("#check", Input).focus()

    def action_merge(self) -> None:
        entrant = self.selected
        if entrant is None:
            self.app.notify("wait for the runs to be compared", severity="warning", timeout=3)
            return
        self.post_message(LandingRequested("merge", run=entrant.run))
