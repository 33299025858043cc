"""Aider: the real CLI (pinned in tests/aider-requirements.txt, in its own venv tests/.aider), driven
by corral against the scripted OpenAI server's Chat Completions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import corral_json, git
from openai_server import OpenAIServer, error, text

from core.agents.aider import AiderParser
from core.models import RunStatus

AIDER = Path(__file__).parent / ".aider" / "bin" / "aider"
PINNED = (Path(__file__).parent / "aider-requirements.txt").read_text().split("==")[1].strip()
KEY = "sk-aider-tests"
EDIT = text("I will say hello.\n\nREADME.md\n```\nhello from aider\n```\n")

needs_aider = pytest.mark.skipif(not AIDER.exists(), reason="install aider as the README's test command does")


def every_turn(*steps: dict) -> list[dict]:
    """The steps for whichever turn aider asks at: it counts the example answers of its own prompt."""
    return list(steps) * 12


@pytest.fixture
def openai(agent_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The scripted OpenAI server, aider on PATH (alone, not its venv's python), the key's variable set."""
    bin_dir = tmp_path / "aider-bin"
    bin_dir.mkdir()
    (bin_dir / "aider").symlink_to(AIDER)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MY_AIDER_KEY", KEY)
    with OpenAIServer() as server:
        yield server


async def _start(engine, repo, openai, prompt: str = "say hello in the README", **profile):
    project = await engine.add_project(repo)
    await engine.add_agent("aider", cli="aider", model="scripted-model", **{"provider_config": {
        "base_url": openai.url.rstrip("/") + "/v1", "api_key_env": "MY_AIDER_KEY", "edit_format": "whole"},
        **profile})
    return await engine.start_run(project.id, prompt, agent="aider")


@needs_aider
async def test_an_aider_run_edits_a_file_and_the_branch_holds_corrals_commit_only(engine, openai, repo):
    config_before = (repo / ".git" / "config").read_text()
    openai.set_script(every_turn(EDIT))
    run = await _start(engine, repo, openai)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason

    worktree = Path(run.worktrees[0].path)
    assert (worktree / "README.md").read_text() == "hello from aider\n"
    subjects = git(repo, "log", "--format=%s", f"main..{done.branch}").splitlines()
    assert len(subjects) == 1 and subjects[0].startswith(f"corral: run {done.short_id}")  # none of aider's own
    assert "README.md" in git(repo, "show", "--stat", "--format=", done.branch)
    assert git(worktree, "status", "--porcelain", "--ignored") == ""  # no .aider* files left in the worktree
    assert not list(repo.glob(".aider*")) and (repo / ".git" / "config").read_text() == config_before

    events = await engine.events(run.id)
    lines = [e.payload["text"] for e in events if e.type == "agent.output"]
    assert "Applied edit to README.md" in lines and "hello from aider" in lines
    assert not [line for line in lines if "githubusercontent" in line]  # no price list download
    [init] = [e for e in events if e.type == "session.init"]
    assert init.payload["version"] == PINNED and init.payload["session_id"] == done.session_id
    [result] = [e.payload for e in events if e.type == "run.result"]
    sent = openai.chat_requests
    # README.md was not in aider's chat: it adds the file the answer names, and asks again
    assert len(sent) == result["num_turns"] == 2
    assert all(r.headers["authorization"] == f"Bearer {KEY}" and r.body["model"] == "scripted-model" for r in sent)
    # aider's own counts (streamed answers carry no usage), as it logs them: those it prints, unrounded
    printed = [re.match(r"Tokens: (\d+) sent, (\d+) received", line) for line in lines]
    assert done.tokens_in == sum(int(m[1]) for m in printed if m) > 0
    assert done.tokens_out == sum(int(m[2]) for m in printed if m) > 0
    assert [e.type for e in events][-1] == "run.completed"
    home = engine.paths.agent_home(run.id)
    assert list(home.glob("aider-chat-*.md")) and (home / "aider-tags-cache").is_dir()
    assert KEY not in json.dumps([e.payload for e in events])
    assert not list(Path(os.environ["HOME"]).glob(".aider*"))  # nothing in the user's home


@needs_aider
async def test_a_continued_or_forked_aider_run_goes_on_in_its_chat_history(engine, openai, repo):
    openai.set_script(every_turn(EDIT))
    run = await _start(engine, repo, openai)
    assert (await engine.wait(run.id)).status == RunStatus.COMPLETED
    openai.set_script(every_turn(text("It says hello already.")))
    await engine.continue_run(run.id, "does the README say hello?")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    asked = json.dumps(openai.chat_requests[-1].messages)
    assert "say hello in the README" in asked and "does the README say hello?" in asked

    fork = await engine.wait((await engine.fork(run.id, "and in French?")).id)
    assert fork.status == RunStatus.COMPLETED, fork.reason
    assert fork.session_id != done.session_id
    asked = json.dumps(openai.chat_requests[-1].messages)
    assert "does the README say hello?" in asked and "and in French?" in asked


@needs_aider
async def test_a_plan_profile_runs_aider_in_its_ask_mode_which_edits_nothing(engine, openai, repo):
    openai.set_script(every_turn(EDIT))
    run = await _start(engine, repo, openai, permission_mode="plan")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (Path(run.worktrees[0].path) / "README.md").read_text() == "scratch repository\n"
    assert git(repo, "log", "--format=%s", f"main..{done.branch}") == ""


@needs_aider
@pytest.mark.parametrize("status, says", [(401, "Incorrect API key provided"), (500, "the model is down")])
async def test_a_model_endpoint_that_fails_fails_the_run_with_its_reason(engine, openai, repo, status, says):
    openai.set_script(every_turn(error(status, says, times=99), text("never said")))
    run = await _start(engine, repo, openai)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert says in (done.reason or "")
    assert "agent.error" in [e.type for e in await engine.events(run.id)]


@needs_aider
async def test_a_missing_key_variable_or_an_asking_profile_is_refused_before_anything_is_made(
        engine, openai, repo, monkeypatch):
    monkeypatch.delenv("MY_AIDER_KEY")
    run = await _start(engine, repo, openai)
    assert run.status == RunStatus.FAILED and "$MY_AIDER_KEY" in (run.reason or "")
    assert run.worktrees == [] and "corral/" not in git(repo, "branch")

    await engine.add_agent("asking", cli="aider", model="m", permission_mode="default")
    asking = await engine.start_run(run.project_id, "say hello", agent="asking")
    assert asking.status == RunStatus.FAILED and "aider cannot ask" in (asking.reason or "")
    assert asking.worktrees == [] and openai.chat_requests == []


@needs_aider
def test_corral_agents_lists_aider_with_its_version(openai):
    [aider] = [c for c in corral_json("agents") if c["cli"] == "aider"]
    assert aider["version"] == f"aider {PINNED}" and aider["path"].endswith("aider")
    # it never asks, and its chat history is what continue and fork go on in
    assert {name for name, has in aider["supports"].items() if has} == {"resume", "fork", "tokens", "cost"}


RETRIED = """\
Aider v0.86.2
litellm.InternalServerError: InternalServerError: OpenAIException - the model is down
The API provider's servers are down or overloaded.
Retrying in 0.2 seconds...
litellm.InternalServerError: InternalServerError: OpenAIException - the model is down
The API provider's servers are down or overloaded.
"""


@pytest.mark.parametrize("answered", [False, True])
def test_an_error_aider_retries_fails_the_run_only_when_no_answer_follows(answered):
    parser = AiderParser("s-1")
    lines = RETRIED + ("Tokens: 1.2k sent, 85 received.\n" if answered else "")
    kinds = [kind for line in lines.encode().splitlines() for kind, _ in parser.parse(line).events]
    assert kinds.count("agent.retry") == 1 and "agent.error" not in kinds and "session.init" in kinds
    ended = dict(parser.finish(0).events)
    result = ended["run.result"]
    if answered:
        assert not result["is_error"] and (result["tokens_in"], result["tokens_out"]) == (1200, 85)
    else:
        assert result["is_error"] and "the model is down" in result["reason"]
        assert ended["agent.error"]["message"] == result["reason"]
