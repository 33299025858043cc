"""Landing a run's work: what changed, keeping or throwing away files, committing, merging,
branches, pushing, pull requests and clean-up.

The git work is in core.git.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from . import git
from .config import Paths
from .errors import Conflict, CorralError, NotFound
from .models import CHECKPOINT, AuditAction, EventType, LandingPlan, Project, Run, Worktree
from .render import plural
from .projects import Projects
from .runs import Runs
from .scheduler import Scheduler
from .store import Store

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class RunBranch:
    """A `corral/*` branch of one of a project's repos, with the run it belongs to."""

    project_id: str
    repo_id: str
    repo_name: str
    repo_path: str
    branch: git.Branch
    run_id: str | None


@dataclass(frozen=True)
class Cleanup:
    run_id: str
    path: str
    bytes: int
    why: str  # "merged" | "branch deleted" | "run deleted"


@dataclass(eq=False, repr=False)
class Landing:
    paths: Paths
    store: Store
    projects: Projects
    runs: Runs
    scheduler: Scheduler

    # -- reading -------------------------------------------------------------------------

    async def changes(self, run_key: str) -> list[tuple[Worktree, list[git.FileChange]]]:
        run = await self.runs.run(run_key)
        return [(w, await asyncio.to_thread(git.changes, w.path, w.base_sha)) for w in self._worktrees(run)]

    async def diff(self, run_key: str, paths: list[str] | None = None) -> str:
        run = await self.runs.run(run_key)
        worktrees = self._worktrees(run)
        parts = []
        for worktree in worktrees:
            text = await asyncio.to_thread(git.diff, worktree.path, worktree.base_sha, paths)
            if len(worktrees) > 1 and text:
                text = f"# repo {worktree.repo_name}\n{text}"
            parts.append(text)
        return "".join(parts)

    def _worktrees(self, run: Run) -> list[Worktree]:
        missing = [w for w in run.worktrees if not Path(w.path).is_dir()]
        if missing:
            raise CorralError(f"the worktree of run {run.short_id} is gone ({missing[0].path}): its "
                              f"committed work is on {run.branch}; a clean-up forgets the worktree",
                              code="WORKTREE_MISSING")
        return run.worktrees

    async def _ended(self, run_key: str) -> Run:
        run = await self.runs.run(run_key)
        if run.active:
            raise Conflict(f"run {run.short_id} is {run.status}: wait for it to end or cancel it",
                           code="RUN_ACTIVE")
        return run

    def _split(self, run: Run, paths: list[str]) -> dict[str, list[str]]:
        """Paths per worktree: `repo/path` names the repo when the run spans several."""
        worktrees = self._worktrees(run)
        if len(worktrees) == 1:
            return {worktrees[0].path: list(paths)}
        by_name = {w.repo_name: w.path for w in worktrees}
        split: dict[str, list[str]] = {}
        for path in paths:
            repo, _, rest = path.partition("/")
            if repo not in by_name or not rest:
                raise CorralError(f"{path!r}: name the repo first, one of {', '.join(sorted(by_name))}",
                                  code="INVALID_PATH")
            split.setdefault(by_name[repo], []).append(rest)
        return split

    async def _note(self, run: Run, kind: str, payload: dict) -> None:
        """An event on the run for something done to it from outside the agent."""
        await self.store.append(run.id, [(kind, payload)])

    # -- keeping and throwing away -------------------------------------------------------

    async def reject(self, run_key: str, paths: list[str]) -> list[str]:
        """Put files back as they were at the run's base (a new file is removed)."""
        run = await self._ended(run_key)
        if not paths:
            raise CorralError("name the files to reject", code="NO_PATHS")
        if any(not path.strip() for path in paths):  # "" is no file, not every file
            raise CorralError("an empty path names no file: name the files to reject ('.' for all of them)",
                              code="INVALID_PATH")
        restored: list[str] = []
        bases = {w.path: w.base_sha for w in run.worktrees}
        for path, wanted in self._split(run, paths).items():
            restored += await asyncio.to_thread(git.reject_files, path, bases[path], wanted)
        await self._note(run, EventType.USER_REJECTED, {"paths": restored})
        return restored

    async def revert(self, run_key: str) -> list[git.Backup]:
        """Throw away all of the run's work; a backup ref keeps it reachable."""
        run = await self._ended(run_key)
        backups = [await asyncio.to_thread(git.revert_all, w.path, w.base_sha, f"refs/corral/backup/{run.short_id}")
                   for w in self._worktrees(run)]
        await self._note(run, EventType.USER_REVERTED, {"backups": [b.ref for b in backups]})
        return backups

    async def commit(self, run_key: str, message: str) -> list[tuple[Worktree, str]]:
        """Commit what the run's worktrees hold on its branch; the commits made, per repo."""
        run = await self._ended(run_key)
        if not message.strip():
            raise CorralError("a commit needs a message", code="EMPTY_MESSAGE")
        made = []
        for worktree in self._worktrees(run):
            sha = await asyncio.to_thread(git.commit_all, worktree.path, message)
            if sha:
                made.append((worktree, sha))
        if not made:
            raise CorralError(f"run {run.short_id} has nothing to commit: its work is already on "
                              f"{run.branch}", code="NOTHING_TO_COMMIT")
        await self._note(run, EventType.USER_COMMITTED,
                         {"commits": {w.repo_name: sha for w, sha in made}, "message": message})
        return made

    # -- landing -------------------------------------------------------------------------

    async def landing_plan(self, run_key: str, into: str | None = None) -> list[LandingPlan]:
        """Per repo of the run: the branch it would land on (`into`, else the repo's own base branch)
        and the run's branch compared with it, for saying what landing would do before it does."""
        run = await self.runs.run(run_key)
        default = next((w.base_branch for w in run.worktrees if w.base_branch), "")
        plans = []
        for worktree in run.worktrees:
            target = into or worktree.base_branch or default
            branches = await asyncio.to_thread(git.corral_branches, worktree.repo_path, target)
            found = next((b for b in branches if b.name == run.branch), None)
            plans.append(LandingPlan(worktree.repo_name, target, found))
        return plans

    def _target(self, run: Run, worktree: Worktree, into: str | None) -> str:
        if into is not None:
            git.check_branch_name(into)
        target = into or worktree.base_branch
        if not target:
            raise CorralError(f"run {run.short_id} started from a commit, not a branch: give `into`, the "
                              "branch to land it on", code="NO_TARGET", details={"field": "into"})
        return target

    async def _checkpoint_all(self, run: Run) -> None:
        for worktree in run.worktrees:
            if Path(worktree.path).is_dir():
                await asyncio.to_thread(git.commit_all, worktree.path, CHECKPOINT.format(run.short_id))

    async def merge(self, run_key: str, how: str = "squash", into: str | None = None,
                    message: str | None = None) -> list[git.Landing]:
        """Land the run's branch on its base branch (or `into`): squash (its checkpoints become one
        commit), merge (its commits kept: fast-forward when it can) or rebase. Conflicts in any
        repo are found before anything is written anywhere."""
        run = await self._ended(run_key)
        if how not in git.HOWS:
            raise CorralError(f"land with one of {', '.join(git.HOWS)}, not {how!r}", code="INVALID_HOW")
        await self._checkpoint_all(run)
        plan = [(w, self._target(run, w, into)) for w in run.worktrees]
        for worktree, target in plan:
            conflicts = await asyncio.to_thread(git.can_land, worktree.repo_path, run.branch, target, how)
            if conflicts:
                raise git.MergeConflict(
                    f"conflict: landing run {run.short_id} on {target} in {worktree.repo_name} would "
                    f"conflict in {', '.join(conflicts)}; nothing was changed",
                    {path: "conflict" for path in conflicts})
        message = message or f"{run.task.splitlines()[0][:72]}\n\nFrom corral run {run.short_id} ({run.branch})."
        landed = [await asyncio.to_thread(git.land, w.repo_path, run.branch, target, how, message)
                  for w, target in plan]
        await self._note(run, EventType.RUN_LANDED, {"how": how, "landings": [
            {"repo": w.repo_name, "target": done.target, "how": done.how, "commit": done.commit}
            for (w, _), done in zip(plan, landed, strict=True)]})
        try:
            await self.scheduler.schedule()  # the run's task is done now, and what waited on it may start
        except CorralError as error:
            log.warning("scheduling after the merge of run %s: %s", run.short_id, error)
        return landed

    async def rebase(self, run_key: str, onto: str | None = None) -> list[str]:
        """Replay the run's branch on the newest base branch (or `onto`); the new tips."""
        run = await self._ended(run_key)
        await self._checkpoint_all(run)
        tips = [await asyncio.to_thread(git.rebase_branch, w.repo_path, run.branch, self._target(run, w, onto))
                for w in run.worktrees]
        await self._note(run, EventType.RUN_REBASED, {"tips": tips})
        return tips

    # -- branches ------------------------------------------------------------------------

    async def branches(self, project_key: str | None = None) -> list[RunBranch]:
        """Every corral branch across the project's repos (or every project's)."""
        projects = [await self.projects.project(project_key)] if project_key else await self.projects.projects()
        runs = {r.branch: r for r in await self.store.list_runs()}

        def base_of(name: str) -> str | None:
            run = runs.get(name)
            return next((w.base_branch for w in run.worktrees if w.base_branch), None) if run else None

        found = []
        for project in projects:
            for repo in project.repos:
                for branch in await asyncio.to_thread(git.corral_branches, repo.path, None, base_of):
                    run = runs.get(branch.name)
                    found.append(RunBranch(project.id, repo.id, repo.name, repo.path, branch,
                                           run.id if run else None))
        return found

    async def rename_branch(self, run_key: str, name: str) -> Run:
        run = await self._ended(run_key)
        name = name.strip()
        if name == run.branch:
            raise CorralError(f"the branch is already called {name}: give it a new name", code="INVALID_NAME")
        git.check_branch_name(name)
        for worktree in run.worktrees:
            await asyncio.to_thread(git.rename_branch, worktree.repo_path, run.branch, name)
        await self.store.update_run(run.id, branch=name)
        await self._note(run, EventType.RUN_BRANCH_RENAMED, {"from": run.branch, "to": name})
        return await self.runs.run(run.id)

    async def delete_branch(self, name: str, *, project: str | None = None, force: bool = False,
                            repo: str | None = None) -> list[RunBranch]:
        """Delete a corral branch (and its worktree) wherever the project's repos (or the repo
        given) have it; refused when it holds work not merged into its base, unless forced."""
        doomed = [b for b in await self.branches(project) if b.branch.name == name
                  and repo in (None, b.repo_id, b.repo_name)]
        if not doomed:
            raise NotFound(f"no corral branch {name!r}", code="BRANCH_NOT_FOUND")
        for found in doomed:
            if found.run_id and (await self.runs.run(found.run_id)).active:
                raise Conflict(f"branch {name} belongs to a run that is still going", code="RUN_ACTIVE")
        for found in doomed:
            base = found.branch.base or "HEAD"
            await asyncio.to_thread(git.delete_branch_and_worktree, found.repo_path, name, base, force)
            await self.store.audit.record(found.project_id, AuditAction.BRANCH_DELETED, name,
                                          {"repo": found.repo_name, "run_id": found.run_id, "force": force})
        return doomed

    async def delete_run(self, run_key: str, force: bool = False) -> None:
        """Forget a run: its branch and worktree (refused when unmerged unless forced), events, logs."""
        run = await self._ended(run_key)
        for worktree in run.worktrees:
            try:
                await asyncio.to_thread(git.resolve, worktree.repo_path, f"refs/heads/{run.branch}")
            except git.GitError:  # the branch is gone already: only its worktree may be left
                if Path(worktree.path).exists():
                    if not force and await self._has_uncommitted(worktree):
                        raise git.WouldLoseWork(f"{worktree.path} has uncommitted changes; deleting it "
                                                "would lose them (force deletes it anyway)",
                                                code="UNCOMMITTED_WORK",
                                                details={"branch": run.branch, "force": True}) from None
                    await asyncio.to_thread(git.remove_worktree, worktree.repo_path, worktree.path)
                continue
            await asyncio.to_thread(git.delete_branch_and_worktree, worktree.repo_path, run.branch,
                                    worktree.base_branch or worktree.base_sha, force)
        for repo_path in {w.repo_path for w in run.worktrees}:  # its turn snapshots keep objects alive
            await asyncio.to_thread(git.forget_run_refs, repo_path, run.short_id)
        self.runs.drop_folder(run)
        await self.store.delete_run(run.id)
        await self.store.audit.record(run.project_id, AuditAction.RUN_DELETED, f"run {run.short_id}",
                                      {"run_id": run.id, "task": run.task, "branch": run.branch, "force": force})
        for log in self.paths.logs.glob(f"{run.short_id}.*"):
            log.unlink(missing_ok=True)
        shutil.rmtree(self.paths.agent_home(run.id), ignore_errors=True)  # its agent's settings and sessions

    async def delete_project(self, key: str, force: bool = False) -> None:
        """Forget a project and its runs (their branches and worktrees too; the repos stay): refused,
        deleting nothing, while one of its runs is active or, unless forced, holds unmerged work."""
        project = await self.projects.project(key)
        await self._delete_runs_of(project, force)
        await self.store.delete_project(project.id)
        await self.store.audit.record(project.id, AuditAction.PROJECT_DELETED, project.name, {"force": force})

    async def _delete_runs_of(self, project: Project, force: bool = False) -> None:
        """Delete every run of the project (planning sessions too), or none: refused while one is
        active, or, unless forced, while one holds work its base does not have."""
        runs = [r for r in await self.store.list_runs(kind=None) if r.project_id == project.id]
        if active := [r for r in runs if r.active]:
            raise Conflict(f"project {project.name!r} has {plural(len(active), 'active run')}: cancel "
                           f"{'it' if len(active) == 1 else 'them'} first", code="PROJECT_BUSY")
        if not force and (unmerged := [r for r in runs if await self._holds_work(r)]):
            raise git.WouldLoseWork(
                f"project {project.name!r} has {plural(len(unmerged), 'run')} with work not merged "
                f"({', '.join(r.short_id for r in unmerged)}): land or delete "
                f"{'it' if len(unmerged) == 1 else 'them'} first, or force", code="PROJECT_UNMERGED")
        for run in runs:  # what would stop a delete half way is found before any is deleted
            for worktree in run.worktrees:
                if await asyncio.to_thread(git.current_branch, worktree.repo_path) == run.branch:
                    raise Conflict(f"run {run.short_id}'s branch {run.branch} is checked out in "
                                   f"{worktree.repo_path}: switch to another branch first", code="BRANCH_CHECKED_OUT")
        for run in runs:
            await self.delete_run(run.id, force=True)

    async def _holds_work(self, run: Run) -> bool:
        """Whether deleting the run would lose work: commits not in its base, or uncommitted changes."""
        for worktree in run.worktrees:
            if Path(worktree.path).exists() and await self._has_uncommitted(worktree):
                return True
            try:
                await asyncio.to_thread(git.resolve, worktree.repo_path, f"refs/heads/{run.branch}")
            except git.GitError:
                continue  # no branch: no commits to lose
            if not await asyncio.to_thread(git.is_landed, worktree.repo_path, run.branch,
                                           worktree.base_branch or worktree.base_sha):
                return True
        return False

    # -- sharing -------------------------------------------------------------------------

    async def push(self, run_key: str, remote: str = "origin") -> list[str]:
        run = await self._ended(run_key)
        await self._checkpoint_all(run)
        shas = [await asyncio.to_thread(git.push_branch, w.repo_path, run.branch, remote) for w in run.worktrees]
        await self._note(run, EventType.RUN_PUSHED, {"remote": remote, "commits": shas})
        return shas

    async def pull_request(self, run_key: str, title: str | None = None, body: str | None = None,
                           remote: str = "origin") -> str:
        """Push the run's branch and open a pull request with the GitHub CLI; its URL."""
        run = await self._ended(run_key)
        if len(run.worktrees) != 1:
            raise CorralError("a pull request covers one repo: this run spans several", code="MANY_REPOS")
        gh = shutil.which("gh")
        if gh is None:
            raise CorralError("the GitHub CLI `gh` is not installed: install it from https://cli.github.com "
                              "and run `gh auth login`, or push the run's branch instead", code="GH_MISSING")
        worktree = run.worktrees[0]
        await self.push(run.id, remote)
        title = title or run.task.splitlines()[0][:72]
        body = body or f"{run.task}\n\nMade by corral run {run.short_id}."
        proc = await asyncio.create_subprocess_exec(
            gh, "pr", "create", "--head", run.branch, "--base", self._target(run, worktree, None),
            "--title", title, "--body", body, cwd=worktree.repo_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            reason = (err.decode(errors="replace").strip().splitlines() or ["no reason given"])[-1]
            raise CorralError(f"gh could not open the pull request: {reason}", code="GH_FAILED")
        url = out.decode().strip().splitlines()[-1]
        await self.store.update_run(run.id, pr_url=url)
        await self._note(run, EventType.RUN_PULL_REQUEST, {"url": url})
        return url

    # -- clean-up ------------------------------------------------------------------------

    async def clean(self, dry_run: bool = False) -> list[Cleanup]:
        """Remove the worktrees of ended runs whose work is merged, whose branch has no commits of
        its own, or whose branch is gone."""
        branches = {(b.repo_path, b.branch.name): b.branch for b in await self.branches()}
        found = []
        for run in await self.store.list_runs():
            if run.active:
                continue
            for worktree in run.worktrees:
                if not Path(worktree.path).exists():
                    continue
                branch = branches.get((worktree.repo_path, run.branch))
                why = ("branch deleted" if branch is None else "merged" if branch.merged
                       else "no changes" if not branch.changed else None)
                if why is None or await self._has_uncommitted(worktree):
                    continue  # uncommitted work is never thrown away by a clean-up
                size = await asyncio.to_thread(git.disk_usage, worktree.path)
                found.append(Cleanup(run.id, worktree.path, size, why))
                if not dry_run:
                    await asyncio.to_thread(git.remove_worktree, worktree.repo_path, worktree.path)
            if not dry_run:
                self.runs.drop_folder(run)
        if not dry_run:
            for project in await self.projects.projects():
                for repo in project.repos:
                    await asyncio.to_thread(git.prune_worktrees, repo.path)
        return found

    async def _has_uncommitted(self, worktree: Worktree) -> bool:
        try:
            return bool(await asyncio.to_thread(git.changes, worktree.path, "HEAD"))
        except git.GitError:
            return True  # cannot tell: keep it

    async def disk_use(self, leaving: Collection[str] = ()) -> dict[str, int]:
        """Bytes each run's worktrees take on disk, by run id; `leaving`: paths not to count."""
        use: dict[str, int] = {}
        for run in await self.store.list_runs():
            for worktree in run.worktrees:
                if worktree.path not in leaving and Path(worktree.path).exists():
                    use[run.id] = use.get(run.id, 0) + await asyncio.to_thread(git.disk_usage, worktree.path)
        return use


def to_json(item: RunBranch) -> dict:
    return {"project_id": item.project_id, "repo": item.repo_name, "repo_id": item.repo_id, "run_id": item.run_id,
            **json.loads(json.dumps(item.branch.__dict__, default=str))}
