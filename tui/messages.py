"""The dashboard's messages. What the engine said, on its way to the screen (the ...Loaded ones: the app
hands their data down to the panes); what a pane asks for (...Wanted) once mounted or on a timer; and what
the user did (intents: ApprovalAnswered, TaskMoved, ...), which bubble up to the app, the one place that
turns them into engine work."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message
from textual.widget import Widget

from core.landing import RunBranch
from core.racing import Entrant
from core.agents.base import Installed
from core.conversation import Exchange
from core.models import Agent, Approval, ContextItem, Event, FileChange, Plan, Project, Repo, Run, Task, Worktree


class EventsArrived(Message):
    """Events committed since the last frame. A burst is merged into one message, never queued as many."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, EventsArrived):
            message.events[:0] = self.events  # the newer message carries ours too
            return True
        return False


@dataclass
class RunsLoaded(Message):
    """Every run, fresh from the engine, and the permission requests of those that wait on the user."""

    runs: list[Run]
    pending: dict[str, list[Approval]] = field(default_factory=dict)


@dataclass
class RunStarted(Message):
    run: Run


@dataclass
class TranscriptLoaded(Message):
    run_id: str
    events: list[Event] | None  # None: they could not be read (the next ones ask again)


@dataclass
class ChangesLoaded(Message):
    run: Run
    changes: list[tuple[Worktree, list[FileChange]]]
    diff: str


@dataclass
class ProjectsLoaded(Message):
    projects: list[Project]
    agents: list[Agent]
    context: dict[str, list[ContextItem]] = field(default_factory=dict)  # each project's, by its id


@dataclass
class ClisLoaded(Message):
    """Each agent CLI corral drives: installed here (its version) or not (how to install it)."""

    clis: list[Installed]


@dataclass
class RaceCompared(Message):
    """The runs of a race side by side, with the check's result in each worktree when one was run."""

    entrants: list[Entrant]


@dataclass
class BranchesLoaded(Message):
    """Every corral branch across the projects' repos, fresh from the engine."""

    branches: list[RunBranch]


@dataclass
class BranchChangesLoaded(Message):
    """What a branch's run changed in its worktree, for the Branches tab's detail."""

    run_id: str
    tip: str
    changes: list[tuple[Worktree, list[FileChange]]]


@dataclass
class TasksLoaded(Message):
    """The project's board: its tasks, its current plan, and the planning session's progress."""

    tasks: list[Task]
    plan: Plan | None
    progress: dict | None


# -- what a pane asks for ----------------------------------------------------------------------------


class PaneReady(Message):
    """A pane has mounted (they are lazy, mounted when first shown): the app hands it what it shows."""

    def __init__(self, pane: Widget) -> None:
        super().__init__()
        self.pane = pane


@dataclass
class BranchChangesWanted(Message):
    """The Branches tab asks what a branch's run changed, for its detail (once per tip)."""

    run_id: str
    tip: str


@dataclass
class TranscriptWanted(Message):
    """The Runs tab asks for a run's events after `after`: from its start, or the ones it missed."""

    run_id: str
    after: int



@dataclass
class BoardWanted(Message):
    """The Tasks tab asks for its board, fresh (it shows, or its timer ticked)."""


# -- what the user did with the board's tasks: intents, turned into engine work by the app ------------


@dataclass
class PlanRequested(Message):
    """Plan work in the project: ask what, then start a planning session."""


@dataclass
class PlanApproved(Message):
    plan_id: str


@dataclass
class TaskChanged(Message):
    """Fields of a task changed by hand (its status, its priority); `schedule` once they are written."""

    task_id: str
    changes: dict
    schedule: bool = False


@dataclass
class TaskCancelled(Message):
    task_id: str


@dataclass
class TaskRetried(Message):
    task_id: str


@dataclass
class TaskRenameRequested(Message):
    """Ask for the task's new title, then change it."""

    task: Task


@dataclass
class TaskMoved(Message):
    """The task swaps places with its neighbour on the board."""

    task_id: str
    other_id: str


# -- what the user did with runs: intents, turned into engine work by the app --------------------------


@dataclass
class RunSelected(Message):
    """The run the user picked: its transcript shows, and the Diffs tab shows it when opened; `highlight`
    when picked elsewhere than in the Runs tab's table (its row is highlighted too)."""

    run_id: str
    highlight: bool = False


@dataclass
class DiffRequested(Message):
    """Show the run's changes in the Diffs tab; `switch` to it."""

    run_id: str
    switch: bool = True


@dataclass
class ApprovalAnswered(Message):
    """The user answered a run's permission request: allow (always), or deny with a message."""

    run_id: str
    request_id: str
    allow: bool
    always: bool = False
    message: str | None = None


@dataclass
class RunCancelled(Message):
    run_id: str


@dataclass
class CommandCancelled(Message):
    run_id: str
    command_id: str


@dataclass
class RunPaused(Message):
    run_id: str


@dataclass
class ChecksRequested(Message):
    run_id: str


@dataclass
class ContinueRequested(Message):
    """Ask what the run's agent should do next, then continue it."""

    run: Run


@dataclass
class CommandRequested(Message):
    """Ask for a shell command, then run it in the run's worktree."""

    run: Run


@dataclass
class CompareRequested(Message):
    """Lay the runs of the run's race side by side."""

    run: Run


@dataclass
class ConversationRequested(Message):
    """Show what the user said to the run's agent and what it answered, turn by turn."""

    run: Run


@dataclass
class ConversationLoaded(Message):
    """A run's conversation, for the screen that shows it."""

    turns: list[Exchange]


@dataclass
class CompareWanted(Message):
    """The compare screen asks for its race, side by side; `check`, a command to run in each worktree."""

    group_id: str
    check: str | None = None


@dataclass
class AttachRequested(Message):
    """Hand the terminal to the run's agent session."""

    run_id: str


# -- what the user did with a run's work and its branch: asked first in a dialog, then done by the engine --


@dataclass
class LandingRequested(Message):
    """reject (a file), commit, merge or revert a run's work, from the Diffs tab; merge, rebase, rename or
    delete a branch, from the Branches tab."""

    action: str
    run: Run | None = None
    branch: RunBranch | None = None
    repo: str | None = None
    path: str = ""


@dataclass
class ProjectChangeRequested(Message):
    """add_repo (to the project, or as a new one), remove_repo, remove_context, edit_agent (a new one when
    None) or delete_agent, from the Projects tab."""

    action: str
    project: Project | None = None
    repo: Repo | None = None
    agent: Agent | None = None
    item: ContextItem | None = None
