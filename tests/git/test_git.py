"""core.git against the real git CLI: what dulwich writes, git must read the same way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import APP_PY, head, run, write

from core import git
from core.git import FileChange, GitError, Worktree


def porcelain_worktrees(repo: Path) -> list[Worktree]:
    """`git worktree list --porcelain`, parsed into core.git's Worktree."""
    found = []
    for block in run(repo, "worktree", "list", "--porcelain").strip().split("\n\n"):
        fields = dict(line.split(" ", 1) if " " in line else (line, "") for line in block.splitlines())
        branch = fields.get("branch", "").removeprefix("refs/heads/") or None
        found.append(Worktree(Path(fields["worktree"]), branch, fields.get("HEAD")))
    return found


def git_numstat(worktree: Path, base: str) -> dict[str, tuple[int, int, bool, str | None]]:
    """path -> (added, deleted, binary, old_path) from `git add -A && git diff --numstat base`."""
    run(worktree, "add", "-A")
    out = run(worktree, "diff", "--numstat", "-z", base)
    fields = out.split("\0")
    stats, i = {}, 0
    while i < len(fields) - 1:
        added, deleted, path = fields[i].split("\t", 2)
        i += 1
        old_path = None
        if path == "":  # a rename: old and new path follow
            old_path, path = fields[i], fields[i + 1]
            i += 2
        binary = added == "-"
        stats[path] = (0 if binary else int(added), 0 if binary else int(deleted), binary, old_path)
    return stats


def as_numstat(changes: list[FileChange]) -> dict[str, tuple[int, int, bool, str | None]]:
    return {c.path: (c.added, c.deleted, c.binary, c.old_path) for c in changes}


# --- repo_root / resolve / current_branch -------------------------------------


def test_repo_root_finds_top_from_a_subdirectory(repo):
    assert git.repo_root(repo / "src") == repo.resolve()
    assert git.repo_root(repo) == repo.resolve()


def test_repo_root_outside_a_repo_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError) as err:
        git.repo_root(plain)
    assert str(err.value) == f"not a git repository: {plain}"


def test_resolve_branch_tag_short_sha_and_head(repo):
    sha = head(repo)
    run(repo, "tag", "v1")
    assert git.resolve(repo) == sha
    assert git.resolve(repo, "main") == sha
    assert git.resolve(repo, "v1") == sha
    assert git.resolve(repo, sha[:8]) == sha
    write(repo / "second.txt", "2\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "second")
    assert git.resolve(repo, "HEAD~1") == sha == git.resolve(repo, "main^")


def test_resolve_annotated_tag_gives_the_commit(repo):
    run(repo, "tag", "-a", "-m", "release", "v2")
    assert git.resolve(repo, "v2") == head(repo)


def test_resolve_unknown_ref_is_a_one_line_error(repo):
    with pytest.raises(GitError) as err:
        git.resolve(repo, "no-such-branch")
    assert "unknown ref 'no-such-branch'" in str(err.value)
    assert "\n" not in str(err.value)


def test_resolve_in_an_empty_repo_says_there_are_no_commits(tmp_path):
    empty = tmp_path / "empty"
    run(tmp_path, "init", "-q", str(empty))
    with pytest.raises(GitError, match="has no commits yet"):
        git.resolve(empty)


def test_current_branch_and_detached_head(repo):
    assert git.current_branch(repo) == "main"
    run(repo, "checkout", "-q", "--detach")
    assert git.current_branch(repo) is None


# --- add_worktree ----------------------------------------------------------------


def test_add_worktree_creates_branch_at_base_and_git_lists_it(repo, tmp_path):
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    assert base == head(repo)
    assert head(repo, "refs/heads/run-1") == base
    listed = porcelain_worktrees(repo)
    assert Worktree(wt.resolve(), "run-1", base) in listed
    assert run(wt, "rev-parse", "--abbrev-ref", "HEAD").strip() == "run-1"
    assert (wt / "src" / "app.py").read_text() == APP_PY
    assert run(wt, "status", "--porcelain", "--untracked-files=all") == ""
    assert git.current_branch(wt) == "run-1"


def _tree_on_disk(root: Path) -> dict[str, tuple[int, bytes]]:
    """{path: (mode, contents or link target)} of every file under root but .git."""
    found = {}
    for parent, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        files = [f for f in files if f != ".git"]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
            full = os.path.join(parent, name)
            st = os.lstat(full)
            data = os.readlink(full).encode() if os.path.islink(full) else Path(full).read_bytes()
            found[os.path.relpath(full, root)] = (st.st_mode, data)
    return found


@pytest.mark.parametrize("deltas", ["offset", "ref"])
def test_a_worktree_from_a_packed_repository_is_identical_to_gits(repo, tmp_path, deltas):
    for version in range(6):  # versions of files that the pack stores as deltas of each other
        for n in range(5):
            write(repo / "lib" / f"mod{n}.py", "".join(f"def f{i}(): return {i * version}\n" for i in range(80)))
        run(repo, "add", "-A")
        run(repo, "commit", "-q", "-m", f"version {version}")
    write(repo / "run.sh", "#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("lib/mod1.py")
    write(repo / "empty", "")
    write(repo / "new.txt", "not packed: a loose object\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "odd files")
    offsets = "true" if deltas == "offset" else "false"
    run(repo, "-c", f"repack.useDeltaBaseOffset={offsets}", "repack", "-q", "-a", "-d", "-f")
    write(repo / "late.txt", "added after the repack\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "late")
    git.add_worktree(repo, tmp_path / "ours", "run-1")
    run(repo, "worktree", "add", "-q", "-b", "run-git", str(tmp_path / "theirs"), "main")
    assert _tree_on_disk(tmp_path / "ours") == _tree_on_disk(tmp_path / "theirs")
    assert run(tmp_path / "ours", "status", "--porcelain", "--untracked-files=all") == ""
    run(repo, "fsck", "--no-progress")


def test_a_worktree_from_a_ref_that_is_not_a_branch_is_detached_and_no_branch_appears(repo, tmp_path):
    wt = tmp_path / "plan"
    base = git.add_worktree(repo, wt, "refs/corral/plan/1a2b3c4d")
    assert head(repo, "refs/corral/plan/1a2b3c4d") == base
    assert run(repo, "branch", "--list", "--format=%(refname)").split() == ["refs/heads/main"]
    assert Worktree(wt.resolve(), None, base) in porcelain_worktrees(repo)
    assert run(wt, "status", "--porcelain") == "" and run(wt, "branch", "--show-current") == ""
    git.remove_worktree(repo, wt)
    git.restore_worktree(repo, wt, "refs/corral/plan/1a2b3c4d")
    assert (wt / "src" / "app.py").read_text() == APP_PY
    git.forget_run_refs(repo, "1a2b3c4d")
    assert run(repo, "for-each-ref", "refs/corral") == ""


def test_add_worktree_leaves_the_users_checkout_alone(repo, tmp_path):
    write(repo / "README.md", "# Demo, edited by the user\n")
    write(repo / "scratch.txt", "untracked\n")
    write(repo / "docs" / "notes.txt", "staged\n")
    run(repo, "add", "docs/notes.txt")
    before = (
        run(repo, "status", "--porcelain"),
        run(repo, "symbolic-ref", "HEAD"),
        head(repo),
        (repo / ".git" / "index").read_bytes(),
    )
    git.add_worktree(repo, tmp_path / "wt", "run-1")
    after = (
        run(repo, "status", "--porcelain"),
        run(repo, "symbolic-ref", "HEAD"),
        head(repo),
        (repo / ".git" / "index").read_bytes(),
    )
    assert after == before
    assert (repo / "README.md").read_text() == "# Demo, edited by the user\n"


def test_base_can_be_another_branch_or_an_older_sha(repo, tmp_path):
    first = head(repo)
    run(repo, "checkout", "-q", "-b", "feature")
    write(repo / "feature.txt", "feature\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "feature")
    feature = head(repo)
    run(repo, "checkout", "-q", "main")

    assert git.add_worktree(repo, tmp_path / "from-branch", "run-a", base="feature") == feature
    assert (tmp_path / "from-branch" / "feature.txt").exists()
    assert head(repo, "run-a") == feature

    # Started from the user's checkout on `feature`, an older sha must not leak its files.
    run(repo, "checkout", "-q", "feature")
    assert git.add_worktree(repo, tmp_path / "from-sha", "run-b", base=first[:10]) == first
    assert not (tmp_path / "from-sha" / "feature.txt").exists()
    assert head(repo, "run-b") == first
    assert run(tmp_path / "from-sha", "status", "--porcelain", "--untracked-files=all") == ""


def test_adding_the_same_branch_twice_fails_and_changes_nothing(repo, tmp_path):
    git.add_worktree(repo, tmp_path / "wt1", "run-1")
    listed, branch_sha = run(repo, "worktree", "list", "--porcelain"), head(repo, "run-1")
    with pytest.raises(GitError, match="already exists"):
        git.add_worktree(repo, tmp_path / "wt2", "run-1")
    assert not (tmp_path / "wt2").exists()
    assert run(repo, "worktree", "list", "--porcelain") == listed
    assert head(repo, "run-1") == branch_sha


def test_add_worktree_into_a_non_empty_dir_fails_without_creating_the_branch(repo, tmp_path):
    target = tmp_path / "busy"
    write(target / "keep.txt", "mine\n")
    with pytest.raises(GitError, match="not empty"):
        git.add_worktree(repo, target, "run-1")
    assert (target / "keep.txt").read_text() == "mine\n"
    assert run(repo, "branch", "--list", "run-1") == ""
    assert len(porcelain_worktrees(repo)) == 1


def test_add_worktree_into_an_existing_empty_dir(repo, tmp_path):
    (tmp_path / "empty").mkdir()
    git.add_worktree(repo, tmp_path / "empty", "run-1")
    assert run(tmp_path / "empty", "status", "--porcelain") == ""


def test_add_worktree_with_unknown_base_creates_nothing(repo, tmp_path):
    with pytest.raises(GitError, match="unknown ref 'nope'"):
        git.add_worktree(repo, tmp_path / "wt", "run-1", base="nope")
    assert not (tmp_path / "wt").exists()
    assert run(repo, "branch", "--list", "run-1") == ""


def test_worktrees_with_the_same_directory_name_stay_distinct(repo, tmp_path):
    git.add_worktree(repo, tmp_path / "a" / "wt", "run-a")
    git.add_worktree(repo, tmp_path / "b" / "wt", "run-b")
    branches = {w.path: w.branch for w in porcelain_worktrees(repo)}
    assert branches[(tmp_path / "a" / "wt").resolve()] == "run-a"
    assert branches[(tmp_path / "b" / "wt").resolve()] == "run-b"
    assert run(tmp_path / "a" / "wt", "status", "--porcelain") == ""
    assert run(tmp_path / "b" / "wt", "status", "--porcelain") == ""


# --- list / remove / delete --------------------------------------------------------


def test_list_worktrees_matches_git(repo, tmp_path):
    git.add_worktree(repo, tmp_path / "wt1", "run-1")
    git.add_worktree(repo, tmp_path / "wt2", "run-2")
    run(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "by-git"))
    ours = git.list_worktrees(repo)
    assert ours == porcelain_worktrees(repo)
    assert ours[0] == Worktree(repo.resolve(), "main", head(repo))
    assert git.list_worktrees(tmp_path / "wt1") == ours  # asked from inside a linked worktree


def test_remove_worktree_unregisters_it_and_keeps_the_branch(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "dirty.txt", "uncommitted\n")
    git.remove_worktree(repo, wt)
    assert not wt.exists()
    assert [w.path for w in porcelain_worktrees(repo)] == [repo.resolve()]
    assert not (repo / ".git" / "worktrees" / "wt").exists()
    assert run(repo, "branch", "--list", "run-1").strip() == "run-1"


def test_remove_worktree_whose_directory_was_deleted_by_hand(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    shutil.rmtree(wt)
    git.remove_worktree(repo, wt)
    assert [w.path for w in porcelain_worktrees(repo)] == [repo.resolve()]
    git.remove_worktree(repo, wt)  # and again: nothing left to do


def test_remove_worktree_without_force_keeps_uncommitted_work(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "work.txt", "precious\n")
    with pytest.raises(GitError, match="uncommitted changes"):
        git.remove_worktree(repo, wt, force=False)
    assert (wt / "work.txt").exists()
    git.commit_all(wt, "save")
    git.remove_worktree(repo, wt, force=False)
    assert not wt.exists()


def test_remove_worktree_with_read_only_directories_inside(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "cache" / "pkg" / "mod.go", "package mod\n")
    for p in (wt / "cache" / "pkg" / "mod.go", wt / "cache" / "pkg", wt / "cache"):
        p.chmod(0o555)
    git.remove_worktree(repo, wt)
    assert not wt.exists()
    assert len(porcelain_worktrees(repo)) == 1


def test_remove_worktree_without_force_respects_a_lock(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    run(repo, "worktree", "lock", str(wt))
    with pytest.raises(GitError, match="locked"):
        git.remove_worktree(repo, wt, force=False)
    assert wt.exists()
    git.remove_worktree(repo, wt)
    assert len(porcelain_worktrees(repo)) == 1


def test_delete_branch(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    with pytest.raises(GitError, match="checked out"):
        git.delete_branch(repo, "run-1")
    git.remove_worktree(repo, wt)
    git.delete_branch(repo, "run-1")
    assert run(repo, "branch", "--list", "run-1") == ""
    with pytest.raises(GitError, match="no branch"):
        git.delete_branch(repo, "run-1")


# --- changes / diff --------------------------------------------------------------


def test_changes_cover_committed_uncommitted_untracked_and_deleted(worked_on):
    wt, base = worked_on
    status_before = run(wt, "status", "--porcelain")
    changes = git.changes(wt, base)
    assert run(wt, "status", "--porcelain") == status_before  # nothing got staged
    assert [c.path for c in changes] == sorted(c.path for c in changes)
    by_path = {c.path: c for c in changes}
    assert by_path["docs/notes.txt"].status == "modified"
    assert by_path["src/app.py"].status == "modified"
    assert by_path["src/new_module.py"].status == "added"
    assert by_path["README.md"].status == "deleted"
    assert by_path["logo.png"].binary and by_path["logo.png"].status == "added"
    assert "debug.log" not in by_path and "build/out.txt" not in by_path
    assert as_numstat(changes) == git_numstat(wt, base)


def test_diff_is_what_git_diff_shows(worked_on):
    wt, base = worked_on
    ours = git.diff(wt, base)
    run(wt, "add", "-A")
    assert ours == run(wt, "diff", base)
    assert "Binary files /dev/null and b/logo.png differ" in ours
    assert "\\ No newline at end of file" in ours


def test_diff_restricted_to_paths(worked_on):
    wt, base = worked_on
    ours = git.diff(wt, base, ["src"])
    assert ours.startswith("diff --git a/src/app.py b/src/app.py\n")
    assert "diff --git a/src/new_module.py" in ours and "README.md" not in ours
    run(wt, "add", "-A")
    assert ours == run(wt, "diff", base, "--", "src")


def test_changes_against_the_branch_tip_show_only_uncommitted_work(worked_on):
    wt, _ = worked_on
    paths = {c.path for c in git.changes(wt, "run-1")}
    assert "docs/notes.txt" not in paths
    assert {"src/app.py", "README.md", "logo.png"} <= paths


def test_changes_detect_renames_like_git(repo, tmp_path):
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    (wt / "docs" / "notes.txt").rename(wt / "docs" / "moved.txt")
    write(wt / "src" / "main.py", APP_PY.replace("return 5", "return 55"))
    (wt / "src" / "app.py").unlink()
    changes = {c.path: c for c in git.changes(wt, base)}
    assert changes["docs/moved.txt"] == FileChange("docs/moved.txt", "renamed", 0, 0, False, "docs/notes.txt")
    assert changes["src/main.py"].status == "renamed" and changes["src/main.py"].old_path == "src/app.py"
    ours = git.diff(wt, base)
    assert as_numstat(list(changes.values())) == git_numstat(wt, base)
    assert ours == run(wt, "diff", base)


def test_symlinks_modes_empty_files_and_type_changes_match_git(repo, tmp_path):
    write(repo / "empty", "")
    write(repo / "run.sh", "echo hi\n")
    write(repo / "crlf.txt", "a\r\nb\r\n")
    write(repo / "kind", "a file\n")
    (repo / "link").symlink_to("README.md")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "odd files")
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    assert os.readlink(wt / "link") == "README.md"
    (wt / "empty").rename(wt / "empty-renamed")
    (wt / "run.sh").chmod(0o755)
    write(wt / "crlf.txt", "a\r\nB\r\n")
    (wt / "link").unlink()
    (wt / "link").symlink_to("docs/notes.txt")
    (wt / "kind").unlink()
    (wt / "kind").symlink_to("README.md")
    ours = git.diff(wt, base)
    changes = git.changes(wt, base)
    assert as_numstat(changes) == git_numstat(wt, base)
    assert ours == run(wt, "diff", base)
    assert {c.path: c.status for c in changes}["empty-renamed"] == "renamed"


def test_unusual_file_names_are_quoted_like_git(repo, tmp_path):
    write(repo / "with space.txt", "a\n")
    write(repo / "café.txt", "b\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "names")
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    write(wt / "with space.txt", "a\nc\n")
    (wt / "café.txt").rename(wt / "new café.txt")
    write(wt / 'tab\tand "quote".bin', b"\x00\x01")
    ours = git.diff(wt, base)
    changes = git.changes(wt, base)
    assert {c.path for c in changes} == {"with space.txt", "new café.txt", 'tab\tand "quote".bin'}
    assert as_numstat(changes) == git_numstat(wt, base)
    assert ours == run(wt, "diff", base)


def test_line_counts_match_git_for_rewrites_with_repeated_lines(repo, tmp_path):
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    old = "".join(f"line {i}\n" + ("\n" if i % 3 else "}\n") for i in range(200))
    new = "".join(("}\n" if i % 4 else f"new {i}\n") + ("\n" if i % 5 else f"line {i}\n") for i in range(260))
    write(repo / "long.txt", old)
    run(repo, "add", "long.txt")
    run(repo, "commit", "-q", "-m", "long file")
    base = head(repo)
    git.remove_worktree(repo, wt)
    git.delete_branch(repo, "run-1")
    git.add_worktree(repo, wt, "run-1", base=base)
    write(wt / "long.txt", new)
    assert as_numstat(git.changes(wt, base)) == git_numstat(wt, base)


def test_changes_see_edits_made_right_after_the_worktree_was_created(repo, tmp_path):
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    # Same size, possibly within the same clock tick as the checkout.
    write(wt / "docs" / "notes.txt", "ONE\ntwo\nthree\n")
    assert as_numstat(git.changes(wt, base)) == {"docs/notes.txt": (1, 1, False, None)}


def test_changes_of_an_untouched_worktree_are_empty(repo, tmp_path):
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    assert git.changes(wt, base) == []
    assert git.diff(wt, base) == ""


def test_changes_and_diff_in_a_worktree_of_a_few_thousand_files_name_only_what_changed(tmp_path):
    """3,000 files, one changed and one added (how fast is bench/git_ops.py's to say)."""
    root = tmp_path / "big"
    run(tmp_path, "init", "-q", "-b", "main", str(root))
    for d in range(60):
        for f in range(50):
            write(root / f"pkg{d}" / f"mod{f}.py", f"# module {d}.{f}\n" + "x = 1\n" * 40)
    run(root, "add", "-A")
    run(root, "commit", "-q", "-m", "big")
    wt = tmp_path / "wt"
    base = git.add_worktree(root, wt, "run-1")
    write(wt / "pkg3" / "mod7.py", "changed\n")
    write(wt / "pkg9" / "extra.py", "new\n")
    assert [c.path for c in git.changes(wt, base)] == ["pkg3/mod7.py", "pkg9/extra.py"]  # then again, as cached
    changes = git.changes(wt, base)
    text = git.diff(wt, base)
    assert [c.path for c in changes] == ["pkg3/mod7.py", "pkg9/extra.py"]
    assert "+changed" in text
    assert "+new" in text and text.count("diff --git") == 2


def test_info_exclude_of_the_main_repo_applies_in_worktrees(repo, tmp_path):
    write(repo / ".git" / "info" / "exclude", "secret.txt\n")
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    write(wt / "secret.txt", "token\n")
    assert run(wt, "status", "--porcelain") == ""
    assert git.changes(wt, base) == []
    assert git.commit_all(wt, "nothing to see") is None


def test_changes_follow_gitattributes_and_autocrlf_like_git(repo, tmp_path):
    write(repo / ".gitattributes", "*.txt text\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "attributes")
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    write(wt / "docs" / "notes.txt", "one\r\ntwo\r\nthree\r\nfour\r\n")  # text: CRLF goes in as LF
    assert as_numstat(git.changes(wt, base)) == git_numstat(wt, base)
    run(repo, "config", "core.autocrlf", "input")
    write(wt / "README.md", "# Demo\r\n\r\nSome words.\r\nMore.\r\n")
    assert as_numstat(git.changes(wt, base)) == git_numstat(wt, base)


def test_diff_slides_hunks_like_git(repo, tmp_path):
    wt = tmp_path / "wt"
    write(repo / "braces.txt", "\n}\n}\ndef f():\ny\ndef f():\ny\ny\n}\n\n}\n    pass\nx\n    pass\n")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "braces")
    base = git.add_worktree(repo, wt, "run-1")
    write(wt / "braces.txt", "    pass\n}\n}\n\n}\ndef f():\ny\ndef f():\ny\ny\n}\n\n}\n    pass\n\n\n    pass\nx\n"
                             "    pass\n")
    ours = git.diff(wt, base)
    assert ours == run(wt, "-c", "diff.indentHeuristic=false", "diff", base)
    assert "@@ -1,6 +1,8 @@" in ours
