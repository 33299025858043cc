"""The things corral keeps: projects, repos, agent profiles, runs, their events and approvals."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import msgspec


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    PAUSED = "paused"

    ACTIVE: ClassVar[frozenset[RunStatus]]
    ENDED: ClassVar[frozenset[RunStatus]]


# enum bodies cannot hold sets of their own members, so the groupings are attached after the class
RunStatus.ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.NEEDS_ATTENTION})
RunStatus.ENDED = frozenset(set(RunStatus) - RunStatus.ACTIVE)


class TaskStatus(StrEnum):
    BACKLOG = "backlog"  # written down, not asked for yet (a plan not approved, or added by hand)
    QUEUED = "queued"  # to be run when its dependencies allow
    RUNNING = "running"  # its run is waiting for a slot, working, or waiting on the user
    REVIEW = "review"  # its run completed: the work waits to be merged
    DONE = "done"  # its work is merged
    FAILED = "failed"
    CANCELLED = "cancelled"

    ALL: ClassVar[tuple[TaskStatus, ...]]


TaskStatus.ALL = tuple(TaskStatus)


class CommandStatus(StrEnum):
    """How a command run in a run's worktree (`corral exec`) stands."""

    RUNNING = "running"
    COMPLETED = "completed"  # it exited with status 0
    FAILED = "failed"  # another status, a signal, its time limit, or it could not start
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the corral process that ran it ended while it ran


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    ALLOWED = "allowed"
    DENIED = "denied"
    EXPIRED = "expired"


class EventType(StrEnum):
    """Every kind of event a run's log holds."""

    RUN_CREATED = "run.created"
    RUN_SETUP = "run.setup"
    RUN_SETUP_FAILED = "run.setup_failed"
    RUN_QUEUED = "run.queued"
    RUN_STARTED = "run.started"
    RUN_ATTACHED = "run.attached"
    RUN_DETACHED = "run.detached"
    RUN_TURN = "run.turn"
    RUN_RESULT = "run.result"
    RUN_WARNING = "run.warning"
    RUN_CHECKPOINT = "run.checkpoint"
    RUN_CHECKPOINT_FAILED = "run.checkpoint_failed"
    RUN_COMPLETED = "run.completed"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    RUN_INTERRUPTED = "run.interrupted"
    RUN_PAUSED = "run.paused"
    RUN_REWOUND = "run.rewound"
    RUN_WORKTREE_RESTORED = "run.worktree_restored"
    RUN_LANDED = "run.landed"
    RUN_REBASED = "run.rebased"
    RUN_BRANCH_RENAMED = "run.branch_renamed"
    RUN_PUSHED = "run.pushed"
    RUN_PULL_REQUEST = "run.pull_request"
    RUN_CONTEXT = "run.context"
    SESSION_INIT = "session.init"
    SESSION_ATTACHED = "session.attached"
    AGENT_OUTPUT = "agent.output"
    AGENT_OUTPUT_CUT = "agent.output_cut"
    AGENT_TOKEN = "agent.token"
    AGENT_MESSAGE = "agent.message"
    AGENT_THINKING = "agent.thinking"
    AGENT_TOOL_CALL = "agent.tool_call"
    AGENT_TOOL_RESULT = "agent.tool_result"
    AGENT_SYSTEM = "agent.system"
    AGENT_RETRY = "agent.retry"
    AGENT_ERROR = "agent.error"
    AGENT_NEEDS_ATTENTION = "agent.needs_attention"
    AGENT_REQUEST_CANCELLED = "agent.request_cancelled"
    AGENT_IDLE = "agent.idle"
    USER_MESSAGE = "user.message"
    USER_APPROVAL = "user.approval"
    USER_REJECTED = "user.rejected"
    USER_REVERTED = "user.reverted"
    USER_COMMITTED = "user.committed"
    USER_STOPPED = "user.stopped"
    CHECK_STARTED = "check.started"
    CHECK_OUTPUT = "check.output"
    CHECK_PASSED = "check.passed"
    CHECK_FAILED = "check.failed"
    CHECK_FIXING = "check.fixing"
    COMMAND_STARTED = "command.started"
    COMMAND_OUTPUT = "command.output"
    COMMAND_FINISHED = "command.finished"
    PLAN_STARTED = "plan.started"
    PLAN_PHASE = "plan.phase"
    PLAN_LOG = "plan.log"
    PLAN_PROGRESS = "plan.progress"
    PLAN_STATS = "plan.stats"
    PLAN_COMPLETED = "plan.completed"
    PLAN_FAILED = "plan.failed"
    PLAN_CANCELLED = "plan.cancelled"


# the event that closes a run, by the status it ends in
END_EVENTS: dict[str, EventType] = {
    RunStatus.COMPLETED: EventType.RUN_COMPLETED,
    RunStatus.FAILED: EventType.RUN_FAILED,
    RunStatus.CANCELLED: EventType.RUN_CANCELLED,
    RunStatus.INTERRUPTED: EventType.RUN_INTERRUPTED,
    RunStatus.PAUSED: EventType.RUN_PAUSED,
}
# what a user does to a run: each is recorded with who did it (payload "by": see core/actors.py)
USER_ACTIONS = frozenset({EventType.RUN_CREATED, EventType.USER_MESSAGE, EventType.USER_APPROVAL,
                          EventType.USER_REJECTED, EventType.USER_REVERTED, EventType.USER_COMMITTED,
                          EventType.USER_STOPPED, EventType.RUN_LANDED, EventType.RUN_REBASED,
                          EventType.RUN_BRANCH_RENAMED, EventType.RUN_PUSHED, EventType.RUN_PULL_REQUEST,
                          EventType.RUN_REWOUND, EventType.RUN_ATTACHED, EventType.COMMAND_STARTED})
PLAN_EVENTS = frozenset(e for e in EventType if e.startswith("plan."))
# what a webhook may subscribe to: a run's end (not a pause) and a question for the user
WEBHOOK_EVENTS = (EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELLED,
                  EventType.AGENT_NEEDS_ATTENTION)


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """A field's value as asdict gives it (lists, dicts and records copied all the way down), made
    without asdict's deep copy of every string and number: a list of 2,000 runs is printed at once."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


class Record:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass
class Repo(Record):
    id: str
    project_id: str
    name: str
    path: str
    created_at: str


class ProjectSetting(StrEnum):
    """What a user may change about a project: each is a field of Project and a column of its table."""

    POST_CREATE = "post_create"
    MAX_RUNS = "max_runs"
    NOTIFY = "notify"
    AUTO_APPROVE_PLAN = "auto_approve_plan"
    DEPS_NEED_MERGE = "deps_need_merge"
    CHECKS = "checks"
    FIX_TRIES = "fix_tries"


PROJECT_FLAGS = frozenset({ProjectSetting.NOTIFY, ProjectSetting.AUTO_APPROVE_PLAN, ProjectSetting.DEPS_NEED_MERGE})


@dataclass(frozen=True)
class Check:
    """One of a project's checks: a shell command run in each worktree of a run whose agent is done."""

    command: str
    timeout: int = 600  # seconds before it is stopped and counted as failed


@dataclass
class Project(Record):
    id: str
    name: str
    created_at: str
    post_create: str | None = None  # a shell command run in each new worktree (install dependencies)
    max_runs: int | None = None  # how many of its runs may work at once; None: only the global limit
    notify: bool = True  # desktop notifications when its runs need the user or end
    auto_approve_plan: bool = False  # a finished plan's tasks are queued without asking
    deps_need_merge: bool = True  # a task waits for its dependencies to be merged, not only completed
    checks: list[Check] = field(default_factory=list)  # run in order when a run's agent is done
    fix_tries: int = 0  # times a failed check's output goes back to the agent to fix, before the run fails
    repos: list[Repo] = field(default_factory=list)
    host: str | None = None  # in a view of every host: the one it is on ("local" or a remote's name)


if set(ProjectSetting) - Project.__dataclass_fields__.keys():  # a misspelt setting fails at import
    raise TypeError("a ProjectSetting is not a field of Project")


@dataclass
class Agent(Record):
    id: str
    name: str
    cli: str = "claude-code"
    project_id: str | None = None
    model: str | None = None
    instructions: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    max_turns: int | None = None
    command: str | None = None
    permission_mode: str = "acceptEdits"
    created_at: str = ""
    max_budget_usd: float | None = None  # the agent stops when its spending reaches this
    timeout_seconds: int | None = None  # wall-clock time a run may take, waiting included
    max_output_mb: float | None = None  # output volume a run may print
    idle_timeout_seconds: int | None = None  # silence after which the agent is taken as hung
    # Where the agent's model is and how to reach it: base_url, api_key_env (the name of the
    # environment variable holding the key: a key itself is never kept), wire_api, and settings
    # of the CLI's own. Empty: the CLI's defaults (see the model settings).
    provider_config: dict[str, str] = field(default_factory=dict)
    role: str = "builder"  # what the profile is for, in the user's words: builder, reviewer, ...

    LIMITS = ("max_turns", "max_budget_usd", "timeout_seconds", "max_output_mb", "idle_timeout_seconds")


@dataclass
class Worktree(Record):
    repo_id: str
    repo_name: str
    repo_path: str
    path: str
    base_sha: str
    base_branch: str | None = None  # where the work lands by default; None when based on a bare commit


@dataclass
class Run(Record):
    id: str
    project_id: str
    agent_id: str
    agent_name: str
    task: str
    status: str
    base_ref: str
    branch: str
    created_at: str
    updated_at: str
    started_at: str | None = None
    ended_at: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    session_id: str | None = None
    reason: str | None = None
    pid: int | None = None
    parent_run_id: str | None = None
    files_changed: int | None = None
    pr_url: str | None = None
    notify: bool = False  # tell the user (webhooks, desktop) when it needs them or ends
    queued_at: str | None = None  # when it last started waiting for a slot: the queue's order
    resume_at: str | None = None  # after a rewind: where its agent's session goes on from
    kind: str = "work"  # "plan": a planning session's read-only run
    group_id: str | None = None  # the runs of one task raced across several agents share it
    checks: list[dict[str, Any]] = field(default_factory=list)  # each check's last result: command, passed, outcome
    fix_tries: int | None = None  # times a failed check goes back to the agent; None: the project's setting
    worktrees: list[Worktree] = field(default_factory=list)
    host: str | None = None  # in a view of every host: the one it is on ("local" or a remote's name)

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def active(self) -> bool:
        return self.status in RunStatus.ACTIVE

    @property
    def cwd(self) -> str:
        """Where the agent works: the worktree itself, or the run's folder when it spans several repos."""
        if len(self.worktrees) == 1:
            return self.worktrees[0].path
        return str(_common_parent([w.path for w in self.worktrees]))


CHECKPOINT = "corral: run {}: {{changes}}"  # a run's checkpoint commit: .format(its short id); git fills in the rest


def _common_parent(paths: list[str]) -> str:
    import os.path

    return os.path.commonpath(paths) if paths else "."


class Event(msgspec.Struct, gc=False):
    """One thing that happened in a run. Not followed by Python's garbage collector (an event
    refers to nothing that refers back to it): a run's hundred thousand events, held by a reader or
    a follower, would otherwise be walked again at every full collection while more arrive."""

    run_id: str
    seq: int  # numbered by the store as it commits (0 until then), so two writers never collide
    type: str
    payload: dict[str, Any]
    created_at: str
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "seq": self.seq, "type": self.type, "payload": _plain(self.payload),
                "created_at": self.created_at, "id": self.id}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass
class Approval(Record):
    """A permission request from an agent, waiting on (or answered by) the user."""

    id: int
    run_id: str
    request_id: str
    tool: str
    input: dict[str, Any]
    status: str  # pending | allowed | denied | expired
    message: str | None
    created_at: str
    answered_at: str | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)  # rules the agent offers for "always"
    always: bool = False
    answered_by: str | None = None  # who answered: the local user, or an API token's user


@dataclass
class Command(Record):
    """A shell command run in a run's worktree by a user (`corral exec`, `x` in the dashboard)."""

    id: str
    run_id: str
    command: str
    status: str
    cwd: str
    by: str
    started_at: str
    ended_at: str | None = None
    exit_code: int | None = None  # None while it runs, and when a signal ended it
    signal: str | None = None  # the signal that ended it ("SIGTERM")
    seconds: float | None = None
    outcome: str | None = None  # how it ended in a few words: "exit 1", "cancelled", "timed out after 30 s"
    output_bytes: int = 0
    dropped_bytes: int = 0  # printed past the limit, not kept in the run's log
    pid: int | None = None
    confirmed: bool = False  # it looked destructive and the user said to run it anyway
    seq: int | None = None  # its command.started event's number in the run's log: its output comes after
    output: list[str] | None = None  # its kept output lines, when asked for one command

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def running(self) -> bool:
        return self.status == CommandStatus.RUNNING


TASK_TYPES = {"feature": "FTR", "bug": "BUG", "refactor": "REF", "docs": "DOC", "test": "TST", "chore": "CHR"}
PRIORITIES = ("critical", "high", "medium", "low")  # first goes first


@dataclass
class Task(Record):
    id: str
    project_id: str
    key: str  # e.g. FTR-CB-1042: type, project, counter
    title: str
    type: str
    priority: str
    status: str
    position: int
    created_at: str
    updated_at: str
    description: str = ""
    plan_id: str | None = None
    phase: str | None = None
    acceptance: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    run_id: str | None = None
    depends_on: list[str] = field(default_factory=list)  # task ids
    no_changes: bool = False  # in review, but its run's branch holds no commit: nothing to merge


@dataclass
class Plan(Record):
    id: str
    project_id: str
    topic: str
    effort: str
    granularity: str
    status: str  # planning | pending | approved | failed | cancelled
    created_at: str
    updated_at: str
    model: str | None = None
    context: str = ""
    run_id: str | None = None
    reason: str | None = None


# -- what git reports: branches, changed files, landings, backups --------------------------------

HOWS = ("squash", "merge", "rebase")  # the default first


@dataclass(frozen=True)
class Branch:
    name: str
    tip: str
    subject: str
    committed_at: str  # ISO 8601, in the committer's time zone
    ahead: int  # commits on the branch that base does not have
    behind: int  # commits on base that the branch does not have
    merged: bool  # base holds the branch's work: its tip is in base's history, or it was squashed in
    changed: bool  # it holds work: commits since it was made, or commits its base does not have
    pushed: bool  # a remote-tracking branch of the same name has the tip
    worktree: str | None  # where it is checked out
    base: str | None  # what ahead, behind and merged compare with


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # "added" | "modified" | "deleted" | "renamed"
    added: int
    deleted: int
    binary: bool
    old_path: str | None = None


@dataclass(frozen=True)
class Landing:
    repo: Path
    target: str
    how: str  # "fast-forward" | "merge" | "squash" | "rebase" | "up-to-date"
    commit: str  # the target's tip now
    previous: str  # the target's tip before


@dataclass(frozen=True)
class Backup:
    ref: str  # e.g. refs/corral/backup/1a2b3c4d
    commit: str  # the branch's tip before the revert, uncommitted work included


@dataclass(frozen=True)
class LandingPlan:
    """What landing a run's branch would do in one of its repos: the branch against its target."""

    repo: str  # the repo's name in the project
    target: str  # the branch it would land on
    branch: Branch | None  # the run's branch compared with the target; None when the repo lacks it


class ContextKind(StrEnum):
    """What a piece of context for runs is: a file's text, a page fetched from a URL, or a note."""

    FILE = "file"
    URL = "url"
    NOTE = "note"


@dataclass
class ContextItem(Record):
    """Context given to runs beyond their prompt: its text is kept as it was when it was added."""

    id: str
    project_id: str
    run_id: str | None  # None: the project's, given to every run of it
    kind: str  # a ContextKind
    name: str
    source: str  # the file's path or the URL it came from; "" for a note or a body given as it is
    body: str
    tokens: int  # an estimate: a token per 4 bytes of UTF-8
    created_at: str
    by: str  # who added it (see core/actors.py)


# -- what the HTTP API keeps: its tokens, webhooks and their deliveries -----------------------------

NOTIFICATIONS_ID = "notifications"  # the webhook behind the notification settings


@dataclass
class ApiToken(Record):
    id: str
    name: str
    salt: str
    hash: str  # sha256 of salt + secret: the secret itself is shown once and never kept
    read_only: bool  # a viewer's: it may read and follow, not change anything
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    user: str = ""  # whose it is: what corral records as having done what the token did
    role: str = "admin"  # admin: everything; operator: runs, answers, landing; viewer: reading


TOKEN_ROLES = ("admin", "operator", "viewer")


@dataclass
class Webhook(Record):
    id: str
    project_id: str | None  # None: every project's runs
    url: str
    secret: str
    events: list[str]
    format: str  # "json" (signed) | "discord"
    created_at: str


@dataclass
class WebhookDelivery(Record):
    """One attempt to deliver one event; the attempts of a delivery share its delivery_id."""

    id: int | None
    delivery_id: str
    webhook_id: str
    event_type: str
    run_id: str | None
    attempt: int
    status_code: int | None
    error: str | None
    delivered: bool
    created_at: str


# -- the audit log: who changed what, when ------------------------------------------------------


class AuditAction(StrEnum):
    """A change to a project's setup, or a deletion, as the audit log names it (a run's own user
    actions, USER_ACTIONS, are read from its events and named by their event type)."""

    PROJECT_CREATED = "project.created"
    PROJECT_UPDATED = "project.updated"
    PROJECT_DUPLICATED = "project.duplicated"
    PROJECT_DELETED = "project.deleted"
    REPO_ADDED = "repo.added"
    REPO_REMOVED = "repo.removed"
    AGENT_ADDED = "agent.added"
    AGENT_UPDATED = "agent.updated"
    AGENT_DELETED = "agent.deleted"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    WEBHOOK_ADDED = "webhook.added"
    WEBHOOK_DELETED = "webhook.deleted"
    RUN_DELETED = "run.deleted"
    BRANCH_DELETED = "branch.deleted"
    SETTINGS_UPDATED = "settings.updated"  # corral's own: runs at once, each CLI's model, notifications


@dataclass
class AuditEntry(Record):
    at: str
    by: str  # who: the local account, or an API token's user
    action: str  # an AuditAction, or the type of a run's event among USER_ACTIONS
    target: str  # what it was done to, in words: a project's name, a repo's, a run's short id
    project_id: str | None = None  # None: not one project's (a token, an agent profile for every project)
    run_id: str | None = None  # an action on a run, read from its events
    details: dict[str, Any] = field(default_factory=dict)
