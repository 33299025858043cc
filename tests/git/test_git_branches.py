"""core.git run branches: listing, renaming, deleting and pushing, against the git CLI."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from helpers import BRANCH, commit, fsck, head, run, snapshot, write

from core import git
from core.git import GitError


def counts(repo: Path, branch: str, base: str) -> tuple[int, int]:
    left, right = run(repo, "rev-list", "--left-right", "--count", f"{branch}...{base}").split()
    return int(left), int(right)


@pytest.fixture
def remote(repo, tmp_path) -> Path:
    """A bare repository the user's repo knows as origin."""
    bare = tmp_path / "remote.git"
    run(tmp_path, "init", "-q", "--bare", str(bare))
    run(repo, "remote", "add", "origin", str(bare))
    return bare


# --- listing -----------------------------------------------------------------------------


def test_branches_list_state_like_git(repo, tmp_path):
    git.add_worktree(repo, tmp_path / "a", "corral/run-aaaa0001")
    git.add_worktree(repo, tmp_path / "b", "corral/run-bbbb0002")
    run(repo, "branch", "corral/run-cccc0003")  # no worktree
    run(repo, "branch", "feature")  # not corral's
    commit(tmp_path / "a", "a1", {"a.txt": "1\n"})
    commit(tmp_path / "a", "a2: the last one", {"a.txt": "2\n"})
    commit(repo, "main moves", {"m.txt": "m\n"})
    commit(repo, "main moves again", {"m.txt": "mm\n"})
    branches = git.corral_branches(repo)
    assert [b.name for b in branches] == ["corral/run-aaaa0001", "corral/run-bbbb0002", "corral/run-cccc0003"]
    for b in branches:
        assert (b.ahead, b.behind) == counts(repo, b.name, "main")
        assert b.tip == head(repo, b.name) and b.base == "main"
        assert b.subject == run(repo, "log", "-1", "--format=%s", b.name).strip()
        assert datetime.fromisoformat(b.committed_at) == datetime.fromisoformat(
            run(repo, "log", "-1", "--format=%cI", b.name).strip())
        assert not b.pushed
    a, bb, c = branches
    assert (a.ahead, a.behind, a.merged, a.changed, a.subject) == (2, 2, False, True, "a2: the last one")
    assert (bb.ahead, bb.merged, bb.changed, c.merged, c.changed) == (0, False, False, False, False)
    assert (a.worktree, bb.worktree, c.worktree) == (str((tmp_path / "a").resolve()),
                                                    str((tmp_path / "b").resolve()), None)


def test_branches_compared_with_each_ones_base(repo, tmp_path):
    run(repo, "branch", "release")
    git.add_worktree(repo, tmp_path / "a", "corral/run-aaaa0001", base="release")
    commit(tmp_path / "a", "a1", {"a.txt": "1\n"})
    commit(repo, "main moves", {"m.txt": "m\n"})
    [b] = git.corral_branches(repo, base_of=lambda name: "release")
    assert (b.ahead, b.behind, b.base) == (*counts(repo, b.name, "release"), "release")
    [b] = git.corral_branches(repo, base="main")
    assert (b.ahead, b.behind, b.base) == (*counts(repo, b.name, "main"), "main")
    [b] = git.corral_branches(repo, base_of=lambda name: "gone")  # missing: the default instead
    assert b.base == "main"


def test_merged_after_landing_and_counts_in_a_long_history(repo, wt):
    for i in range(30):
        side = wt if i % 3 else repo
        commit(side, f"c{i}", {f"{side.name}{i % 5}.txt": f"{i}\n"})
        if i % 7 == 0:
            run(wt, "merge", "-q", "--no-edit", "main")
    [b] = git.corral_branches(repo)
    assert (b.ahead, b.behind) == counts(repo, BRANCH, "main") and not b.merged
    git.land(repo, BRANCH, "main")
    [b] = git.corral_branches(repo)
    assert b.merged and (b.ahead, b.behind) == counts(repo, BRANCH, "main")


def test_a_branch_with_no_commits_of_its_own_is_not_merged_and_a_squashed_one_is(repo, wt, tmp_path):
    [empty] = git.corral_branches(repo)
    assert (empty.ahead, empty.merged, empty.changed) == (0, False, False)
    commit(wt, "work", {"a.txt": "a\n"})
    commit(repo, "main moves", {"m.txt": "m\n"})
    git.land(repo, BRANCH, "main", how="squash")
    [squashed] = git.corral_branches(repo)
    assert (squashed.ahead, squashed.merged, squashed.changed) == (1, True, True)


def test_a_fork_made_on_unmerged_work_holds_that_work_though_it_has_no_commit_of_its_own(repo, wt):
    commit(wt, "work", {"a.txt": "a\n"})
    run(repo, "branch", "corral/run-f0f0f0f0", BRANCH)  # a fork starts at its parent's tip
    fork = next(b for b in git.corral_branches(repo) if b.name == "corral/run-f0f0f0f0")
    assert (fork.ahead, fork.changed, fork.merged) == (1, True, False)


# --- push --------------------------------------------------------------------------------


def test_push_makes_the_branch_pushed(repo, wt, remote):
    tip = commit(wt, "work", {"a.txt": "a\n"})
    assert git.push_branch(repo, BRANCH) == tip
    assert run(remote, "rev-parse", BRANCH).strip() == tip
    assert head(repo, f"refs/remotes/origin/{BRANCH}") == tip
    assert git.corral_branches(repo)[0].pushed
    commit(wt, "more", {"b.txt": "b\n"})  # newer than what was pushed
    assert not git.corral_branches(repo)[0].pushed
    git.push_branch(repo, BRANCH, "origin")
    assert git.corral_branches(repo)[0].pushed
    fsck(remote)


def test_a_tip_contained_in_a_pushed_branch_counts_as_pushed(repo, wt, remote):
    commit(wt, "work", {"a.txt": "a\n"})
    git.push_branch(repo, BRANCH)
    run(repo, "update-ref", f"refs/heads/{BRANCH}", f"{BRANCH}~1")
    assert git.corral_branches(repo)[0].pushed


def test_push_to_an_unknown_remote_is_a_git_error(repo, wt):
    with pytest.raises(GitError, match="no remote named 'upstream'"):
        git.push_branch(repo, BRANCH, "upstream")
    with pytest.raises(GitError, match="no branch named 'corral/run-nope'"):
        git.push_branch(repo, "corral/run-nope")


def test_push_to_a_remote_that_is_not_there_is_a_git_error(repo, wt, tmp_path):
    run(repo, "remote", "add", "origin", str(tmp_path / "missing.git"))
    with pytest.raises(GitError, match="could not push") as err:
        git.push_branch(repo, BRANCH)
    assert "\n" not in str(err.value)
    assert run(repo, "for-each-ref", "refs/remotes") == ""


def test_push_refused_when_the_remote_has_diverged(repo, wt, remote, tmp_path):
    commit(wt, "work", {"a.txt": "a\n"})
    git.push_branch(repo, BRANCH)
    pushed = head(repo, f"refs/remotes/origin/{BRANCH}")
    other = tmp_path / "other"
    run(tmp_path, "clone", "-q", str(remote), str(other))
    run(other, "checkout", "-q", BRANCH)
    commit(other, "someone else", {"x.txt": "x\n"})
    run(other, "push", "-q", "origin", BRANCH)
    run(wt, "commit", "-q", "--amend", "-m", "rewritten")
    with pytest.raises(GitError, match="push refused"):
        git.push_branch(repo, BRANCH)
    assert head(repo, f"refs/remotes/origin/{BRANCH}") == pushed


# --- rename ------------------------------------------------------------------------------


def test_rename_moves_the_branch_its_worktree_and_reflog(repo, wt):
    tip = commit(wt, "work", {"a.txt": "a\n"})
    git.rename_branch(repo, BRANCH, "corral/fix-login")
    assert run(repo, "branch", "--list", "corral/*", "--format=%(refname:short)").split() == ["corral/fix-login"]
    assert "branch refs/heads/corral/fix-login" in run(repo, "worktree", "list", "--porcelain")
    assert run(wt, "symbolic-ref", "HEAD").strip() == "refs/heads/corral/fix-login"
    assert head(repo, "corral/fix-login") == tip
    assert "work" in run(repo, "reflog", "show", "corral/fix-login")
    assert run(wt, "status", "--porcelain") == ""
    commit(wt, "after the rename", {"b.txt": "b\n"})
    assert run(repo, "log", "-1", "--format=%s", "corral/fix-login").strip() == "after the rename"


def test_rename_the_checked_out_branch_of_the_main_checkout(repo):
    git.rename_branch(repo, "main", "trunk")
    assert run(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/trunk"
    assert run(repo, "status", "--porcelain") == ""


def test_rename_refuses_existing_or_invalid_names(repo, wt):
    before = snapshot(repo, wt)
    with pytest.raises(GitError, match="already exists"):
        git.rename_branch(repo, BRANCH, "main")
    for bad in ("bad..name", "HEAD", "-x", "refs/heads/main"):
        with pytest.raises(GitError, match="cannot be a branch name"):
            git.rename_branch(repo, BRANCH, bad)
    with pytest.raises(GitError, match="no branch named"):
        git.rename_branch(repo, "corral/run-nope", "x")
    assert snapshot(repo, wt) == before


NAMES = ["ok", "feat/x", "corral/run-1a2b", "ü", "@a", "a@", "x/HEAD", "HEADx", "a{b", "@}", "a.lockx",
         "HEAD", "-x", "--force", "@{-1}", "a@{b", "a..b", ".a", "a/.b", "a.lock", "a.lock/b", "a/", "/a", "a//b",
         "a b", " ", "", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a.", "a/b.", "a\tb", "a\nb", "a\x7fb"]


@pytest.mark.parametrize("name", NAMES)
def test_branch_names_are_refused_as_git_check_ref_format_refuses_them(repo, name):
    accepted = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=repo,
                              capture_output=True).returncode == 0
    try:
        git.check_branch_name(name)
    except GitError as error:
        assert not accepted and "\n" not in str(error)
    else:
        assert accepted


@pytest.mark.parametrize("name", ["refs/heads/main", "@"])
def test_names_git_would_read_as_something_else_are_refused_too(name):
    with pytest.raises(GitError, match="cannot be a branch name: git"):
        git.check_branch_name(name)


# --- delete ------------------------------------------------------------------------------


def test_delete_refuses_unmerged_work_then_force_deletes(repo, wt):
    commit(wt, "one", {"a.txt": "a\n"})
    commit(wt, "two", {"b.txt": "b\n"})
    before = snapshot(repo, wt)
    with pytest.raises(GitError, match="has 2 commits not merged into 'main'"):
        git.delete_branch_and_worktree(repo, BRANCH, "main")
    assert snapshot(repo, wt) == before
    git.delete_branch_and_worktree(repo, BRANCH, "main", force=True)
    assert run(repo, "branch", "--list", BRANCH) == ""
    assert not wt.exists() and str(wt) not in run(repo, "worktree", "list")
    fsck(repo)


def test_delete_merged_or_squash_landed_branches_without_force(repo, wt, tmp_path):
    commit(wt, "one", {"a.txt": "a\n"})
    git.land(repo, BRANCH, "main")
    git.delete_branch_and_worktree(repo, BRANCH, "main")
    assert not wt.exists() and run(repo, "branch", "--list", BRANCH) == ""
    other = tmp_path / "other"
    git.add_worktree(repo, other, "corral/run-22222222")
    commit(other, "two", {"b.txt": "b\n"})
    commit(repo, "main moves", {"m.txt": "m\n"})
    git.land(repo, "corral/run-22222222", "main", how="squash")
    git.delete_branch_and_worktree(repo, "corral/run-22222222", "main")
    assert run(repo, "branch", "--list", "corral/*") == ""


def test_delete_refuses_uncommitted_work_in_the_worktree(repo, wt):
    write(wt / "notes.txt", "not committed\n")
    with pytest.raises(GitError, match="uncommitted changes"):
        git.delete_branch_and_worktree(repo, BRANCH, "main")
    assert (wt / "notes.txt").exists()
    git.delete_branch_and_worktree(repo, BRANCH, "main", force=True)
    assert not wt.exists()


def test_delete_refuses_the_branch_of_the_main_checkout(repo):
    run(repo, "checkout", "-q", "-b", "corral/run-here")
    with pytest.raises(GitError, match="checked out"):
        git.delete_branch_and_worktree(repo, "corral/run-here", "main", force=True)


@pytest.mark.parametrize("seed", range(4))
def test_counts_and_merge_bases_match_git_on_random_histories(tmp_path, seed):
    import random
    import subprocess

    from dulwich.repo import Repo

    from core.git.history import History

    rnd = random.Random(seed)
    root = tmp_path / "dag"
    run(tmp_path, "init", "-q", "-b", "main", str(root))
    stream, marks = [], []
    for n in range(1, 61):  # random parents, in one second (seed 2: clocks off by up to 5s)
        parents = rnd.sample(marks, min(len(marks), rnd.choice([1, 1, 1, 2]))) if marks else []
        date = 1_700_000_000 + (rnd.choice([0, 0, 0, -5, 5]) if seed % 3 == 2 else 0)
        stream += [f"commit refs/heads/b{n % 7}", f"mark :{n}", f"committer T <t@x> {date} +0000",
                   f"data {len(str(n))}", str(n)]
        stream += [f"from :{parents[0]}"] if parents else []
        stream += [f"merge :{p}" for p in parents[1:]]
        stream += [f"M 644 inline f{n}", f"data {len(str(n))}", str(n), ""]
        marks.append(n)
    stream += [f"reset refs/heads/m{n}\nfrom :{n}\n" for n in range(1, 61)]
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input="\n".join(stream) + "\n",
                   text=True, check=True)
    with Repo(str(root)) as r:
        h = History(r)
        for _ in range(60):
            x, y = (f"m{rnd.randint(1, 60)}" for _ in range(2))
            a, b = r.refs[f"refs/heads/{x}".encode()], r.refs[f"refs/heads/{y}".encode()]
            assert h.counts(a, b) == counts(root, x, y), (x, y)
            bases = run(root, "merge-base", "--all", x, y).split()
            assert sorted(s.decode() for s in h.merge_bases(a, b)) == sorted(bases), (x, y)


def test_counts_in_a_shallow_clone(repo, tmp_path):
    for i in range(6):
        commit(repo, f"c{i}", {"f.txt": f"{i}\n"})
    clone = tmp_path / "shallow"
    run(tmp_path, "clone", "-q", "--depth", "3", f"file://{repo}", str(clone))
    git.add_worktree(clone, tmp_path / "wt", "corral/run-00000001", base="HEAD~1")
    commit(tmp_path / "wt", "run", {"g.txt": "g\n"})
    [b] = git.corral_branches(clone)
    assert (b.ahead, b.behind) == counts(clone, b.name, "main") == (1, 1)
