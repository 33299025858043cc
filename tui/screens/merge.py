"""Land a run's branch: a merge (a fast-forward when it can), one squashed commit, or a rebase, on the
branch the run started from or another. It says exactly what will happen before anything does; a
conflict is shown with its files, and nothing changes."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from core.faces import Corral
from core.models import HOWS, Branch, LandingPlan, Run

from ..format import plural
from .dialog import Dialog


def landing_words(branch: str, target: str, how: str, found: Branch | None) -> tuple[str, str]:
    """What landing does, in one line, and why, in a sentence."""
    if found is None:
        return f"{branch} is not in this repo.", ""
    if found.base != target:
        return f"There is no branch {target} to land on.", "Type the name of an existing branch."
    commits, moved = plural(found.ahead, "commit"), plural(found.behind, "commit")
    if found.ahead == 0:
        return f"Nothing to land: {target} already has all of {branch}.", ""
    if how == "squash":
        return (f"Land {branch} on {target} as one squashed commit.",
                f"One new commit on {target} holds the work of the branch's {commits}, with the run's task as its "
                "message; the branch stays as it is.")
    if found.behind == 0:
        return (f"Land {branch} on {target} as a fast-forward.",
                f"{target} has nothing the branch lacks, so it moves up to the branch's {commits}"
                + (": no merge commit." if how == "merge" else ": there is nothing to replay."))
    if how == "merge":
        return (f"Land {branch} on {target} as a merge commit.",
                f"{target} has {moved} the branch does not, so a new commit on {target} joins the two.")
    return (f"Land {branch} on {target} as a rebase.",
            f"The branch, with its {commits}, is replayed on top of {target}'s {moved} it does not have (its "
            f"worktree moves with it), then {target} moves up to it.")


def describe(branch: str, how: str, compared: list[LandingPlan]) -> Text:
    text = Text()
    for plan in compared:
        head, why = landing_words(branch, plan.target, how, plan.branch)
        if text:
            text.append("\n")
        if len(compared) > 1:
            text.append(f"{plan.repo}: ", style="underline")
        text.append(head, style="bold")
        if why:
            text.append(f"\n{why}")
    return text


class MergeDialog(Dialog[Any]):
    BINDINGS = [
        Binding("y", "land", "Land", id="merge.land"),
        Binding("m", "how('merge')", "Merge (fast-forward when it can)", id="merge.how_merge"),
        Binding("s", "how('squash')", "Squash into one commit", id="merge.how_squash"),
        Binding("r", "how('rebase')", "Rebase, then fast-forward", id="merge.how_rebase"),
    ]

    def __init__(self, engine: Corral, run: Run, how: str = "squash") -> None:
        super().__init__()
        self.engine, self.run = engine, run
        self.title_text = f"Land {run.branch}"
        self.how = how
        self.default = next((w.base_branch for w in run.worktrees if w.base_branch), "")
        self.target = self.default
        self.compared: dict[str, list[LandingPlan]] = {}

    def compose(self) -> ComposeResult:
        with self.frame(id="merge"):
            with Grid(classes="form"):
                yield Label("How")
                yield RadioSet(*(RadioButton(how, value=how == self.how, id=f"how-{how}") for how in HOWS),
                               compact=True, id="how")
                yield Label("Into")
                yield Input(self.target, compact=True, id="into", placeholder="the branch to land on")
            yield Static(id="plan", classes="dialog-text")
            yield Static("Work not yet committed in the run's worktree is committed first. "
                         "s m r pick the way, y lands.", classes="dialog-hint")
            yield self.error_line()
            yield self.buttons(Button("Land (y)", id="land", variant="primary"), Button("Back (esc)", id="back"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#how", RadioSet).focus()
        self._compare()

    @property
    def ready(self) -> bool:
        """Whether the plan on screen is the one for the way and branch chosen."""
        return self.target in self.compared

    @property
    def plan_text(self) -> str:
        return str(self.query_one("#plan", Static).render())

    def action_how(self, how: str) -> None:
        self.query_one(f"#how-{how}", RadioButton).value = True

    @on(RadioSet.Changed, "#how")
    def how_changed(self, event: RadioSet.Changed) -> None:
        self.how = (event.pressed.id or "how-merge").removeprefix("how-")
        self.show_error("")
        self._show_plan()

    @on(Input.Changed, "#into")
    def into_changed(self, event: Input.Changed) -> None:
        self.target = event.value.strip()
        self.show_error("")
        self._compare()

    def _compare(self) -> None:
        target, run = self.target, self.run
        self._show_plan()
        if not target or target in self.compared:
            return

        async def compare() -> None:
            # untouched, each repo lands on its own base branch
            into = None if target == self.default else target
            self.compared[target] = await self.engine.landing_plan(run.id, into)
            if self.is_attached:
                self._show_plan()

        self.app.engine_work(compare, group="merge-plan", exclusive=True)  # type: ignore[attr-defined]

    def _show_plan(self) -> None:
        plan = self.query_one("#plan", Static)
        if not self.target:
            plan.update(Text("Say which branch to land on.", style="bold"))
        elif self.target not in self.compared:
            plan.update(Text(f"Comparing {self.run.branch} with {self.target}…", style="dim"))
        else:
            plan.update(describe(self.run.branch, self.how, self.compared[self.target]))

    @on(Input.Submitted, "#into")
    @on(Button.Pressed, "#land")
    def action_land(self) -> None:
        if not self.target:
            self.show_error("say which branch to land on")
            return
        run_id, how = self.run.id, self.how
        into = None if self.target == self.default else self.target
        self.submit(lambda: self.engine.merge(run_id, how=how, into=into))

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.dismiss(None)
