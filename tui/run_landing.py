"""What the user does with a run's work and its branch: reject a file, commit, merge, revert, rebase,
rename, delete. Each asks first in a dialog that says what will happen and shows the engine's refusal
(a conflict with its files) without closing; then the branches, the runs and the diff are re-read.
It knows no widget: what it reads goes out as messages (BranchesLoaded, BranchChangesLoaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.faces import Corral
from core.landing import RunBranch
from core.models import Backup, Landing, Run, Worktree

from .format import plural
from .messages import BranchChangesLoaded, BranchesLoaded
from .screens.confirm import ConfirmDialog
from .screens.delete_branch import DeleteBranchDialog
from .screens.merge import MergeDialog
from .screens.text_entry import TextDialog
from .widgets.branch_table import key_of

if TYPE_CHECKING:
    from .app import CorralApp

LANDED = {"fast-forward": "fast-forwarded", "merge": "merged", "squash": "squashed", "rebase": "rebased"}


class RunLanding:
    def __init__(self, app: "CorralApp") -> None:
        self.app = app
        self.branches: list[RunBranch] = []
        self.loaded_once = False
        self._statuses: dict[str, str] = {}

    @property
    def engine(self) -> Corral:
        return self.app.engine

    # -- the branches ----------------------------------------------------------------------------

    def load_branches(self) -> None:
        async def load() -> None:
            self.app.post_message(BranchesLoaded(await self.engine.branches()))

        self.app.engine_work(load, group="branches", exclusive=True)

    def branches_loaded(self, branches: list[RunBranch]) -> None:
        self.branches, self.loaded_once = branches, True
        self.app.show_branches()

    def runs_changed(self, runs: list[Run], shown: bool) -> None:
        """A run that started or ended moved its branch: re-read them if the tab shows."""
        statuses = {run.id: run.status for run in runs}
        if statuses != self._statuses and shown and self.loaded_once:
            self.load_branches()
        self._statuses = statuses
        if shown:  # else when its tab shows
            self.app.show_branches()

    def load_changes(self, run_id: str, tip: str) -> None:
        """What a branch's run changed, for its detail."""
        async def load() -> None:
            self.app.post_message(BranchChangesLoaded(run_id, tip, await self.engine.changes(run_id)))

        self.app.engine_work(load, group="branch-changes")

    def _changed(self, run_id: str | None, diff: bool = True) -> None:
        """Re-read what an action changed: the branches, the runs, and the diff when it shows this run."""
        self.app.branch_changes_stale(run_id)
        self.load_branches()
        self.app.feed.request_runs()
        shown = self.app.feed.last_changes
        if diff and run_id and shown is not None and shown.run.id == run_id:
            self.app.show_diff(run_id, switch=False)

    def _ended(self, run: Run | None, branch: RunBranch | None = None) -> Run | None:
        """The run, fresh, when it has ended; else None, having said why."""
        if run is None and branch is not None:
            self.app.notify(f"{branch.branch.name} belongs to no run corral knows: land or rename it with git",
                            severity="warning", timeout=5)
            return None
        run = self.app.feed.by_id.get(run.id, run) if run else None
        if run is None:
            self.app.notify("pick a run first", severity="warning", timeout=3)
        elif run.active:
            self.app.notify(f"run {run.short_id} is still going: wait for it to end or cancel it",
                            severity="warning", timeout=4)
            return None
        return run

    def run_of(self, item: RunBranch) -> Run | None:
        return self.app.feed.by_id.get(item.run_id or "")

    # -- the Diffs tab ---------------------------------------------------------------------------

    def reject(self, run: Run | None, repo: str | None, path: str) -> None:
        run = self._ended(run)
        if run is None:
            return
        name = f"{repo}/{path}" if repo else path
        question = (f"Put {name} back as it was when run {run.short_id} started (a file the run added is "
                    "removed)? Commit (C) or merge afterwards to make that part of the branch.")

        def done(rejected: list[str] | None) -> None:
            if rejected is not None:
                self.app.notify(f"rejected {', '.join(rejected) or name}", timeout=3)
                self._changed(run.id)

        self.app.push_screen(ConfirmDialog("Reject file", question, yes="Reject", no="Keep",
                                           work=lambda: self.engine.reject(run.id, [name])), done)

    def commit(self, run: Run | None) -> None:
        run = self._ended(run)
        if run is None:
            return

        def done(made: list[tuple[Worktree, str]] | None) -> None:
            if made:
                shas = ", ".join(f"{sha[:8]}" + (f" in {w.repo_name}" if len(made) > 1 else "") for w, sha in made)
                self.app.notify(f"committed {shas} on {run.branch}", timeout=4)
                self._changed(run.id)

        self.app.push_screen(TextDialog(
            "Commit", f"Commit what run {run.short_id}'s worktree holds to {run.branch}.",
            lambda message: self.engine.commit(run.id, message), value=run.task.splitlines()[0][:72] if run.task
            else "", placeholder="the commit message", button="Commit", id="commit"), done)

    def merge(self, run: Run | None, branch: RunBranch | None = None) -> None:
        run = self._ended(run, branch)
        if run is None:
            return

        def done(landed: list[Landing] | None) -> None:
            if landed is None:
                return
            for landing in landed:
                if landing.how == "up-to-date":
                    self.app.notify(f"{landing.target} already had all of {run.branch}", timeout=4)
                else:
                    self.app.notify(f"{LANDED.get(landing.how, landing.how)} {run.branch} into {landing.target}: "
                                    f"it is now {landing.commit[:8]}" + (f" ({landing.repo.name})"
                                                                         if len(landed) > 1 else ""), timeout=5)
            self._changed(run.id)

        self.app.push_screen(MergeDialog(self.engine, run), done)

    def revert(self, run: Run | None) -> None:
        run = self._ended(run)
        if run is None:
            return
        question = (f"Throw away all of run {run.short_id}'s work? Its branch and worktree go back to where the "
                    f"run started. Nothing is lost: a backup ref, refs/corral/backup/{run.short_id}, keeps the work "
                    "(uncommitted changes too).")

        def done(backups: list[Backup] | None) -> None:
            if backups:
                self.app.notify(f"reverted; the work is kept at {backups[0].ref} ({backups[0].commit[:8]})",
                                timeout=6)
                self._changed(run.id)

        self.app.push_screen(ConfirmDialog("Revert run", question, yes="Revert", no="Keep",
                                           work=lambda: self.engine.revert(run.id)), done)

    # -- the Branches tab ------------------------------------------------------------------------

    def rebase(self, item: RunBranch) -> None:
        run = self._ended(self.run_of(item), item)
        if run is None:
            return
        branch = item.branch
        base = branch.base or "its base"
        if branch.behind == 0:
            self.app.notify(f"{branch.name} is already on top of {base}: nothing to replay", timeout=4)
            return
        question = (f"Replay the {plural(branch.ahead, 'commit')} of {branch.name} on top of {base}, which has "
                    f"{plural(branch.behind, 'commit')} the branch does not? The branch and its worktree move; "
                    f"{base} stays as it is.")

        def done(tips: list[str] | None) -> None:
            if tips:
                self.app.notify(f"rebased {branch.name} on {base}: its tip is now {tips[0][:8]}", timeout=4)
                self._changed(run.id)

        self.app.push_screen(ConfirmDialog("Rebase branch", question, yes="Rebase", no="Back", danger=False,
                                           work=lambda: self.engine.rebase(run.id)), done)

    def rename(self, item: RunBranch) -> None:
        run = self._ended(self.run_of(item), item)
        if run is None:
            return

        def done(renamed: Run | None) -> None:
            if renamed is not None:
                self.app.notify(f"renamed {item.branch.name} to {renamed.branch}", timeout=4)
                self._changed(run.id)

        self.app.push_screen(TextDialog(
            "Rename branch", f"A new name for {item.branch.name}; run {run.short_id} follows it.",
            lambda name: self.engine.rename_branch(run.id, name), value=item.branch.name,
            placeholder="corral/…", button="Rename", id="rename"), done)

    def delete(self, item: RunBranch) -> None:
        run = self.run_of(item)
        if run is not None and run.active:
            self._ended(run)
            return

        def done(deleted: Any) -> None:
            if deleted is not None:
                self.app.notify(f"deleted {item.branch.name}", timeout=4)
                # gone at once: else its detail asks for what its worktree holds before the branches are re-read
                self.branches = [b for b in self.branches if key_of(b) != key_of(item)]
                self.app.show_branches()
                self._changed(item.run_id, diff=False)

        self.app.push_screen(DeleteBranchDialog(self.engine, item, run), done)
