"""Landing a run's work from the dashboard, with the keyboard, against the real Claude Code CLI and the
scripted model: reject, commit, merge, revert in Diffs; merge, rebase, rename, delete in Branches."""

from __future__ import annotations

from pathlib import Path

from helpers import BASH, finished_run, git, refs_and_status, start, until
from model_server import text, tool

from core.git import Branch, FileChange
from core.models import Worktree
from core.render import stat
from tui.app import CorralApp, make_app
from tui.messages import RunsLoaded
from tui.screens.confirm import ConfirmDialog
from tui.screens.delete_branch import DeleteBranchDialog
from tui.screens.merge import MergeDialog, landing_words
from tui.screens.text_entry import TextDialog
from tui.widgets.branches_pane import BranchesPane
from tui.widgets.diffs_pane import DiffsPane, FileList


def user_commit(repo: Path, name: str, content: str, message: str) -> None:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", message)


def file_names(app: CorralApp) -> list[str]:
    files = app.query_one(FileList)
    return [(files.get_option_at_index(i).id or "").partition("\0")[2] for i in range(files.option_count)]


async def open_diff(pilot, app: CorralApp, run_id: str, count: int) -> None:
    await start(pilot, app)
    await until(pilot, lambda: app.selected_run_id == run_id, "the run to be picked")
    await pilot.press("D")
    await until(pilot, lambda: app.query(FileList) and len(file_names(app)) == count, "the run's files")


async def open_branches(pilot, app: CorralApp, count: int) -> BranchesPane:
    await start(pilot, app)
    await pilot.press("4")
    await until(pilot, lambda: app.query(BranchesPane) and app.query_one(BranchesPane).table.row_count == count,
                "the branches")
    return app.query_one(BranchesPane)


async def test_a_rejected_file_stays_out_of_the_commit_and_the_merge_lands_the_rest(engine, model, repo):
    run = await finished_run(engine, model, repo, {"keep.txt": "keep\n", "drop.txt": "drop\n"})
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(pilot, app, run.id, 2)
        files = app.query_one(FileList)
        while file_names(app)[files.highlighted] != "drop.txt":
            await pilot.press("j")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert "Put drop.txt back" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: file_names(app) == ["keep.txt"], "the diff without drop.txt")

        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the commit message dialog")
        app.screen.query_one("#text").value = ""
        await pilot.press(*"Keep only keep.txt", "enter")
        await until(pilot, lambda: not isinstance(app.screen, TextDialog), "the dialog to close")
        assert git(repo, "log", "-1", "--format=%s", run.branch).strip() == "Keep only keep.txt"

        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MergeDialog) and app.screen.ready, "the landing plan")
        assert f"Land {run.branch} on main as one squashed commit." in app.screen.plan_text  # the default
        await pilot.press("m")  # keep the commits instead
        await until(pilot, lambda: f"Land {run.branch} on main as a fast-forward." in app.screen.plan_text,
                    "the plan of a merge")
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, MergeDialog), "the dialog to close")
    assert (repo / "keep.txt").read_text() == "keep\n"
    assert not (repo / "drop.txt").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "Keep only keep.txt"


async def test_a_conflicting_merge_names_the_files_and_changes_nothing(engine, model, repo):
    run = await finished_run(engine, model, repo, {"README.md": "the agent's readme\n"})
    user_commit(repo, "README.md", "the user's readme\n", "user readme")
    before = refs_and_status(repo)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(pilot, app, run.id, 1)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MergeDialog) and app.screen.ready, "the landing plan")
        assert "as one squashed commit" in app.screen.plan_text
        await pilot.press("y")
        error = app.screen.query_one("#dialog-error")
        await until(pilot, lambda: "Conflict" in str(error.render()), "the conflict")
        shown = str(error.render())
        assert shown.count("nothing was changed") == 1 and shown.count("README.md") == 1  # said once
        assert "✗ README.md" in shown
        assert refs_and_status(repo) == before
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, MergeDialog), "the dialog to close")
    assert (repo / "README.md").read_text() == "the user's readme\n"


async def test_revert_throws_the_work_away_and_keeps_a_backup_ref(engine, model, repo):
    run = await finished_run(engine, model, repo, {"hello.py": "print('hi')\n"})
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(pilot, app, run.id, 1)
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert f"refs/corral/backup/{run.short_id}" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: file_names(app) == [], "an empty diff")
    assert "hello.py" in git(repo, "ls-tree", "--name-only", f"refs/corral/backup/{run.short_id}")


async def test_landing_keys_wait_for_the_run_to_end(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the run to wait on the user")
        await pilot.press("D")
        await until(pilot, lambda: app.query(DiffsPane) and app.query_one(DiffsPane).run is not None, "the diff")
        pane = app.query_one(DiffsPane)
        assert all(pane.check_action(action, ()) is None for action in ("commit", "merge", "revert"))
        await pilot.press("m")
        assert not isinstance(app.screen, MergeDialog)
        await engine.cancel(run.id)
        await until(pilot, lambda: pane.check_action("merge", ()), "the keys once the run ended")


async def test_an_unmerged_branch_is_deleted_only_when_forced(engine, model, repo):
    run = await finished_run(engine, model, repo, {"work.txt": "work\n"})
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_branches(pilot, app, 1)
        assert pane.selected.branch.name == run.branch and pane.selected.run_id == run.id
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DeleteBranchDialog), "the question")
        app.post_message(RunsLoaded(app.feed.runs, {}))  # the runs are re-read while the dialog is open
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, DeleteBranchDialog)
        warning = str(app.screen.query_one(".dialog-warning").render())
        assert "1 commit not merged into main will be lost" in warning
        await pilot.press("y")
        error = app.screen.query_one("#dialog-error")
        await until(pilot, lambda: "not merged" in str(error.render()), "the refusal")
        assert run.branch in git(repo, "branch", "--list", "corral/*")
        await pilot.press("f")
        await until(pilot, lambda: not isinstance(app.screen, DeleteBranchDialog), "the dialog to close")
        await until(pilot, lambda: pane.table.row_count == 0, "the branch gone from the table")
        assert [n.message for n in app._notifications if n.severity == "error"] == []  # nothing about its worktree
    assert git(repo, "branch", "--list", "corral/*") == ""
    assert run.worktrees[0].path not in git(repo, "worktree", "list")


async def test_a_branch_is_rebased_renamed_and_squashed_onto_main_from_the_branches_tab(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    user_commit(repo, "b.txt", "b\n", "the user's own work")
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_branches(pilot, app, 1)
        assert (pane.selected.branch.ahead, pane.selected.branch.behind) == (1, 1)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await until(pilot, lambda: pane.selected is not None and pane.selected.branch.behind == 0, "the rebase")
        assert (Path(run.worktrees[0].path) / "b.txt").exists()  # the worktree moved with its branch

        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the rename dialog")
        app.screen.query_one("#text").value = "corral/add-a"
        await pilot.press("enter")
        await until(pilot, lambda: pane.selected is not None and pane.selected.branch.name == "corral/add-a",
                    "the new name")

        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MergeDialog) and app.screen.ready, "the landing plan")
        await pilot.press("s")
        assert "Land corral/add-a on main as one squashed commit." in app.screen.plan_text
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, MergeDialog), "the dialog to close")
        await until(pilot, lambda: pane.selected is not None and pane.selected.branch.behind == 1, "main moved on")
    assert (repo / "a.txt").read_text() == "a\n" and (repo / "b.txt").exists()
    assert len(git(repo, "log", "-1", "--format=%P", "main").split()) == 1  # one commit, not a merge
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "write the files"


def test_the_words_of_a_landing_agree_with_one_commit_and_one_line():
    one = Branch("corral/run-1", "abc", "s", "", ahead=1, behind=2, merged=False, changed=True, pushed=False,
                 worktree=None, base="main")
    _, squash = landing_words(one.name, "main", "squash", one)
    _, rebase = landing_words(one.name, "main", "rebase", one)
    assert "the branch's 1 commit," in squash and "The branch, with its 1 commit, is replayed" in rebase
    assert "commit become" not in squash + rebase and "commit are" not in squash + rebase
    worktree = Worktree("r", "app", "/app", "/wt", "abc")
    change = FileChange(path="a.txt", status="modified", added=1, deleted=1, binary=False)
    assert stat([(worktree, [change])]).endswith("1 file changed, 1 insertion(+), 1 deletion(-)")
