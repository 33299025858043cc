"""One message per stage of the dashboard's pipeline: what the engine said, on its way to the screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from core.landing import RunBranch
from core.models import Agent, Approval, Event, FileChange, Project, Run, Worktree


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
    events: list[Event]


@dataclass
class ChangesLoaded(Message):
    run: Run
    changes: list[tuple[Worktree, list[FileChange]]]
    diff: str


@dataclass
class ProjectsLoaded(Message):
    projects: list[Project]
    agents: list[Agent]


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
