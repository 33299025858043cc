"""Landing a run's work over HTTP: reject, revert, merge, rebase, push, accept, pull requests,
branches, project settings, clean-up and logs. Runs are real Claude Code runs against the
scripted model; git is checked with the git CLI."""


from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from claude_env import init_git_repo
from helpers import BASH, client_of, error_of, refs_and_status, sse_events, start_run, token_for, until_event
from model_server import text, tool

from core.api.app import create_app
from core.api.settings import ServerSettings

USER = ["-c", "user.name=user", "-c", "user.email=user@example.invalid", "-c", "commit.gpgsign=false"]


def git(repo: Path | str, *args: str) -> str:
    return subprocess.run(["git", *USER, "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def user_commits(repo: Path, name: str, content: str, message: str = "the user's work") -> None:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "commit", "-qm", message)


def writes(files: dict[str, str]) -> list[dict]:
    return [*(tool("Write", {"file_path": name, "content": content}) for name, content in files.items()),
            text("Done.")]


async def finished(client, engine, model, project: dict, files: dict[str, str], task: str = "write the files"
                   ) -> dict:
    """A completed run over the API whose agent wrote `files` (name -> content)."""
    model.set_script(writes(files))
    run = await start_run(client, project, task)
    await engine.wait(run["id"])
    done = (await client.get(f"/api/runs/{run['id']}")).json()
    assert done["status"] == "completed", done["reason"]
    return done


def changed_paths(stats: dict) -> list[str]:
    return sorted(f["path"] for f in stats["files"])


# -- merge, branches, delete -------------------------------------------------------------------

async def test_a_finished_run_is_merged_listed_as_merged_and_deleted(client, engine, model, project, repo):
    run = await finished(client, engine, model, project, {"hello.py": "print('hi')\n"})
    [branch] = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert branch | {"name": run["branch"], "run_id": run["id"], "repo": "app", "base": "main", "ahead": 1,
                     "behind": 0, "merged": False, "changed": True, "pushed": False} == branch
    assert branch["worktree"] == run["worktrees"][0]["path"] and branch["subject"]
    assert branch["repo_id"] == project["repos"][0]["id"] and len(branch["tip"]) == 40

    merged = await client.post(f"/api/runs/{run['id']}/merge", json={"how": "merge"})
    assert merged.status_code == 200, merged.text
    [landing] = merged.json()["landings"]
    assert (landing["repo"], landing["target"], landing["how"]) == ("app", "main", "fast-forward")
    assert landing["commit"] == branch["tip"] == git(repo, "rev-parse", "main").strip()
    assert (repo / "hello.py").read_text() == "print('hi')\n" and git(repo, "status", "--porcelain") == ""
    [after] = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert (after["merged"], after["ahead"]) == (True, 0)
    kinds = [e["event_type"] for e in (await client.get(f"/api/runs/{run['id']}/events")).json()]
    assert kinds[-1] == "run.landed"

    log = await client.get(f"/api/runs/{run['id']}/logs")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
    assert log.text == Path(engine.paths.run_log(run["id"])).read_text(errors="replace")

    deleted = await client.delete(f"/api/runs/{run['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    error_of(await client.get(f"/api/runs/{run['id']}"), 404, "RUN_NOT_FOUND")
    assert git(repo, "branch", "--list", "corral/*") == "" and not Path(run["worktrees"][0]["path"]).exists()
    assert not engine.paths.run_log(run["id"]).exists()
    assert (await client.get(f"/api/projects/{project['id']}/branches")).json() == []
    error_of(await client.delete(f"/api/runs/{run['id']}"), 404, "RUN_NOT_FOUND")


async def test_the_event_stream_of_a_merged_run_ends_after_the_merge(client, engine, model, project):
    run = await finished(client, engine, model, project, {"done.txt": "done\n"})
    assert (await client.post(f"/api/runs/{run['id']}/merge", json={})).status_code == 200
    url = f"/api/runs/{run['id']}/events/stream"
    streamed = sse_events((await asyncio.wait_for(client.get(url), 30)).text)
    kinds = [e["event"] for e in streamed]
    assert kinds[-1] == "run.landed" and "run.completed" in kinds
    completed = next(e["id"] for e in streamed if e["event"] == "run.completed")
    after_end = await asyncio.wait_for(client.get(url, headers={"Last-Event-ID": str(completed)}), 30)
    assert [e["event"] for e in sse_events(after_end.text)][-1] == "run.landed"
    assert (await client.get(url, headers={"Last-Event-ID": str(streamed[-1]["id"])})).status_code == 204
    assert (await asyncio.wait_for(engine.wait(run["id"]), 30)).status == "completed"


async def test_a_conflicting_merge_is_409_names_the_files_and_changes_nothing(client, engine, model, project, repo):
    run = await finished(client, engine, model, project, {"README.md": "the agent's readme\n", "new.txt": "new\n"})
    user_commits(repo, "README.md", "the user's readme\n")
    before = refs_and_status(repo)
    worktree_before = git(run["worktrees"][0]["path"], "status", "--porcelain")

    for how in ("merge", "squash", "rebase"):
        refused = await client.post(f"/api/runs/{run['id']}/merge", json={"how": how})
        assert "README.md" in error_of(refused, 409, "MERGE_CONFLICT")
        assert refused.json()["error"]["details"]["files"] == ["README.md"]
        assert refs_and_status(repo) == before
    by_branch = await client.post(f"/api/projects/{project['id']}/branches/merge", params={"branch": run["branch"]})
    assert error_of(by_branch, 409, "MERGE_CONFLICT") and by_branch.json()["error"]["details"]["files"] == ["README.md"]
    rebased = await client.post(f"/api/runs/{run['id']}/rebase", json={})
    error_of(rebased, 409, "MERGE_CONFLICT")
    assert rebased.json()["error"]["details"]["files"] == ["README.md"]

    assert refs_and_status(repo) == before
    assert git(run["worktrees"][0]["path"], "status", "--porcelain") == worktree_before
    assert (repo / "README.md").read_text() == "the user's readme\n" and not (repo / "new.txt").exists()
    kinds = [e["event_type"] for e in (await client.get(f"/api/runs/{run['id']}/events")).json()]
    assert "run.landed" not in kinds and "run.rebased" not in kinds


async def test_a_run_is_rebased_then_squashed_through_its_branch(client, engine, model, project, repo):
    run = await finished(client, engine, model, project, {"a.txt": "a\n", "b.txt": "b\n"})
    user_commits(repo, "other.txt", "the user's own work\n")
    [branch] = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert (branch["ahead"], branch["behind"]) == (1, 1)

    rebased = await client.post(f"/api/projects/{project['id']}/branches/rebase",
                                params={"branch": run["branch"], "repo_id": project["repos"][0]["id"]})
    assert rebased.status_code == 200, rebased.text
    [tip] = rebased.json()["tips"]
    assert tip["repo"] == "app" and tip["commit"] == git(repo, "rev-parse", run["branch"]).strip()
    [branch] = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert (branch["ahead"], branch["behind"]) == (1, 0)
    assert (Path(run["worktrees"][0]["path"]) / "other.txt").exists()  # the worktree followed

    squashed = await client.post(f"/api/projects/{project['id']}/branches/merge", params={"branch": run["branch"]},
                                 json={"how": "squash", "message": "Add a and b"})
    assert squashed.status_code == 200, squashed.text
    assert squashed.json()["landings"][0]["how"] == "squash" and squashed.json()["run_id"] == run["id"]
    assert git(repo, "log", "-1", "--format=%s").strip() == "Add a and b"
    assert len(git(repo, "log", "-1", "--format=%P").split()) == 1
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists() and (repo / "other.txt").exists()


async def test_a_run_lands_on_another_branch_with_into(client, engine, model, project, repo):
    git(repo, "branch", "release")
    run = await finished(client, engine, model, project, {"fix.txt": "fix\n"})
    merged = await client.post(f"/api/runs/{run['id']}/merge", json={"into": "release", "message": "Fix"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["landings"][0]["target"] == "release"
    assert "fix.txt" in git(repo, "ls-tree", "--name-only", "release") and not (repo / "fix.txt").exists()
    error_of(await client.post(f"/api/runs/{run['id']}/merge", json={"into": "no-such-branch"}), 400, "GIT_ERROR")


async def test_a_run_started_from_a_commit_is_told_to_give_into_in_the_apis_words(client, engine, model, project, repo):
    model.set_script(writes({"fix.txt": "fix\n"}))
    run = await start_run(client, project, source_branch=git(repo, "rev-parse", "HEAD").strip())
    await engine.wait(run["id"])
    refused = await client.post(f"/api/runs/{run['id']}/merge", json={})
    message = error_of(refused, 400, "NO_TARGET")
    assert "`into`" in message and "--" not in message and refused.json()["error"]["details"] == {"field": "into"}
    assert (await client.post(f"/api/runs/{run['id']}/merge", json={"into": "main"})).status_code == 200


async def test_deleting_a_run_is_refused_while_it_is_active_and_while_its_work_is_unmerged(
        client, engine, model, project, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    active = await start_run(client, project, "compute")
    await until_event(engine, active["id"], "agent.needs_attention")
    for method, path, body in [("DELETE", f"/api/runs/{active['id']}", None),
                               ("POST", f"/api/runs/{active['id']}/merge", {}),
                               ("POST", f"/api/runs/{active['id']}/reject", {"paths": ["."]}),
                               ("POST", f"/api/runs/{active['id']}/revert", None),
                               ("POST", f"/api/runs/{active['id']}/push", None)]:
        error_of(await client.request(method, path, json=body), 409, "RUN_ACTIVE")
    error_of(await client.delete(f"/api/projects/{project['id']}/branches", params={"branch": active["branch"]}),
             409, "RUN_ACTIVE")
    assert active["branch"] in git(repo, "branch", "--list", "corral/*")
    await client.post(f"/api/runs/{active['id']}/cancel")
    assert (await client.delete(f"/api/runs/{active['id']}")).status_code == 204  # nothing done: nothing lost

    run = await finished(client, engine, model, project, {"work.txt": "work\n"})
    refused = await client.delete(f"/api/runs/{run['id']}")
    assert "not merged" in error_of(refused, 409, "BRANCH_UNMERGED")
    assert refused.json()["error"]["details"] == {"branch": run["branch"], "force": True}
    assert (await client.get(f"/api/runs/{run['id']}")).status_code == 200
    assert run["branch"] in git(repo, "branch", "--list", "corral/*")

    assert (await client.post(f"/api/runs/{run['id']}/merge")).status_code == 200
    (Path(run["worktrees"][0]["path"]) / "scratch.txt").write_text("not committed\n")
    error_of(await client.delete(f"/api/runs/{run['id']}"), 409, "UNCOMMITTED_WORK")
    assert (await client.delete(f"/api/runs/{run['id']}", params={"force": True})).status_code == 204
    assert git(repo, "branch", "--list", "corral/*") == ""


async def test_an_unmerged_run_is_deleted_when_forced(client, engine, model, project, repo):
    run = await finished(client, engine, model, project, {"work.txt": "work\n"})
    assert (await client.delete(f"/api/runs/{run['id']}?force=true")).status_code == 204
    assert git(repo, "branch", "--list", "corral/*") == "" and run["worktrees"][0]["path"] not in git(
        repo, "worktree", "list")


# -- reject and revert -------------------------------------------------------------------------

async def test_files_are_rejected_one_several_then_all(client, engine, model, project):
    run = await finished(client, engine, model, project,
                         {"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "d.txt": "d\n", "README.md": "changed\n"})
    worktree = Path(run["worktrees"][0]["path"])
    url = f"/api/runs/{run['id']}/reject"

    one = await client.post(url, json={"paths": ["a.txt"]})
    assert one.status_code == 200 and one.json() == {"run_id": run["id"], "rejected": ["a.txt"]}
    assert not (worktree / "a.txt").exists()
    several = await client.post(url, json={"paths": ["b.txt", "README.md"]})
    assert sorted(several.json()["rejected"]) == ["README.md", "b.txt"]
    assert (worktree / "README.md").read_text() == "scratch repository\n"
    assert changed_paths((await client.get(f"/api/runs/{run['id']}/diff-stats")).json()) == ["c.txt", "d.txt"]

    everything = await client.post(url, json={"paths": ["."]})
    assert sorted(everything.json()["rejected"]) == ["c.txt", "d.txt"]
    assert (await client.get(f"/api/runs/{run['id']}/diff-stats")).json()["files_changed"] == 0
    assert (await client.post(url, json={"paths": ["."]})).json()["rejected"] == []
    kinds = [e["event_type"] for e in (await client.get(f"/api/runs/{run['id']}/events")).json()]
    assert kinds.count("user.rejected") == 4


@pytest.mark.parametrize("paths, status, code", [
    (["../app/README.md"], 400, "GIT_ERROR"),
    (["/etc/passwd"], 400, "GIT_ERROR"),
    ([".git/config"], 400, "GIT_ERROR"),
    (["sub/../../outside.txt"], 400, "GIT_ERROR"),
    (["no-such-file.txt"], 400, "GIT_ERROR"),
    ([], 422, "VALIDATION_ERROR"),
    ([""], 422, "VALIDATION_ERROR"),
    ("kept.txt", 422, "VALIDATION_ERROR"),
    ([7], 422, "VALIDATION_ERROR"),
])
async def test_a_reject_outside_the_worktree_or_malformed_changes_nothing(
        client, engine, model, project, paths, status, code):
    run = await finished(client, engine, model, project, {"kept.txt": "kept\n"})
    error_of(await client.post(f"/api/runs/{run['id']}/reject", json={"paths": paths}), status, code)
    assert changed_paths((await client.get(f"/api/runs/{run['id']}/diff-stats")).json()) == ["kept.txt"]


async def test_revert_throws_the_work_away_and_keeps_a_backup(client, engine, model, project, repo):
    run = await finished(client, engine, model, project, {"x.txt": "x\n"})
    (Path(run["worktrees"][0]["path"]) / "y.txt").write_text("uncommitted\n")
    reverted = await client.post(f"/api/runs/{run['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    [backup] = reverted.json()["backups"]
    assert backup["repo"] == "app" and backup["ref"] == f"refs/corral/backup/{run['id'][:8]}"
    assert git(repo, "rev-parse", backup["ref"]).strip() == backup["commit"]
    assert git(repo, "ls-tree", "--name-only", backup["ref"]).split() == ["README.md", "x.txt", "y.txt"]
    assert (await client.get(f"/api/runs/{run['id']}/diff-stats")).json()["files_changed"] == 0


async def test_a_run_over_two_repos_rejects_everything_with_a_dot_and_lands_in_both(
        client, engine, model, repo, tmp_path):
    api = init_git_repo(tmp_path / "api")
    project = (await client.post("/api/projects", json={
        "name": "both", "repos": [{"repo_path": str(repo)}, {"repo_path": str(api)}]})).json()
    run = await finished(client, engine, model, project,
                         {"app/one.txt": "1\n", "api/two.txt": "2\n", "api/three.txt": "3\n"})
    assert changed_paths((await client.get(f"/api/runs/{run['id']}/diff-stats")).json()) == [
        "one.txt", "three.txt", "two.txt"]
    error_of(await client.post(f"/api/runs/{run['id']}/reject", json={"paths": ["two.txt"]}), 400, "INVALID_PATH")
    one = await client.post(f"/api/runs/{run['id']}/reject", json={"paths": ["api/two.txt"]})
    assert one.json()["rejected"] == ["two.txt"]

    merged = await client.post(f"/api/runs/{run['id']}/merge", json={"how": "merge"})
    landings = merged.json()["landings"]
    assert sorted((la["repo"], la["how"]) for la in landings) == [("api", "fast-forward"), ("app", "fast-forward")]
    assert all(Path(la["repo_path"]).name == la["repo"] for la in landings)
    assert (repo / "one.txt").exists() and (api / "three.txt").exists() and not (api / "two.txt").exists()

    later = await finished(client, engine, model, project, {"app/four.txt": "4\n", "api/five.txt": "5\n"})
    everything = await client.post(f"/api/runs/{later['id']}/reject", json={"paths": ["."]})
    assert sorted(everything.json()["rejected"]) == ["five.txt", "four.txt"]
    assert (await client.get(f"/api/runs/{later['id']}/diff-stats")).json()["files_changed"] == 0
    branches = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert sorted((b["repo"], b["run_id"]) for b in branches) == sorted(
        [("app", run["id"]), ("api", run["id"]), ("app", later["id"]), ("api", later["id"])])


# -- push, accept, pull requests, renaming -----------------------------------------------------

async def test_push_accept_and_a_pull_request_are_recorded(client, engine, model, project, repo, tmp_path,
                                                             monkeypatch):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    run = await finished(client, engine, model, project, {"pushed.txt": "x\n"}, task="Add pushed.txt\n\nfor the demo")
    status_url = f"/api/projects/{project['id']}/branches/pr-status"
    assert (await client.get(status_url)).json() == []

    pushed = await client.post(f"/api/runs/{run['id']}/push", json={"remote": "origin"})
    assert pushed.status_code == 200, pushed.text
    [commit] = pushed.json()["commits"]
    assert commit["commit"] == git(remote, "rev-parse", run["branch"]).strip()
    assert pushed.json() | {"branch": run["branch"], "remote": "origin"} == pushed.json()
    [branch] = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert branch["pushed"] is True
    assert (await client.get(status_url)).json() == [
        {"repo_id": branch["repo_id"], "repo": "app", "branch": run["branch"], "run_id": run["id"], "pr_url": None}]

    (Path(run["worktrees"][0]["path"]) / "more.txt").write_text("more\n")
    accepted = await client.post(f"/api/runs/{run['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    tip = git(remote, "rev-parse", run["branch"]).strip()
    assert accepted.json()["commits"][0]["commit"] == tip != commit["commit"]
    assert "more.txt" in git(remote, "ls-tree", "--name-only", run["branch"])

    missing = await client.post(f"/api/runs/{run['id']}/pull-request", json={"title": "Add it"})
    assert "GitHub CLI `gh` is not installed" in error_of(missing, 400, "GH_MISSING") and "corral" not in missing.text

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/gh-args\n'
                                "echo https://github.com/acme/app/pull/7\n")
    (bin_dir / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    opened = await client.post(f"/api/runs/{run['id']}/pull-request", json={"body": "Please review"})
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"run_id": run["id"], "branch": run["branch"], "url": "https://github.com/acme/app/pull/7"}
    args = (tmp_path / "gh-args").read_text().splitlines()
    assert args[:6] == ["pr", "create", "--head", run["branch"], "--base", "main"]
    assert args[args.index("--title") + 1] == "Add pushed.txt" and args[args.index("--body") + 1] == "Please review"
    assert (await client.get(f"/api/runs/{run['id']}")).json()["pr_url"] == opened.json()["url"]
    assert (await client.get(status_url)).json()[0]["pr_url"] == opened.json()["url"]


async def test_a_push_to_a_remote_that_is_not_there_is_refused(client, engine, model, project):
    run = await finished(client, engine, model, project, {"x.txt": "x\n"})
    assert "no remote named 'origin'" in error_of(await client.post(f"/api/runs/{run['id']}/accept"), 400, "GIT_ERROR")
    error_of(await client.post(f"/api/runs/{run['id']}/push", json={"remote": "elsewhere"}), 400, "GIT_ERROR")
    error_of(await client.post(f"/api/runs/{run['id']}/push", json={"remote": "a b"}), 422, "VALIDATION_ERROR")


async def test_a_renamed_branch_keeps_its_run_and_can_be_merged_by_its_new_name(client, engine, model, project, repo):
    run = await finished(client, engine, model, project, {"auth.py": "login = True\n"})
    renamed = await client.post(f"/api/runs/{run['id']}/rename-branch", json={"name": "feat/auth"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["branch"] == "feat/auth" and renamed.json()["id"] == run["id"]
    assert git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/feat").split() == ["feat/auth"]
    assert git(run["worktrees"][0]["path"], "branch", "--show-current").strip() == "feat/auth"
    assert git(repo, "branch", "--list", run["branch"]) == ""

    for bad in ("has space", "a..b", "feat/auth"):
        error_of(await client.post(f"/api/runs/{run['id']}/rename-branch", json={"name": bad}), 400)
    for taken in ("main", "feat"):  # a branch, and a folder of branches
        onto = await client.post(f"/api/runs/{run['id']}/rename-branch", json={"name": taken})
        assert f"'{taken}' already exists" in error_of(onto, 409, "BRANCH_EXISTS")
    assert (await client.get(f"/api/runs/{run['id']}")).json()["branch"] == "feat/auth"
    merged = await client.post(f"/api/projects/{project['id']}/branches/merge", params={"branch": "feat/auth"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["branch"] == "feat/auth" and (repo / "auth.py").exists()


# -- branches without runs, by repo ----------------------------------------------------------------

async def test_branches_are_deleted_by_name_and_one_without_a_run_cannot_be_merged(
        client, engine, model, project, repo):
    git(repo, "branch", "corral/by-hand")
    [manual] = (await client.get(f"/api/projects/{project['id']}/branches")).json()
    assert (manual["name"], manual["run_id"], manual["merged"]) == ("corral/by-hand", None, False)  # no changes
    for verb in ("merge", "rebase"):
        refused = await client.post(f"/api/projects/{project['id']}/branches/{verb}",
                                    params={"branch": "corral/by-hand"})
        assert "belongs to no run" in error_of(refused, 404, "BRANCH_WITHOUT_RUN")
    error_of(await client.post(f"/api/projects/{project['id']}/branches/merge", params={"branch": "corral/none"}),
             404, "BRANCH_NOT_FOUND")

    run = await finished(client, engine, model, project, {"w.txt": "w\n"})
    url = f"/api/projects/{project['id']}/branches"
    error_of(await client.delete(url, params={"branch": run["branch"], "repo_id": "nope"}), 404, "REPO_NOT_FOUND")
    error_of(await client.delete(url, params={"branch": "corral/none"}), 404, "BRANCH_NOT_FOUND")
    error_of(await client.delete(url, params={"branch": run["branch"]}), 409, "BRANCH_UNMERGED")
    assert (await client.delete(url, params={"branch": "corral/by-hand", "repo_id": "app"})).status_code == 204
    gone = await client.delete(url, params={"branch": run["branch"], "repo_id": project["repos"][0]["id"],
                                            "force": "true"})
    assert gone.status_code == 204
    assert (await client.get(url)).json() == [] and git(repo, "branch", "--list", "corral/*") == ""
    assert not Path(run["worktrees"][0]["path"]).exists()
    assert "no branch named" in error_of(await client.post(f"/api/runs/{run['id']}/merge"), 400, "GIT_ERROR")


async def test_one_repo_of_a_two_repo_run_loses_its_branch_alone(client, engine, model, repo, tmp_path):
    api = init_git_repo(tmp_path / "api")
    project = (await client.post("/api/projects", json={
        "name": "both", "repos": [{"repo_path": str(repo)}, {"repo_path": str(api)}]})).json()
    model.set_script([text("Nothing to do.")])
    run = await start_run(client, project, "look")
    await engine.wait(run["id"])
    url = f"/api/projects/{project['id']}/branches"
    api_id = next(r["id"] for r in project["repos"] if r["name"] == "api")
    assert (await client.delete(url, params={"branch": run["branch"], "repo_id": api_id})).status_code == 204
    assert [(b["repo"], b["name"]) for b in (await client.get(url)).json()] == [("app", run["branch"])]
    assert git(api, "branch", "--list", "corral/*") == "" and run["branch"] in git(repo, "branch", "--list")


# -- settings, clean-up, logs ----------------------------------------------------------------------

async def test_the_post_create_command_is_set_over_http_and_runs_in_new_worktrees(client, engine, model, project):
    url = f"/api/projects/{project['id']}/settings"
    defaults = {"post_create": None, "max_runs": None, "notify": True, "auto_approve_plan": False,
                "deps_need_merge": True, "checks": [], "fix_tries": 0}
    assert (await client.get(url)).json() == defaults
    put = await client.put(url, json={"post_create": "echo ready > setup.txt"})
    assert put.status_code == 200 and put.json() == {**defaults, "post_create": "echo ready > setup.txt"}
    assert (await client.get(url)).json() == put.json()
    assert (await client.get(f"/api/projects/{project['id']}")).json()["post_create"] == "echo ready > setup.txt"

    model.set_script([text("Nothing to do.")])
    run = await start_run(client, project, "look around")
    await engine.wait(run["id"])
    assert (Path(run["worktrees"][0]["path"]) / "setup.txt").read_text() == "ready\n"

    assert (await client.put(url, json={"post_create": "   "})).json() == defaults
    limited = await client.put(url, json={"max_runs": 2, "notify": False})
    assert limited.json() == {**defaults, "max_runs": 2, "notify": False}
    assert (await engine.project(project["id"])).max_runs == 2
    assert (await client.put(url, json={})).json() == defaults  # PUT sets every setting
    error_of(await client.put(url, json={"max_runs": 0}), 422, "VALIDATION_ERROR")
    error_of(await client.put(url, json={"post_create": 5}), 422, "VALIDATION_ERROR")
    error_of(await client.put(url, json={"post_create": "x", "pre_create": "y"}), 422, "VALIDATION_ERROR")
    error_of(await client.put("/api/projects/nope/settings", json={}), 404, "PROJECT_NOT_FOUND")


async def test_clean_removes_the_worktrees_of_merged_runs_and_disk_use_follows(client, engine, model, project):
    merged = await finished(client, engine, model, project, {"done.txt": "done\n"})
    kept = await finished(client, engine, model, project, {"open.txt": "open\n"})
    assert (await client.post(f"/api/runs/{merged['id']}/merge")).status_code == 200
    use = (await client.get("/api/disk-use")).json()
    assert {r["run_id"] for r in use["runs"]} == {merged["id"], kept["id"]}
    assert use["total_bytes"] == sum(r["bytes"] for r in use["runs"]) > 0

    dry = (await client.post("/api/clean", json={"dry_run": True})).json()
    assert dry["dry_run"] is True and dry["bytes_freed"] > 0
    [would] = dry["removed"]
    assert (would["run_id"], would["why"], would["path"]) == (merged["id"], "merged", merged["worktrees"][0]["path"])
    assert Path(would["path"]).exists()

    done = (await client.post("/api/clean")).json()
    assert done["removed"] == dry["removed"] and not Path(would["path"]).exists()
    assert [r["run_id"] for r in (await client.get("/api/disk-use")).json()["runs"]] == [kept["id"]]
    assert (await client.post("/api/clean", json={})).json() == {"dry_run": False, "removed": [], "bytes_freed": 0}
    error_of(await client.post("/api/clean", json={"dry_run": "perhaps"}), 422, "VALIDATION_ERROR")


async def test_logs_are_plain_text_and_404_when_there_are_none(client, engine, model, project):
    run = await finished(client, engine, model, project, {"x.txt": "x\n"})
    log = engine.paths.run_log(run["id"])
    log.write_text("agent said something on stderr\n")
    got = await client.get(f"/api/runs/{run['id']}/logs")
    assert got.status_code == 200 and got.text == "agent said something on stderr\n"
    log.unlink()
    assert "has no log" in error_of(await client.get(f"/api/runs/{run['id']}/logs"), 404, "LOG_NOT_FOUND")


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, body", [
    ("DELETE", "/api/runs/feedbeef", None),
    ("POST", "/api/runs/feedbeef/reject", {"paths": ["."]}),
    ("POST", "/api/runs/feedbeef/revert", None),
    ("POST", "/api/runs/feedbeef/merge", {}),
    ("POST", "/api/runs/feedbeef/rebase", None),
    ("POST", "/api/runs/feedbeef/push", None),
    ("POST", "/api/runs/feedbeef/accept", None),
    ("POST", "/api/runs/feedbeef/pull-request", {}),
    ("POST", "/api/runs/feedbeef/rename-branch", {"name": "x"}),
    ("GET", "/api/runs/feedbeef/logs", None),
])
async def test_an_unknown_run_is_404_on_every_landing_route(client, method, path, body):
    assert "no run 'feedbeef'" in error_of(await client.request(method, path, json=body), 404, "RUN_NOT_FOUND")


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/projects/nope/branches"),
    ("DELETE", "/api/projects/nope/branches?branch=corral/x"),
    ("POST", "/api/projects/nope/branches/merge?branch=corral/x"),
    ("POST", "/api/projects/nope/branches/rebase?branch=corral/x"),
    ("GET", "/api/projects/nope/branches/pr-status"),
    ("GET", "/api/projects/nope/settings"),
])
async def test_an_unknown_project_is_404_on_every_branch_route(client, method, path):
    error_of(await client.request(method, path), 404, "PROJECT_NOT_FOUND")


@pytest.mark.parametrize("method, path, params, body", [
    ("DELETE", "/api/runs/x", {"force": "maybe"}, None),
    ("POST", "/api/runs/x/reject", {}, {}),
    ("POST", "/api/runs/x/reject", {}, {"paths": ["a"], "all": True}),
    ("POST", "/api/runs/x/merge", {}, {"how": "octopus"}),
    ("POST", "/api/runs/x/merge", {}, {"into": ""}),
    ("POST", "/api/runs/x/merge", {}, {"message": ["m"]}),
    ("POST", "/api/runs/x/rebase", {}, {"onto": 3}),
    ("POST", "/api/runs/x/push", {}, {"remote": None}),
    ("POST", "/api/runs/x/accept", {}, {"remote": ""}),
    ("POST", "/api/runs/x/pull-request", {}, {"title": 1}),
    ("POST", "/api/runs/x/pull-request", {}, {"draft": True}),
    ("POST", "/api/runs/x/rename-branch", {}, {}),
    ("POST", "/api/runs/x/rename-branch", {}, {"name": ""}),
    ("DELETE", "/api/projects/x/branches", {}, None),
    ("DELETE", "/api/projects/x/branches", {"branch": "b", "force": "perhaps"}, None),
    ("POST", "/api/projects/x/branches/merge", {}, None),
    ("POST", "/api/projects/x/branches/merge", {"branch": ""}, None),
    ("POST", "/api/projects/x/branches/rebase", {"branch": "b"}, {"onto": ""}),
    ("PUT", "/api/projects/x/settings", {}, {"post_create": ["ls"]}),
    ("POST", "/api/clean", {}, {"dry_run": []}),
])
async def test_wrong_types_in_landing_routes_are_validation_errors(client, method, path, params, body):
    error_of(await client.request(method, path, params=params, json=body), 422, "VALIDATION_ERROR")


async def test_a_read_only_token_reads_branches_but_cannot_land_anything(engine, model, repo):
    app = create_app(engine, ServerSettings(host="0.0.0.0"))
    full, viewer = await token_for(engine), await token_for(engine, "viewer", read_only=True)
    model.set_script(writes({"x.txt": "x\n"}))
    headers = {"Authorization": f"Bearer {viewer}"}
    async with client_of(app, Authorization=f"Bearer {full}") as admin, client_of(app, **headers) as reader:
        project = (await admin.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})).json()
        run = await start_run(admin, project, "write x")
        await engine.wait(run["id"])
        before = refs_and_status(repo), git(run["worktrees"][0]["path"], "status", "--porcelain")
        run_url, project_url = f"/api/runs/{run['id']}", f"/api/projects/{project['id']}"
        for method, path, body in [
            ("DELETE", run_url, None), ("POST", f"{run_url}/reject", {"paths": ["."]}),
            ("POST", f"{run_url}/revert", None), ("POST", f"{run_url}/merge", {}), ("POST", f"{run_url}/rebase", {}),
            ("POST", f"{run_url}/push", {}), ("POST", f"{run_url}/accept", None),
            ("POST", f"{run_url}/pull-request", {}), ("POST", f"{run_url}/rename-branch", {"name": "feat/x"}),
            ("DELETE", f"{project_url}/branches?branch={run['branch']}&force=true", None),
            ("POST", f"{project_url}/branches/merge?branch={run['branch']}", None),
            ("POST", f"{project_url}/branches/rebase?branch={run['branch']}", None),
            ("PUT", f"{project_url}/settings", {"post_create": "rm -rf ."}), ("POST", "/api/clean", {}),
        ]:
            error_of(await reader.request(method, path, json=body), 403, "READ_ONLY_TOKEN")
        assert (refs_and_status(repo), git(run["worktrees"][0]["path"], "status", "--porcelain")) == before
        assert (await admin.get(run_url)).json()["branch"] == run["branch"]
        assert (await admin.get(f"{project_url}/settings")).json()["post_create"] is None
        for path in (f"{project_url}/branches", f"{project_url}/branches/pr-status", f"{project_url}/settings",
                     "/api/disk-use", f"{run_url}/logs"):
            assert (await reader.get(path)).status_code == 200, path
