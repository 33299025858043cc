"""What the landing routes take and give: keeping or throwing away a run's work, merging,
rebasing, pushing, pull requests, branches, project settings and clean-up."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..landing import Cleanup, RunBranch
from ..models import Backup, Branch, Landing, LandingPlan, ProjectSetting, Worktree
from .schemas import Body, example

BranchName = Annotated[str, Field(min_length=1, max_length=250)]
RemoteName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")]
Message = Annotated[str, Field(min_length=1, max_length=100_000)]


# -- keeping and throwing away ---------------------------------------------------------------

class RejectIn(Body):
    model_config = example(paths=["package-lock.json"])

    paths: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        min_length=1, max_length=10_000,
        description='Files or folders to put back as they were at the run\'s base; ["."] rejects every '
                    'change. In a run over several repos, start each path with the repo\'s name: "api/x.py"')


class RejectedOut(BaseModel):
    run_id: str
    rejected: list[str] = Field(description="The files put back (a file the run added is removed)")


class BackupOut(BaseModel):
    repo: str
    ref: str = Field(description="Keeps the thrown-away work reachable, e.g. refs/corral/backup/1a2b3c4d")
    commit: str

    @classmethod
    def of(cls, worktree: Worktree, backup: Backup) -> BackupOut:
        return cls(repo=worktree.repo_name, ref=backup.ref, commit=backup.commit)


class RevertedOut(BaseModel):
    run_id: str
    backups: list[BackupOut]


# -- landing ---------------------------------------------------------------------------------

class MergeIn(Body):
    model_config = example(how="squash", into="main", message="Add a /health endpoint")

    how: Literal["squash", "merge", "rebase"] = Field(
        "squash", description="squash: one commit holding the run's work (the default); merge: fast-forward "
                              "when it can, else a merge commit; rebase: the run's commits replayed on the target")
    into: BranchName | None = Field(None, description="Branch to land on (default: the one the run started from)")
    message: Message | None = Field(None, description="Message of the merge or squash commit")


class LandingOut(BaseModel):
    repo: str
    repo_path: str
    target: str
    how: Literal["fast-forward", "merge", "squash", "rebase", "up-to-date"]
    commit: str = Field(description="The target's tip now")
    previous: str = Field(description="The target's tip before")

    @classmethod
    def of(cls, worktree: Worktree, landing: Landing) -> LandingOut:
        return cls(repo=worktree.repo_name, repo_path=str(landing.repo), target=landing.target,
                   how=landing.how, commit=landing.commit, previous=landing.previous)


class MergedOut(BaseModel):
    run_id: str
    branch: str
    landings: list[LandingOut]


class RebaseIn(Body):
    onto: BranchName | None = Field(None, description="Branch to replay on (default: the one the run started from)")


class TipOut(BaseModel):
    repo: str
    commit: str


class RebasedOut(BaseModel):
    run_id: str
    branch: str
    tips: list[TipOut] = Field(description="The run branch's new tip in each repo")


# -- sharing ---------------------------------------------------------------------------------

class PushIn(Body):
    remote: RemoteName = Field("origin", description="A remote configured in the repo")


class PushedOut(BaseModel):
    run_id: str
    branch: str
    remote: str
    commits: list[TipOut] = Field(description="The commit pushed from each repo")


class PullRequestIn(Body):
    title: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        None, description="Default: the task's first line")
    body: Message | None = Field(None, description="Default: the task")
    remote: RemoteName = Field("origin", description="Where the branch is pushed first")


class PullRequestOut(BaseModel):
    run_id: str
    branch: str
    url: str


class RenameBranchIn(Body):
    model_config = example(name="feat/health")

    name: BranchName


# -- branches --------------------------------------------------------------------------------

class BranchStateOut(BaseModel):
    name: str
    tip: str
    subject: str = Field(description="First line of the tip's message")
    committed_at: str
    ahead: int = Field(description="Commits on the branch that its base does not have")
    behind: int = Field(description="Commits on its base that the branch does not have")
    merged: bool = Field(description="Its base holds its work: merged, fast-forwarded or squashed in")
    changed: bool = Field(description="It has commits of its own; false: no changes, so nothing to merge")
    pushed: bool = Field(description="A remote-tracking branch of the same name holds the tip")
    worktree: str | None = Field(description="Where it is checked out")
    base: str | None = Field(description="What ahead, behind and merged compare with")

    @classmethod
    def of_branch(cls, b: Branch) -> dict:
        return dict(name=b.name, tip=b.tip, subject=b.subject, committed_at=b.committed_at, ahead=b.ahead,
                    behind=b.behind, merged=b.merged, changed=b.changed, pushed=b.pushed, worktree=b.worktree,
                    base=b.base)


class BranchOut(BranchStateOut):
    project_id: str
    repo_id: str
    repo: str
    run_id: str | None = Field(description="The run the branch belongs to; none: a branch no run knows")

    @classmethod
    def of(cls, found: RunBranch) -> BranchOut:
        return cls(project_id=found.project_id, repo_id=found.repo_id, repo=found.repo_name,
                   run_id=found.run_id, **cls.of_branch(found.branch))


class LandingPlanOut(BaseModel):
    repo: str = Field(description="The repo's name in the project")
    target: str = Field(description="The branch the run's branch would land on")
    branch: BranchStateOut | None = Field(description="The run's branch compared with the target; none when "
                                                      "the repo lacks it")

    @classmethod
    def of(cls, plan: LandingPlan) -> LandingPlanOut:
        found = plan.branch
        return cls(repo=plan.repo, target=plan.target,
                   branch=BranchStateOut(**BranchStateOut.of_branch(found)) if found else None)


class PullRequestStatusOut(BaseModel):
    repo_id: str
    repo: str
    branch: str
    run_id: str | None
    pr_url: str | None = Field(description="The pull request recorded for the run; none: no PR opened here")


# -- project settings ------------------------------------------------------------------------

class CheckIn(Body):
    command: Annotated[str, Field(min_length=1, max_length=10_000)] = Field(
        description="One line of shell, run in the worktree")
    timeout: int = Field(600, ge=1, le=86_400, description="Seconds before it is stopped and counted as failed")


class ProjectSettings(Body):
    post_create: Annotated[str, Field(max_length=10_000)] | None = Field(
        None, description="Shell command run in each new worktree before its agent starts (e.g. install "
                          "dependencies); none or blank: nothing")
    max_runs: int | None = Field(None, ge=1, le=1000, description="Runs of the project working at once; "
                                 "more wait as queued. None: only the global limit")
    notify: bool = Field(True, description="Desktop notifications when its runs need the user or end")
    auto_approve_plan: bool = Field(False, description="A finished plan's tasks are queued without approval")
    deps_need_merge: bool = Field(True, description="A task waits for its dependencies to be merged (false: "
                                  "completed is enough)")
    checks: list[CheckIn] = Field([], max_length=20, description="Commands run in order in a run's worktrees "
                                  "when its agent is done (tests, linters, a build); the run completes only "
                                  "when they pass")
    fix_tries: int = Field(0, ge=0, le=10, description="Times a failed check's output goes back to the agent, "
                           "to fix, before the run fails")


if set(ProjectSettings.model_fields) != set(ProjectSetting):  # the schema and the engine take the same names
    raise TypeError("ProjectSettings and core.models.ProjectSetting name different settings")


# -- clean-up --------------------------------------------------------------------------------

class CleanIn(Body):
    dry_run: bool = Field(False, description="Only say what would be removed")


class CleanupOut(BaseModel):
    run_id: str
    path: str
    bytes: int
    why: Literal["merged", "branch deleted", "run deleted"]

    @classmethod
    def of(cls, cleanup: Cleanup) -> CleanupOut:
        return cls(run_id=cleanup.run_id, path=cleanup.path, bytes=cleanup.bytes,
                   why=cleanup.why)


class CleanOut(BaseModel):
    dry_run: bool
    removed: list[CleanupOut] = Field(description="Worktrees removed (or that would be, on a dry run)")
    bytes_freed: int


class RunDiskUse(BaseModel):
    run_id: str
    bytes: int


class DiskUseOut(BaseModel):
    runs: list[RunDiskUse] = Field(description="Runs whose worktrees are still on disk, largest first")
    total_bytes: int
