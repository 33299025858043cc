"""One task raced across agents: a run each, one group, compared side by side (with the project's
own check run in each worktree), the best merged and the rest deleted."""

from __future__ import annotations

import pytest
from codex_env import MODEL as CODEX_MODEL
from gemini_server import GeminiServer
from gemini_server import text as gemini_text
from gemini_server import tool as gemini_tool
from helpers import corral, corral_json, git
from model_server import text, tool
from openai_server import OpenAIServer, patch
from openai_server import text as openai_text

from core.errors import CorralError, NotFound
from core.models import RunStatus


def write(name: str) -> dict:
    return tool("Write", {"file_path": name, "content": f"{name}\n"})


def test_a_race_is_run_compared_with_a_check_and_the_best_merged(agent_env, model, other_model, repo):
    model.set_script([write("feature.py"), write("test_feature.py"), text("Done, with a test.")])
    other_model.set_script([tool("Write", {"file_path": "feature.py", "content": "other\n"}), text("Done.")])
    project = corral_json("project", "add", str(repo))
    corral("agent", "add", "other", "--base-url", other_model.url)

    raced = corral_json("run", "--project", project["id"], "--agent", "claude", "--agent", "other", "--wait",
                        "add the feature")
    assert [r["agent_name"] for r in raced] == ["claude", "other"]
    assert all(r["status"] == RunStatus.COMPLETED for r in raced), [r["reason"] for r in raced]
    group = raced[0]["group_id"]
    assert group and raced[1]["group_id"] == group and raced[0]["branch"] != raced[1]["branch"]
    listed = corral("runs").stdout
    assert f"race {group[:8]}: 2 runs of the same task" in listed

    compared = corral_json("compare", group[:8], "--check", "test -f test_feature.py")
    by_agent = {e["run"]["agent_name"]: e for e in compared}
    assert by_agent["claude"]["files"] == 2 and by_agent["other"]["files"] == 1
    assert by_agent["claude"]["added"] == 2 and by_agent["claude"]["deleted"] == 0
    assert by_agent["claude"]["turns"] == 3 and by_agent["other"]["turns"] == 2
    assert by_agent["claude"]["check"]["exit_code"] == 0 and by_agent["other"]["check"]["exit_code"] == 1
    assert all(e["seconds"] is not None and e["seconds"] >= 0 for e in compared)
    table = corral("compare", group[:8], "--check", "test -f test_feature.py").stdout
    assert "2 files +2 -0" in table and "check: passed" in table and "check: failed (1)" in table
    assert not any(e["landed"] for e in compared)

    best, rest = by_agent["claude"]["run"], by_agent["other"]["run"]
    corral("merge", best["id"])
    landed = {e["run"]["agent_name"]: e["landed"] for e in corral_json("compare", group[:8])}
    assert landed == {"claude": True, "other": False}
    assert f"{best['id'][:8]}  claude     landed" in corral("compare", group[:8]).stdout
    corral("delete", rest["id"], "--force")
    assert set(git(repo, "ls-tree", "--name-only", "HEAD").split()) >= {"feature.py", "test_feature.py"}
    assert git(repo, "branch", "--list", rest["branch"]) == ""


async def test_a_race_needs_two_known_agents_and_makes_nothing_otherwise(engine, repo):
    project = await engine.add_project(repo)
    with pytest.raises(CorralError, match="two agents or more"):
        await engine.race(project.id, "do it", ["claude", "claude"])
    with pytest.raises(NotFound, match="no agent 'nobody'"):
        await engine.race(project.id, "do it", ["claude", "nobody"])
    assert await engine.runs() == []
    with pytest.raises(NotFound, match="no race"):
        await engine.compare("abcd1234")


async def test_the_api_races_a_task_and_compares_the_runs(engine, client, project, model, other_model):
    model.set_script([write("a.py"), text("Done.")])
    other_model.set_script([text("Nothing to do.")])
    await engine.add_agent("other", provider_config={"base_url": other_model.url})
    made = await client.post("/api/races", json={"task": "add a", "agent_ids": ["claude", "other"],
                                                 "project_id": project["id"]})
    assert made.status_code == 201, made.text
    race = made.json()
    assert [r["agent_name"] for r in race["runs"]] == ["claude", "other"]
    assert all(r["group_id"] == race["group_id"] for r in race["runs"])
    for run in race["runs"]:
        assert (await engine.wait(run["id"])).status == RunStatus.COMPLETED

    got = (await client.get(f"/api/races/{race['group_id'][:8]}")).json()
    assert [r["id"] for r in got["runs"]] == [r["id"] for r in race["runs"]]
    compared = await client.post(f"/api/races/{race['group_id']}/compare", json={"check": "test -f a.py"})
    assert compared.status_code == 200, compared.text
    by_agent = {e["run"]["agent_name"]: e for e in compared.json()}
    assert by_agent["claude"]["files"] == 1 and by_agent["claude"]["check"]["exit_code"] == 0
    assert by_agent["other"]["files"] == 0 and by_agent["other"]["check"]["exit_code"] == 1

    too_few = await client.post("/api/races", json={"task": "x", "agent_ids": ["claude"], "project_id": project["id"]})
    assert too_few.status_code == 422
    assert (await client.get("/api/races/abcd1234")).json()["error"]["code"] == "GROUP_NOT_FOUND"


async def test_claude_codex_and_gemini_race_one_task_and_the_best_is_merged(engine, model, repo, monkeypatch):
    """Three agent CLIs, each reached at its own scripted endpoint through its profile."""
    monkeypatch.setenv("CORRAL_TEST_KEY", "corral-tests-dummy-key")
    key = {"api_key_env": "CORRAL_TEST_KEY"}
    model.set_script([write("limits.py"), text("Done.")])
    with OpenAIServer() as openai, GeminiServer() as gemini:
        openai.set_script([patch("*** Begin Patch\n*** Add File: limits.py\n+LIMIT = 10\n*** End Patch\n"),
                           patch("*** Begin Patch\n*** Add File: test_limits.py\n+import limits\n*** End Patch\n"),
                           openai_text("Rate limiting added, with a test.")])
        gemini.set_script([gemini_tool("write_file", {"file_path": "notes.md", "content": "todo\n"}),
                           gemini_text("I only took notes.")])
        await engine.add_agent("codex", cli="codex", model=CODEX_MODEL,
                               provider_config={"base_url": f"{openai.url}/v1", **key})
        await engine.add_agent("gemini", cli="gemini", model="gemini-2.5-flash",
                               provider_config={"base_url": gemini.url, **key})
        project = await engine.add_project(repo)
        raced = await engine.race(project.id, "add rate limiting", ["claude", "codex", "gemini"])
        for run in raced:
            done = await engine.wait(run.id)
            assert done.status == RunStatus.COMPLETED, (done.agent_name, done.reason)

    compared = await engine.compare(raced[0].group_id, "test -f limits.py && test -f test_limits.py")
    by_agent = {e.run.agent_name: e for e in compared}
    assert len({e.run.branch for e in compared}) == 3
    assert (by_agent["claude"].files, by_agent["codex"].files, by_agent["gemini"].files) == (1, 2, 1)
    assert [by_agent[a].check.exit_code == 0 for a in ("claude", "codex", "gemini")] == [False, True, False]
    assert all(e.run.tokens_in > 0 for e in compared)
    assert by_agent["claude"].run.cost_usd > 0 and by_agent["codex"].run.cost_usd == 0  # Codex prices nothing

    best = by_agent["codex"].run
    await engine.merge(best.id)
    for rest in (by_agent["claude"].run, by_agent["gemini"].run):
        await engine.delete_run(rest.id, force=True)
    assert set(git(repo, "ls-tree", "--name-only", "HEAD").split()) >= {"limits.py", "test_limits.py"}
    assert git(repo, "show", "HEAD:limits.py") == "LIMIT = 10\n"
    [left] = await engine.compare(raced[0].group_id)
    assert left.run.id == best.id and left.landed
