"""core.git landing (fast-forward, merge, squash, rebase) checked against the git CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import APP_PY, BRANCH, commit, files_of, fsck, head, run, snapshot, write

from core import git
from core.git import GitError, MergeConflict


def merge_tree(repo: Path, ours: str, theirs: str) -> str:
    """The tree `git merge` makes of these two commits (git merge-tree --write-tree)."""
    return run(repo, "merge-tree", "--write-tree", ours, theirs).split("\n")[0].strip()


def tree(repo: Path, rev: str) -> str:
    return run(repo, "rev-parse", f"{rev}^{{tree}}").strip()


# --- clean landings ---------------------------------------------------------------------


def test_merge_fast_forwards_when_the_target_has_not_moved(repo, wt):
    tip = commit(wt, "agent work", {"src/new.py": "print('new')\n", "README.md": "# Demo, edited\n"})
    landing = git.land(repo, BRANCH, "main")
    assert (landing.how, landing.commit, landing.target) == ("fast-forward", tip, "main")
    assert head(repo, "main") == tip
    assert (repo / "src" / "new.py").read_text() == "print('new')\n"
    assert (repo / "README.md").read_text() == "# Demo, edited\n"
    assert run(repo, "status", "--porcelain", "--untracked-files=all") == ""
    fsck(repo)


def test_merge_commit_when_both_sides_moved(repo, wt):
    old_main = commit(repo, "user work", {"docs/notes.txt": "one\ntwo\nthree\nfour\n"})
    tip = commit(wt, "agent work", {"src/app.py": APP_PY.replace("return 3", "return 33"), "new.txt": "n\n"})
    landing = git.land(repo, BRANCH, "main")
    assert landing.how == "merge" and landing.previous == old_main
    parents = run(repo, "rev-list", "--parents", "-n1", "main").split()
    assert parents == [landing.commit, old_main, tip]
    assert tree(repo, "main") == merge_tree(repo, old_main, tip)
    graph = run(repo, "log", "--graph", "--format=%s", "main")
    assert graph.splitlines()[0] == f"*   Merge branch '{BRANCH}' into main"
    assert "|\\" in graph and "agent work" in graph and "user work" in graph
    assert run(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert "return 33" in (repo / "src" / "app.py").read_text()
    fsck(repo)


def test_changes_to_different_parts_of_one_file_merge_like_git(repo, wt):
    lines = APP_PY.splitlines(keepends=True)
    mine = "".join(["# header\n", *lines[1:]])
    theirs = "".join([*lines[:-3], "def last():\n", "    return -1\n"])
    old_main = commit(repo, "user edits the end", {"src/app.py": theirs})
    tip = commit(wt, "agent edits the start", {"src/app.py": mine})
    assert git.can_land(repo, BRANCH, "main") == []
    landing = git.land(repo, BRANCH, "main")
    assert tree(repo, landing.commit) == merge_tree(repo, old_main, tip)
    assert run(repo, "status", "--porcelain") == ""


def test_mode_change_on_one_side_and_edit_on_the_other_merge(repo, wt):
    (wt / "src" / "app.py").chmod(0o755)
    tip = commit(wt, "make it executable", {})
    old_main = commit(repo, "edit it", {"src/app.py": APP_PY + "# end\n"})
    landing = git.land(repo, BRANCH, "main")
    assert tree(repo, landing.commit) == merge_tree(repo, old_main, tip)
    assert os.stat(repo / "src" / "app.py").st_mode & 0o111
    assert run(repo, "status", "--porcelain") == ""


def test_squash_makes_one_commit_with_the_message(repo, wt):
    commit(wt, "checkpoint 1", {"a.txt": "a\n"})
    tip = commit(wt, "checkpoint 2", {"b.txt": "b\n"})
    old_main = commit(repo, "user work", {"docs/notes.txt": "ONE\ntwo\nthree\n"})
    landing = git.land(repo, BRANCH, "main", how="squash", message="Add a and b\n\nFrom the run.")
    assert landing.how == "squash"
    assert run(repo, "rev-list", "--parents", "-n1", "main").split() == [landing.commit, old_main]
    assert run(repo, "log", "-1", "--format=%B", "main").strip() == "Add a and b\n\nFrom the run."
    assert tree(repo, "main") == merge_tree(repo, old_main, tip)
    assert run(repo, "rev-list", "--count", "main").strip() == "3"
    assert run(repo, "status", "--porcelain") == ""
    fsck(repo)


def test_squash_of_a_branch_that_could_fast_forward_is_still_one_commit(repo, wt):
    base = head(repo)
    commit(wt, "checkpoint 1", {"a.txt": "a\n"})
    tip = commit(wt, "checkpoint 2", {"b.txt": "b\n"})
    landing = git.land(repo, BRANCH, "main", how="squash")
    assert run(repo, "rev-list", "--parents", "-n1", "main").split() == [landing.commit, base]
    assert tree(repo, "main") == tree(repo, tip)
    message = run(repo, "log", "-1", "--format=%B", "main")
    assert message.startswith(f"Squash {BRANCH} into main") and "checkpoint 1" in message


def test_rebase_replays_the_commits_on_the_newest_target(repo, wt):
    commit(wt, "checkpoint 1", {"a.txt": "a\n"})
    commit(wt, "checkpoint 2", {"src/app.py": APP_PY.replace("return 5", "return 55")})
    old_main = commit(repo, "user work", {"docs/notes.txt": "one\n2\nthree\n"})
    landing = git.land(repo, BRANCH, "main", how="rebase")
    assert landing.how == "rebase"
    assert head(repo, "main") == head(repo, BRANCH) == landing.commit
    assert run(repo, "log", "--format=%s", "main").split("\n")[:4] == [
        "checkpoint 2", "checkpoint 1", "user work", "initial"]
    assert run(repo, "rev-list", "--merges", "main") == ""
    assert run(repo, "rev-parse", "main~2").strip() == old_main
    assert run(repo, "log", "-1", "--format=%an <%ae>", "main").strip() == "Test User <test@example.com>"
    for path in (repo, wt):  # both checkouts follow, clean
        assert (path / "docs" / "notes.txt").read_text() == "one\n2\nthree\n"
        assert (path / "a.txt").read_text() == "a\n"
        assert run(path, "status", "--porcelain", "--untracked-files=all") == ""
    fsck(repo)


def test_rebase_branch_alone_moves_the_branch_and_its_worktree(repo, wt):
    commit(wt, "checkpoint", {"a.txt": "a\n"})
    main = commit(repo, "user work", {"u.txt": "u\n"})
    new = git.rebase_branch(repo, BRANCH, "main")
    assert head(repo, BRANCH) == new and head(repo, "main") == main
    assert run(repo, "rev-parse", f"{BRANCH}~1").strip() == main
    assert (wt / "u.txt").read_text() == "u\n"
    assert run(wt, "status", "--porcelain", "--untracked-files=all") == ""
    assert git.rebase_branch(repo, BRANCH, "main") == new  # already there


def test_rebase_drops_commits_already_on_the_target(repo, wt):
    commit(wt, "same change", {"a.txt": "a\n"})
    commit(wt, "own change", {"b.txt": "b\n"})
    commit(repo, "same change, made by the user", {"a.txt": "a\n"})
    git.land(repo, BRANCH, "main", how="rebase")
    assert run(repo, "log", "--format=%s", "main").split("\n")[:3] == [
        "own change", "same change, made by the user", "initial"]


def test_landing_twice_is_up_to_date(repo, wt):
    commit(wt, "work", {"a.txt": "a\n"})
    git.land(repo, BRANCH, "main")
    for how in ("merge", "squash", "rebase"):
        again = git.land(repo, BRANCH, "main", how=how)
        assert again.how == "up-to-date" and again.commit == head(repo, "main")


def test_landing_in_a_detached_checkout_moves_only_the_branch(repo, wt):
    run(repo, "checkout", "-q", "--detach")
    tip = commit(wt, "work", {"a.txt": "a\n"})
    before = (files_of(repo), run(repo, "status", "--porcelain"), head(repo))
    git.land(repo, BRANCH, "main")
    assert head(repo, "main") == tip
    assert (files_of(repo), run(repo, "status", "--porcelain"), head(repo)) == before


def test_landing_on_a_branch_that_is_not_checked_out(repo, wt):
    run(repo, "branch", "release")
    tip = commit(wt, "work", {"a.txt": "a\n"})
    git.land(repo, BRANCH, "release")
    assert head(repo, "release") == tip
    assert not (repo / "a.txt").exists() and run(repo, "status", "--porcelain") == ""


def test_landing_on_a_target_checked_out_in_another_worktree(repo, wt, tmp_path):
    run(repo, "worktree", "add", "-q", "-b", "release", str(tmp_path / "rel"))
    tip = commit(wt, "work", {"a.txt": "a\n"})
    git.land(repo, BRANCH, "release")
    assert head(repo, "release") == tip
    assert (tmp_path / "rel" / "a.txt").read_text() == "a\n"
    assert run(tmp_path / "rel", "status", "--porcelain") == ""


def test_unknown_target_or_branch_or_way_is_a_git_error(repo, wt):
    commit(wt, "work", {"a.txt": "a\n"})
    before = snapshot(repo, wt)
    with pytest.raises(GitError, match="no branch named 'nope'"):
        git.land(repo, BRANCH, "nope")
    with pytest.raises(GitError, match="no branch named 'corral/run-nope'"):
        git.land(repo, "corral/run-nope", "main")
    with pytest.raises(GitError, match="unknown way"):
        git.land(repo, BRANCH, "main", how="octopus")
    assert snapshot(repo, wt) == before


# --- the user's checkout ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["merge", "squash", "rebase"])
def test_dirty_files_the_landing_does_not_touch_are_kept(repo, wt, how):
    commit(repo, "user", {"u.txt": "u\n"})
    write(repo / "docs" / "notes.txt", "the user's unsaved edit\n")
    write(repo / "scratch.txt", "untracked\n")
    write(repo / "README.md", "# Demo, staged\n")
    run(repo, "add", "README.md")
    commit(wt, "work", {"src/app.py": APP_PY + "# more\n", "a.txt": "a\n"})
    landing = git.land(repo, BRANCH, "main", how=how)
    assert landing.how == how and head(repo, "main") == landing.commit
    assert (repo / "docs" / "notes.txt").read_text() == "the user's unsaved edit\n"
    assert (repo / "src" / "app.py").read_text() == APP_PY + "# more\n"
    assert run(repo, "status", "--porcelain").splitlines() == [
        "M  README.md", " M docs/notes.txt", "?? scratch.txt"]


@pytest.mark.parametrize("dirt", ["unstaged", "staged", "untracked in the way", "deleted"])
def test_dirty_files_the_landing_touches_refuse_it(repo, wt, dirt):
    commit(wt, "work", {"src/app.py": APP_PY + "# more\n", "a.txt": "a\n"})
    commit(repo, "user", {"u.txt": "u\n"})
    if dirt == "unstaged":
        write(repo / "src" / "app.py", APP_PY + "# the user's\n")
    elif dirt == "staged":
        write(repo / "src" / "app.py", APP_PY + "# the user's\n")
        run(repo, "add", "src/app.py")
    elif dirt == "untracked in the way":
        write(repo / "a.txt", "the user's own a.txt\n")
    else:
        (repo / "src" / "app.py").unlink()
    before = snapshot(repo, wt)
    for how in ("merge", "squash", "rebase"):
        with pytest.raises(GitError) as err:
            git.land(repo, BRANCH, "main", how=how)
        assert ("a.txt" if dirt == "untracked in the way" else "src/app.py") in str(err.value)
        assert "\n" not in str(err.value)
        assert snapshot(repo, wt) == before


def test_dirty_run_worktree_refuses_a_rebase(repo, wt):
    commit(wt, "work", {"a.txt": "a\n"})
    commit(repo, "user", {"u.txt": "u\n"})
    write(wt / "u.txt", "the agent's, uncommitted\n")
    before = snapshot(repo, wt)
    with pytest.raises(GitError, match=r"u\.txt"):
        git.rebase_branch(repo, BRANCH, "main")
    assert snapshot(repo, wt) == before


# --- conflicts ----------------------------------------------------------------------------


CONFLICTS = {
    "content": ({"src/app.py": APP_PY.replace("return 4", "return 'agent'")},
                {"src/app.py": APP_PY.replace("return 4", "return 'user'")}, "src/app.py", "content"),
    "deleted by the run, modified by the user": ({"docs/notes.txt": None},
                                                 {"docs/notes.txt": "one\ntwo\n3\n"}, "docs/notes.txt",
                                                 "deleted/modified"),
    "modified by the run, deleted by the user": ({"docs/notes.txt": "one\ntwo\n3\n"},
                                                 {"docs/notes.txt": None}, "docs/notes.txt", "deleted/modified"),
    "binary": ({"logo.bin": b"\x00\x01agent\x00"}, {"logo.bin": b"\x00\x01user\x00"}, "logo.bin",
               "added on both sides"),
    "binary modified on both sides": ({"data.bin": b"\x00base\x00agent"}, {"data.bin": b"\x00base\x00user"},
                                      "data.bin", "binary"),
    "added on both sides": ({"new.txt": "agent\n"}, {"new.txt": "user\n"}, "new.txt", "added on both sides"),
}


@pytest.mark.parametrize("kind", list(CONFLICTS))
@pytest.mark.parametrize("how", ["merge", "squash", "rebase"])
def test_a_conflict_is_reported_and_changes_nothing(repo, wt, kind, how):
    agent, user, path, reason = CONFLICTS[kind]
    if kind == "binary modified on both sides":
        commit(repo, "binary at base", {"data.bin": b"\x00base\x00"})
        git.rebase_branch(repo, BRANCH, "main")
    commit(wt, "agent", {**agent, "agent-only.txt": "fine\n"})
    commit(repo, "user", {**user, "user-only.txt": "fine\n"})
    write(repo / "README.md", "# the user's unsaved edit\n")  # dirt elsewhere must survive too
    write(repo / "scratch.txt", "untracked\n")
    before = snapshot(repo, wt)
    objects = run(repo, "count-objects", "-v")
    assert git.can_land(repo, BRANCH, "main", how=how) == [path]
    with pytest.raises(MergeConflict) as err:
        git.land(repo, BRANCH, "main", how=how)
    assert err.value.files == [path] and err.value.reasons == {path: reason}
    assert isinstance(err.value, GitError) and path in str(err.value) and "\n" not in str(err.value)
    assert snapshot(repo, wt) == before
    assert run(repo, "count-objects", "-v") == objects  # not even an object written


def test_conflict_in_one_of_many_files_names_only_that_file(repo, wt):
    commit(wt, "agent", {f"f{i}.txt": f"agent {i}\n" for i in range(3)} | {"src/app.py": APP_PY + "# a\n"})
    commit(repo, "user", {"src/app.py": APP_PY + "# u\n", "f9.txt": "u\n"})
    with pytest.raises(MergeConflict) as err:
        git.land(repo, BRANCH, "main", how="squash")
    assert err.value.files == ["src/app.py"]


def test_criss_cross_history_merges(repo, wt):
    commit(wt, "agent 1", {"a.txt": "a\n"})
    commit(repo, "user 1", {"u.txt": "u\n"})
    run(repo, "merge", "-q", "--no-edit", BRANCH)  # main takes the run's work
    run(wt, "merge", "-q", "--no-edit", "main~1")  # and the run takes main's, crosswise
    tip = commit(wt, "agent 2", {"a.txt": "a2\n"})
    old_main = commit(repo, "user 2", {"u.txt": "u2\n"})
    landing = git.land(repo, BRANCH, "main")
    assert tree(repo, landing.commit) == merge_tree(repo, old_main, tip)
    fsck(repo)


@pytest.mark.parametrize("renamer", ["run", "user"])
def test_a_renamed_file_edited_on_the_other_side_merges_under_its_new_name(repo, wt, renamer):
    renaming, editing = (wt, repo) if renamer == "run" else (repo, wt)
    run(renaming, "mv", "src/app.py", "src/main.py")
    commit(renaming, "rename", {"src/main.py": "# moved\n" + APP_PY})
    commit(editing, "edit", {"src/app.py": APP_PY.replace("return 7", "return 77")})
    ours, theirs = head(repo, "main"), head(repo, BRANCH)
    landing = git.land(repo, BRANCH, "main")
    assert landing.how == "merge"
    assert tree(repo, landing.commit) == merge_tree(repo, ours, theirs)
    assert not (repo / "src" / "app.py").exists()
    assert (repo / "src" / "main.py").read_text() == "# moved\n" + APP_PY.replace("return 7", "return 77")
    assert run(repo, "status", "--porcelain") == ""


# --- index formats, extensions and line endings ---------------------------------------------


@pytest.mark.parametrize("setup", [
    ["update-index", "--index-version", "4"],  # compressed paths: read with dulwich instead
    ["update-index", "--index-version", "3"],
    ["update-index", "--untracked-cache"],
])
def test_landing_keeps_the_users_index_readable(repo, wt, setup):
    run(repo, "config", "core.untrackedCache", "true")
    run(repo, *setup)
    write(repo / "scratch.txt", "untracked\n")
    write(repo / "docs" / "notes.txt", "unstaged edit\n")
    run(repo, "status", "--porcelain")  # lets git write its caches into the index
    commit(wt, "work", {"src/app.py": APP_PY + "# more\n", "a.txt": "a\n", "README.md": None})
    git.land(repo, BRANCH, "main")
    assert run(repo, "status", "--porcelain", "--untracked-files=all").splitlines() == [
        " M docs/notes.txt", "?? scratch.txt"]
    assert run(repo, "diff", "--cached", "--name-only") == ""
    assert run(repo, "ls-files", "-s", "a.txt").split()[1] == run(repo, "rev-parse", "main:a.txt").strip()
    fsck(repo)


def test_landing_writes_line_endings_as_gitattributes_say(repo, wt):
    commit(repo, "attributes", {".gitattributes": "*.txt text eol=crlf\n"})
    git.rebase_branch(repo, BRANCH, "main")
    commit(wt, "work", {"crlf.txt": "one\r\ntwo\r\n"})
    commit(repo, "user", {"u.txt": "u\r\n"})
    git.land(repo, BRANCH, "main")
    assert (repo / "crlf.txt").read_bytes() == b"one\r\ntwo\r\n"
    assert run(repo, "cat-file", "blob", "main:crlf.txt") == "one\ntwo\n"
    assert run(repo, "status", "--porcelain") == ""


def test_a_skip_worktree_file_is_updated_in_the_index_only(repo, wt):
    run(repo, "update-index", "--skip-worktree", "docs/notes.txt")
    (repo / "docs" / "notes.txt").write_text("local version the user keeps\n")
    commit(wt, "work", {"docs/notes.txt": "one\ntwo\nthree\nfour\n"})
    git.land(repo, BRANCH, "main")
    assert (repo / "docs" / "notes.txt").read_text() == "local version the user keeps\n"
    assert run(repo, "ls-files", "-v", "docs/notes.txt").startswith("S ")
    assert run(repo, "ls-files", "-s", "docs/notes.txt").split()[1] == run(
        repo, "rev-parse", "main:docs/notes.txt").strip()


def test_a_split_index_is_refused_before_anything_is_written(repo, wt):
    run(repo, "update-index", "--split-index")
    commit(wt, "work", {"a.txt": "a\n"})
    before = snapshot(repo, wt)
    with pytest.raises(GitError, match="split index"):
        git.land(repo, BRANCH, "main")
    assert snapshot(repo, wt) == before


def test_a_landing_that_makes_many_objects_writes_a_pack_git_reads(repo, wt):
    files = {f"d{i}/f.txt": f"agent {i}\n" for i in range(250)}
    tip = commit(wt, "agent", files)
    old_main = commit(repo, "user", {f"d{i}/g.txt": f"user {i}\n" for i in range(250)})
    packs = set((repo / ".git" / "objects" / "pack").glob("*.pack"))
    landing = git.land(repo, BRANCH, "main", how="rebase")  # 250 merged trees and more
    assert set((repo / ".git" / "objects" / "pack").glob("*.pack")) - packs
    assert run(repo, "rev-parse", "main~1").strip() == old_main
    assert tree(repo, landing.commit) == merge_tree(repo, old_main, tip)
    assert run(repo, "status", "--porcelain") == ""
    fsck(repo)


def test_landing_in_a_bare_repository_with_worktrees(repo, tmp_path):
    bare = tmp_path / "bare.git"
    run(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    run(bare, "worktree", "add", "-q", str(tmp_path / "main-wt"), "main")
    wt = tmp_path / "run"
    git.add_worktree(bare, wt, BRANCH, base="main")
    tip = commit(wt, "work", {"a.txt": "a\n"})
    assert git.land(bare, BRANCH, "main").how == "fast-forward"
    assert run(bare, "rev-parse", "main").strip() == tip
    assert (tmp_path / "main-wt" / "a.txt").read_text() == "a\n"
    assert run(tmp_path / "main-wt", "status", "--porcelain") == ""
