"""What the API takes and gives: one pydantic model per request and response body."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
)

from ..agents.base import Installed
from ..models import (
    WEBHOOK_EVENTS,
    Agent,
    Approval,
    ApprovalStatus,
    ContextItem,
    ContextKind,
    Event,
    EventType,
    FileChange,
    Project,
    Repo,
    Run,
    RunStatus,
    Webhook,
    WebhookDelivery,
    Worktree,
)

# Literal types of the enums' plain values: the OpenAPI document lists them inline, as it always has.
# A type checker cannot evaluate a Literal built at run time: to it they are strings.
if TYPE_CHECKING:
    WebhookEvent = str
    RunStatusName = str
    ApprovalStatusName = str
    ContextKindName = str
else:
    WebhookEvent = Literal[tuple(e.value for e in WEBHOOK_EVENTS)]
    RunStatusName = Literal[tuple(s.value for s in RunStatus)]
    ApprovalStatusName = Literal[tuple(s.value for s in ApprovalStatus)]
    ContextKindName = Literal[tuple(k.value for k in ContextKind)]
ALL_WEBHOOK_EVENTS: list[WebhookEvent] = [e.value for e in WEBHOOK_EVENTS]
MAX_ID = 2**63 - 1  # SQLite's largest integer
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


def example(**fields: Any) -> ConfigDict:
    """A body's example for the OpenAPI document (and /docs' "Try it out")."""
    return ConfigDict(json_schema_extra={"examples": [fields]})


# -- errors ---------------------------------------------------------------------------------

class ErrorInfo(BaseModel):
    code: str = Field(examples=["RUN_NOT_FOUND"])
    message: str
    details: dict[str, Any] = {}


class ErrorBody(BaseModel):
    error: ErrorInfo


# -- projects and repos ------------------------------------------------------------------------

class RepoIn(Body):
    model_config = example(repo_path="/home/me/src/api", name="api")

    repo_path: str = Field(min_length=1, description="Absolute path of a git repository with a commit")
    name: Name | None = Field(None, description="Name within the project (default: the folder's name)")

    @field_validator("repo_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not Path(value).expanduser().is_absolute():
            raise ValueError("give an absolute path: the server does not know your working folder")
        return value


class ProjectIn(Body):
    model_config = example(name="app", repos=[{"repo_path": "/home/me/src/app"}])

    name: Name
    repos: list[RepoIn] = []


class RepoOut(BaseModel):
    id: str
    project_id: str
    name: str
    repo_path: str
    created_at: str

    @classmethod
    def of(cls, repo: Repo) -> RepoOut:
        return cls(id=repo.id, project_id=repo.project_id, name=repo.name, repo_path=repo.path,
                   created_at=repo.created_at)


class CheckOut(BaseModel):
    command: str
    timeout: int = Field(description="Seconds before it is stopped and counted as failed")


class ProjectOut(BaseModel):
    id: str
    name: str
    created_at: str
    post_create: str | None = Field(description="Shell command run in each new worktree before its agent starts")
    max_runs: int | None = Field(None, description="Runs of the project working at once; none: no limit of its own")
    notify: bool = Field(True, description="Desktop notifications when its runs need the user or end")
    auto_approve_plan: bool = Field(False, description="A finished plan's tasks are queued without approval")
    deps_need_merge: bool = Field(True, description="A task waits for its dependencies to be merged")
    checks: list[CheckOut] = Field([], description="Commands run in order in a run's worktrees when its agent "
                                   "is done; the run completes only when they pass")
    fix_tries: int = Field(0, description="Times a failed check's output goes back to the agent before the run fails")
    repos: list[RepoOut]

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(id=project.id, name=project.name, created_at=project.created_at,
                   post_create=project.post_create, max_runs=project.max_runs, notify=project.notify,
                   auto_approve_plan=project.auto_approve_plan, deps_need_merge=project.deps_need_merge,
                   checks=[CheckOut(command=c.command, timeout=c.timeout) for c in project.checks],
                   fix_tries=project.fix_tries, repos=[RepoOut.of(r) for r in project.repos])


# -- agent profiles --------------------------------------------------------------------------

def _tool_list(value: Any) -> Any:
    if isinstance(value, str):  # "Read,Edit,Bash" as well as ["Read", "Edit", "Bash"]
        return [t.strip() for t in value.split(",") if t.strip()]
    return value


ToolList = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                     BeforeValidator(_tool_list), Field(max_length=200)]
ProviderConfig = Annotated[dict[str, str | int | float | bool], Field(
    max_length=50, description="Where the agent's model is: base_url, api_key_env (the name of the environment "
                               "variable holding the key; a key itself is refused), wire_api, and settings of the "
                               "CLI's own")]
Role = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="What the profile is for, e.g. builder")]


class AgentLimits(Body):
    """The limits of a profile's runs; reaching one ends the run with its reason."""

    max_budget_usd: float | None = Field(None, gt=0, le=1_000_000, description="The agent stops when its spending "
                                         "reaches this (USD)")
    timeout_seconds: int | None = Field(None, ge=1, le=10_000_000, description="Wall-clock time a run may take")
    max_output_mb: float | None = Field(None, gt=0, le=1_000_000, description="Output a run may print (default 500)")
    idle_timeout_seconds: int | None = Field(None, ge=1, le=10_000_000, description="Silence (not waiting on "
                                             "the user) after which the agent counts as hung (default 1800)")


class AgentIn(AgentLimits):
    model_config = example(name="reviewer", cli="claude-code", model="claude-sonnet-4-6", max_turns=40,
                            instructions="Review for security problems; change nothing.",
                            allowed_tools=["Read", "Grep", "Glob"])

    name: Name
    project_id: str | None = Field(None, description="The project the profile belongs to; none: every project")
    cli: str = Field("claude-code", validation_alias=AliasChoices("cli", "cli_name"), max_length=100)
    model: str | None = Field(None, max_length=200)
    instructions: str | None = Field(None, max_length=100_000, description="Added to the system prompt")
    allowed_tools: ToolList = Field([], description="Tools that run without asking (list or comma-separated)")
    max_turns: int | None = Field(None, ge=1, le=100_000)
    command: str | None = Field(None, max_length=4096, description="Agent binary, instead of the one on PATH")
    permission_mode: str = Field("acceptEdits", pattern=r"^[A-Za-z]+$", max_length=40,
                                 description="The agent CLI's permission mode, e.g. acceptEdits")
    provider_config: ProviderConfig = {}
    role: Role = "builder"


class AgentUpdate(AgentLimits):
    """Only the fields given change."""

    model_config = example(model="claude-opus-4-1", max_turns=80)

    name: Name | None = None
    cli: str | None = Field(None, validation_alias=AliasChoices("cli", "cli_name"), max_length=100)
    model: str | None = Field(None, max_length=200)
    instructions: str | None = Field(None, max_length=100_000)
    allowed_tools: ToolList | None = None
    max_turns: int | None = Field(None, ge=1, le=100_000)
    command: str | None = Field(None, max_length=4096)
    permission_mode: str | None = Field(None, pattern=r"^[A-Za-z]+$", max_length=40,
                                        description="The agent CLI's permission mode, e.g. acceptEdits")
    provider_config: ProviderConfig | None = Field(None, description="Replaced whole; {} for the CLI's defaults")
    role: Role | None = None

    @field_validator("name", "cli", "allowed_tools", "permission_mode", "provider_config", "role")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if value is None:  # only when sent: a field left out keeps its value
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value


class CliOut(BaseModel):
    cli: str = Field(description="The agent CLI, as a profile names it: claude, codex, gemini...")
    path: str | None = Field(description="Where the server's host has it; none: not installed there")
    version: str | None
    install_hint: str = Field(description="How to install it")
    supports: dict[str, bool] = Field(description="What it can do under corral: asks, always, resume, fork, "
                                                  "rewind, tokens, cost, attach, plans")

    @classmethod
    def of(cls, found: Installed) -> CliOut:
        return cls(cli=found.cli, path=found.path, version=found.version, install_hint=found.install_hint,
                   supports=dataclasses.asdict(found.supports))


class AgentOut(BaseModel):
    id: str
    name: str
    project_id: str | None
    cli: str
    model: str | None
    instructions: str | None
    allowed_tools: list[str]
    max_turns: int | None
    command: str | None
    permission_mode: str
    created_at: str
    max_budget_usd: float | None = None
    timeout_seconds: int | None = None
    max_output_mb: float | None = None
    idle_timeout_seconds: int | None = None
    provider_config: dict[str, str] = {}
    role: str = "builder"

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(**agent.to_dict())


# -- context for runs ------------------------------------------------------------------------

class ContextIn(Body):
    model_config = example(kind="note", name="style", body="Keep functions short; no new dependencies.")

    kind: ContextKindName = Field(description="file: `body` is the file's text; url: `url` is fetched now "
                                              "(text only); note: `body` is said to the agent (in its system "
                                              "prompt where it has one)")
    name: str | None = Field(None, min_length=1, max_length=200, description="Needed for a file; default for a "
                                                                             "page: the URL's last part")
    body: str | None = Field(None, min_length=1, max_length=300_000, description="A file's or a note's text")
    url: str | None = Field(None, min_length=8, max_length=4096, pattern="^https?://", description="A page to fetch")


class ContextOut(BaseModel):
    id: str
    project_id: str
    run_id: str | None = Field(description="None: the project's, given to every run of it")
    kind: ContextKindName
    name: str
    source: str = Field(description="The file's path or the URL it was read from, when it was")
    tokens: int = Field(description="An estimate: one token per 4 bytes of its text")
    created_at: str
    by: str = Field(description="Who added it")

    @classmethod
    def of(cls, item: ContextItem) -> Self:
        return cls(**{k: v for k, v in item.to_dict().items() if k in cls.model_fields})


class ContextItemOut(ContextOut):
    body: str = Field(description="The text kept, as the agent gets it")


# -- runs ------------------------------------------------------------------------------------

class RunIn(Body):
    model_config = example(task="Add a /health endpoint that returns the version", agent_id="claude",
                            project_id="app", source_branch="main")

    task: str = Field(min_length=1, max_length=200_000, description="What the agent should do")
    agent_id: str = Field("claude", description="Agent profile id or name")
    project_id: str | None = Field(None, description="Default: the project of the agent profile")
    source_branch: str = Field("HEAD", min_length=1, max_length=500, description="Branch, tag or commit to start from")
    fix_tries: int | None = Field(None, ge=0, le=10, description="Times a failed check's output goes back to the "
                                  "agent before the run fails; none: as the project says")
    context: list[ContextIn] = Field([], max_length=50, description="Given to this run only, beside the "
                                                                    "project's; one that cannot be read: no run")


class WorktreeOut(BaseModel):
    repo_id: str
    repo_name: str
    repo_path: str
    path: str
    base_sha: str
    base_branch: str | None = Field(None, description="Where the work lands by default; none when the run "
                                                      "started from a bare commit")

    @classmethod
    def of(cls, worktree: Worktree) -> WorktreeOut:
        return cls(**worktree.to_dict())


class CheckResultOut(BaseModel):
    command: str
    passed: bool
    outcome: str = Field(description="How it ended: `exit 0`, `exit 1`, `timed out after 600 s`, `ended by SIGKILL`")


class RunOut(BaseModel):
    id: str
    project_id: str
    agent_id: str
    agent_name: str
    task: str
    status: RunStatusName
    source_branch: str
    branch: str
    created_at: str
    updated_at: str
    started_at: str | None
    ended_at: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    session_id: str | None
    reason: str | None
    parent_run_id: str | None
    files_changed: int | None
    pr_url: str | None = Field(description="The pull request opened for the run's branch")
    notify: bool = Field(description="Whether the user is told when the run needs them or ends")
    group_id: str | None = Field(None, description="The race the run is one of (the same task on several agents)")
    queued_at: str | None = Field(None, description="When it began to wait for a free slot: the queue's order")
    checks: list[CheckResultOut] = Field([], description="The last result of each of its project's checks")
    fix_tries: int | None = Field(None, description="Times a failed check goes back to the agent; none: as its "
                                  "project says")
    worktrees: list[WorktreeOut]

    @classmethod
    def of(cls, run: Run) -> RunOut:
        data = run.to_dict()
        data["source_branch"] = data.pop("base_ref")
        data["worktrees"] = [WorktreeOut.of(w) for w in run.worktrees]
        return cls(**{k: v for k, v in data.items() if k in cls.model_fields})


class EventOut(BaseModel):
    id: int | None
    run_id: str
    sequence: int
    event_type: str
    payload: dict[str, Any]
    created_at: str

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(id=event.id, run_id=event.run_id, sequence=event.seq, event_type=event.type,
                   payload=event.payload, created_at=event.created_at)


class ApprovalOut(BaseModel):
    id: int
    run_id: str
    request_id: str
    tool: str
    input: dict[str, Any]
    status: ApprovalStatusName
    message: str | None
    created_at: str
    answered_at: str | None
    suggestions: list[dict[str, Any]]
    always: bool
    answered_by: str | None = Field(None, description="Who answered: an API token's user, or the server's user")

    @classmethod
    def of(cls, approval: Approval) -> ApprovalOut:
        return cls(**approval.to_dict())


class AllowIn(Body):
    model_config = example(request_id="toolu_01A09q90qw90lq917835lq9", always=False)

    request_id: str | None = Field(None, description="Which request (default: the oldest pending one)")
    always: bool = Field(False, description="Also allow what the agent offers to remember, for this run")
    message: str | None = Field(None, max_length=10_000)


class DenyIn(Body):
    model_config = example(message="Leave the database alone: use the test fixtures")

    request_id: str | None = Field(None, description="Which request (default: the oldest pending one)")
    message: str | None = Field(None, max_length=10_000, description="Why: the agent is told")


class NotifyIn(Body):
    notify: bool


class ContinueIn(Body):
    model_config = example(message="Now add a test for it")

    message: str = Field(min_length=1, max_length=100_000, description="What the agent should do next")


class ForkIn(Body):
    model_config = example(message="Try it with a middleware instead")

    message: str = Field(min_length=1, max_length=100_000, description="What the forked run's agent should do")


class RewindIn(Body):
    turn: int = Field(ge=1, le=1_000_000, description="The turn to go back to (see the run's turns)")


class TurnOut(BaseModel):
    number: int
    at: str
    commits: dict[str, str] = Field(description="Repo name: the snapshot commit of its worktree after the turn")
    session_line: str | None = Field(description="Where the agent's session goes on from after a rewind here")


class QueueSettings(Body):
    max_runs: int | None = Field(None, ge=1, le=1000, description="Runs working at once over all projects; "
                                 "null: no limit")


class QueueOut(BaseModel):
    max_runs: int | None
    working: list[str] = Field(description="Ids of the runs working now")
    waiting: list[str] = Field(description="Ids of the queued runs, in the order they will start")


class RunTaskOut(BaseModel):
    id: str
    subject: str
    status: str
    description: str = ""
    active_form: str = ""


class CommitIn(Body):
    message: str = Field(min_length=1, max_length=100_000)


class CommitMade(BaseModel):
    repo: str
    commit: str


class CommitsOut(BaseModel):
    run_id: str
    commits: list[CommitMade]


class ChangesOut(BaseModel):
    run_id: str
    diff: str = Field(description="Unified diff against the commit the run started from")


class FileChangeOut(BaseModel):
    repo: str
    path: str
    status: Literal["added", "modified", "deleted", "renamed"]
    added: int
    deleted: int
    binary: bool
    old_path: str | None

    @classmethod
    def of(cls, repo: str, change: FileChange) -> FileChangeOut:
        return cls(repo=repo, **change.__dict__)


class DiffStatsOut(BaseModel):
    run_id: str
    files_changed: int
    insertions: int
    deletions: int
    files: list[FileChangeOut]


# -- the server ------------------------------------------------------------------------------

class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    runs_driven: int = Field(description="Runs whose agents this server runs")


# -- webhooks and notifications -----------------------------------------------------------------

class WebhookIn(Body):
    model_config = example(url="https://ci.example/hooks/corral",
                           events=[EventType.RUN_COMPLETED.value, EventType.RUN_FAILED.value])

    url: HttpUrl
    events: list[WebhookEvent] = Field(default_factory=lambda: list(ALL_WEBHOOK_EVENTS), min_length=1)
    format: Literal["json", "discord"] = Field("json", description="json: signed JSON; discord: a Discord message")
    secret: str | None = Field(None, min_length=16, max_length=200,
                               description="Key of the X-Signature-256 HMAC (default: one is made)")


class WebhookOut(BaseModel):
    id: str
    project_id: str | None
    url: str
    events: list[str]
    format: str
    created_at: str

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(**{k: v for k, v in webhook.to_dict().items() if k != "secret"})


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: verify X-Signature-256 with it")


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str
    webhook_id: str
    event_type: str
    run_id: str | None
    attempt: int
    status_code: int | None
    error: str | None
    delivered: bool
    created_at: str

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(**delivery.to_dict())


class CliModelSettings(Body):
    model: str | None = Field(None, min_length=1, max_length=200, description="Default model of the CLI")
    provider_config: ProviderConfig = {}


class ModelSettings(Body):
    """Each agent CLI's default model and endpoint, for the profiles that set none (by CLI name)."""

    model_config = example(clis={"codex": {"model": "gpt-5-codex", "provider_config": {
        "base_url": "http://127.0.0.1:8000/v1", "api_key_env": "OPENAI_API_KEY"}}})

    clis: dict[str, CliModelSettings] = {}


class NotificationSettings(Body):
    discord_webhook_url: HttpUrl | None = Field(None, description="Where to post run notifications; none: off")
    events: list[WebhookEvent] = Field(default_factory=lambda: list(ALL_WEBHOOK_EVENTS))


# -- the run WebSocket ---------------------------------------------------------------------------

class ApproveMessage(Body):
    type: Literal["approve"]
    allow: bool = True
    always: bool = False
    message: str | None = Field(None, max_length=10_000)
    request_id: str | None = None


class PingMessage(Body):
    type: Literal["ping"]


ClientMessage = Annotated[ApproveMessage | PingMessage, Field(discriminator="type")]
