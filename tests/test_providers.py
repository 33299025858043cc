"""Where an agent's model is: a profile's provider settings (an endpoint, and the name of the variable
that holds its key, never the key) and each CLI's defaults, through the engine, the API and the CLI."""

from __future__ import annotations

import pytest
from helpers import corral, corral_json, error_of
from model_server import text

from core.errors import CorralError
from core.models import RunStatus


async def test_a_profile_sends_its_agent_to_its_own_endpoint_with_the_key_it_names(engine, model, other_model,
                                                                                  repo, monkeypatch):
    monkeypatch.setenv("OTHER_PROVIDER_KEY", "sk-ant-api03-other-endpoint-key")
    other_model.set_script([text("Answered by the other endpoint.")])
    project = await engine.add_project(repo)
    await engine.add_agent("elsewhere", provider_config={"base_url": other_model.url,
                                                          "api_key_env": "OTHER_PROVIDER_KEY"})
    run = await engine.wait((await engine.start_run(project.id, "say hello", agent="elsewhere")).id)

    assert run.status == RunStatus.COMPLETED, run.reason
    assert other_model.main_requests and not model.main_requests  # the usual endpoint heard nothing
    assert other_model.last_main().headers.get("x-api-key") == "sk-ant-api03-other-endpoint-key"
    stored = await engine.agent("elsewhere")
    assert stored.provider_config == {"base_url": other_model.url, "api_key_env": "OTHER_PROVIDER_KEY"}


async def test_a_key_variable_that_is_not_set_fails_the_run_saying_which(engine, model, repo, monkeypatch):
    monkeypatch.delenv("MISSING_PROVIDER_KEY", raising=False)
    project = await engine.add_project(repo)
    await engine.add_agent("keyless", provider_config={"api_key_env": "MISSING_PROVIDER_KEY"})
    run = await engine.wait((await engine.start_run(project.id, "say hello", agent="keyless")).id)
    assert run.status == RunStatus.FAILED and "$MISSING_PROVIDER_KEY" in run.reason
    assert not model.main_requests


async def test_each_clis_defaults_apply_where_a_profile_sets_none(engine, model, other_model, repo):
    other_model.set_script([text("Defaults.")])
    project = await engine.add_project(repo)
    await engine.set_model_settings({"claude-code": {"model": "claude-haiku-4-5",
                                                     "provider_config": {"base_url": other_model.url}}})
    run = await engine.wait((await engine.start_run(project.id, "say hello")).id)  # the default profile
    assert run.status == RunStatus.COMPLETED, run.reason
    assert other_model.last_main().model == "claude-haiku-4-5" and not model.main_requests

    model.set_script([text("Its own.")])
    await engine.add_agent("own", model="claude-sonnet-4-6", provider_config={"base_url": model.url})
    own = await engine.wait((await engine.start_run(project.id, "say hello", agent="own")).id)
    assert own.status == RunStatus.COMPLETED, own.reason
    assert model.last_main().model == "claude-sonnet-4-6"  # the profile's own win


@pytest.mark.parametrize(("config", "refusal"), [
    ({"api_key": "sk-live-123"}, "looks like a secret"),
    ({"auth_token": "abc"}, "looks like a secret"),
    ({"base_url": "ftp://example.test"}, "not an http"),
    ({"api_key_env": "NOT A NAME"}, "not the name of an environment variable"),
    ({"Base-URL": "http://127.0.0.1"}, "names are lower case"),
])
async def test_a_bad_provider_setting_is_refused_and_nothing_is_kept(engine, config, refusal):
    with pytest.raises(CorralError, match=refusal):
        await engine.add_agent("bad", provider_config=config)
    with pytest.raises(CorralError, match=refusal):
        await engine.set_model_settings({"claude-code": {"provider_config": config}})
    assert [a.name for a in await engine.agents()] == ["claude"] and await engine.model_settings() == {}


async def test_the_api_takes_a_profile_as_the_seed_writes_it_and_keeps_model_settings(client):
    made = await client.post("/api/agents", json={
        "name": "Feature Builder", "cli_name": "claude-code", "model": "claude-sonnet-4-6",
        "instructions": "You are a senior developer...", "allowed_tools": "Read,Edit,Write,Bash,Glob,Grep",
        "max_turns": 100, "provider_config": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"},
        "role": "builder"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["cli"] == "claude-code" and body["role"] == "builder"
    assert body["allowed_tools"] == ["Read", "Edit", "Write", "Bash", "Glob", "Grep"]
    assert body["provider_config"] == {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"}

    refused = await client.post("/api/agents", json={"name": "leaky", "provider_config": {"api_key": "sk-1"}})
    assert "api_key_env" in error_of(refused, 400, "SECRET_REFUSED")
    changed = await client.patch(f"/api/agents/{body['id']}", json={"role": "reviewer", "provider_config": {}})
    assert changed.json()["role"] == "reviewer" and changed.json()["provider_config"] == {}

    assert (await client.get("/api/settings/models")).json() == {"clis": {}}
    wanted = {"clis": {"claude-code": {"model": "claude-haiku-4-5", "provider_config": {"wire_api": "messages"}}}}
    put = await client.put("/api/settings/models", json=wanted)
    assert put.status_code == 200 and put.json() == wanted
    assert (await client.get("/api/settings/models")).json() == wanted
    unknown = await client.put("/api/settings/models", json={"clis": {"no-such-cli": {}}})
    error_of(unknown, 400, "UNKNOWN_AGENT_CLI")
    assert (await client.get("/api/settings/models")).json() == wanted  # nothing changed


def test_the_cli_adds_a_profile_with_its_endpoint_and_refuses_a_bad_setting(agent_env):
    made = corral_json("agent", "add", "writer", "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "MY_KEY",
                       "--provider", "wire_api=chat", "--role", "reviewer")
    assert made["provider_config"] == {"wire_api": "chat", "base_url": "http://127.0.0.1:9/v1",
                                       "api_key_env": "MY_KEY"}
    assert made["role"] == "reviewer"
    assert "http://127.0.0.1:9/v1" in corral("agent", "list").stdout

    for bad, says in ((["--provider", "wire_api"], "is not KEY=VALUE"),
                      (["--provider", "token=abc"], "looks like a secret")):
        done = corral("agent", "add", "other", *bad, check=False)
        assert done.returncode != 0 and says in done.stderr and "Traceback" not in done.stderr
    assert [a["name"] for a in corral_json("agent", "list")] == ["claude", "writer"]


def test_corral_agents_says_which_clis_are_installed_and_how_to_install_the_rest(agent_env, monkeypatch):
    [claude] = [c for c in corral_json("agents") if c["cli"] == "claude-code"]
    assert claude["path"].endswith("claude") and "Claude Code" in claude["version"]
    assert claude["version"].split()[0] in corral("agents").stdout
    # what each CLI can do is said, and what it cannot is not faked (Codex prices no tokens)
    supports = {c["cli"]: c["supports"] for c in corral_json("agents")}
    assert supports["claude-code"]["cost"] and not supports["codex"]["cost"]
    assert supports["codex"]["fork"] and not supports["gemini"]["fork"]
    assert "asks, always-allow, continue, tokens; no fork, rewind, cost, attach, plans" in corral("agents").stdout

    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # an agent CLI that is not installed here
    missing = corral("agents").stdout
    assert "claude-code    not installed: install Claude Code with `npm install -g @anthropic-ai/claude-code`" \
        in missing
    for cli, package in (("qwen", "@qwen-code/qwen-code"), ("opencode", "opencode-ai"), ("copilot", "@github/copilot")):
        assert f"{cli:<14} not installed: install it with `npm install -g {package}`" in missing
