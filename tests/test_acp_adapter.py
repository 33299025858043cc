"""The ACP adapter turns recorded real Gemini CLI lines (tests/fixtures/gemini, 0.61.0) into events and
answers, serves the agent's file requests only inside the run's working directory, and launches
the CLI with corral's own settings."""

from __future__ import annotations

import json
from pathlib import Path

from core.agents import adapter
from core.agents.acp import AcpParser
from core.agents.acp_clis import CLIS, _gemini_keep_session
from core.models import Agent, Approval

FIXTURES = Path(__file__).parent / "fixtures" / "gemini"
PROMPT = [{"type": "text", "text": "write hello"}]


def gemini_parser(**options) -> AcpParser:
    table = CLIS["gemini"]
    return AcpParser(**{"cwd": "/tmp/gx/repo", "prompt": PROMPT, "noise": table.noise,
                        "replay_end": table.replay_end, **options})


def feed(name: str, parser: AcpParser | None = None) -> tuple[list[tuple[str, dict]], list[dict], list[bool]]:
    """The events, the messages corral sent back, and which lines ended the turn."""
    parser = parser or gemini_parser()
    events: list[tuple[str, dict]] = []
    sent: list[dict] = []
    ended: list[bool] = []
    for line in (FIXTURES / name).read_bytes().splitlines():
        parsed = parser.parse(line)
        events.extend(parsed.events)
        sent.extend(json.loads(reply) for reply in parsed.replies)
        ended.append(parsed.turn_ended)
    return events, sent, ended


def of(events, kind: str) -> list[dict]:
    return [payload for k, payload in events if k == kind]


def test_a_session_is_opened_in_the_runs_directory_and_prompted_once_it_exists():
    parser = gemini_parser()
    hello = json.loads(parser.initialize())
    assert hello["method"] == "initialize" and hello["id"] == 0
    assert hello["params"]["clientCapabilities"]["fs"] == {"readTextFile": False, "writeTextFile": False}
    events, sent, ended = feed("allowed_once.jsonl", parser)
    assert [m["method"] for m in sent] == ["session/new", "session/prompt"]
    assert sent[0]["params"] == {"cwd": "/tmp/gx/repo", "mcpServers": []}
    assert sent[1]["params"]["prompt"] == PROMPT and sent[1]["params"]["sessionId"] == parser.session_id
    [init] = of(events, "session.init")
    assert init["session_id"] == parser.session_id and init["version"] == "0.61.0"
    assert ended[-1] is True and not any(ended[:-1])


def test_permission_requests_become_needs_attention_with_the_tool_its_input_and_the_options():
    events, _, _ = feed("allowed_once.jsonl")
    asked = of(events, "agent.needs_attention")
    assert [a["tool"] for a in asked] == ["write_file", "run_shell_command"]
    write, shell = asked
    assert write["input"]["content"] == "hi\n" and write["input"]["file_path"].endswith("hello.txt")
    assert shell["input"]["command"] == "echo 42 > answer.txt"
    assert shell["request_id"].startswith("1/run_shell_command__")
    assert {o["kind"] for o in shell["suggestions"]} == {"allow_once", "allow_always", "reject_once"}
    assert [c["name"] for c in of(events, "agent.tool_call")] == ["write_file", "run_shell_command"]
    results = of(events, "agent.tool_result")
    assert [(r["name"], r["is_error"]) for r in results] == [("write_file", False), ("run_shell_command", False)]
    assert "".join(t["text"] for t in of(events, "agent.token")) == "Done now."
    assert [m["text"] for m in of(events, "agent.message")] == ["Done now."]
    [result] = of(events, "run.result")
    assert result["is_error"] is False and result["tokens_in"] > 0 and result["tokens_out"] > 0


def test_a_refused_call_that_the_agent_drops_silently_gets_a_failed_result():
    events, _, _ = feed("denied.jsonl")
    results = of(events, "agent.tool_result")
    assert [(r["name"], r["is_error"]) for r in results] == [("write_file", True), ("run_shell_command", True)]
    assert of(events, "run.result")[0]["is_error"] is False


def test_the_clis_mode_notes_after_an_always_allow_are_not_the_models_words():
    events, _, _ = feed("allowed_always.jsonl")
    said = "".join(p["text"] for p in of(events, "agent.token") + of(events, "agent.message"))
    assert "MODE_UPDATE" not in said and "Done now." in said


def test_a_loaded_session_is_prompted_after_its_replayed_history_which_is_not_told_again():
    parser = gemini_parser(resume="d665a14d-e181-40d9-ba16-7acae51651f7")
    lines = (FIXTURES / "load.jsonl").read_bytes().splitlines()
    sent: list[str] = []
    events: list[tuple[str, dict]] = []
    for line in lines:
        parsed = parser.parse(line)
        events.extend(parsed.events)
        sent.extend(json.loads(r)["method"] for r in parsed.replies)
        if b"available_commands_update" in line:
            assert sent == ["session/load", "session/prompt"]  # the prompt waited for the replay's end
    assert of(events, "session.init")[0]["session_id"] == "d665a14d-e181-40d9-ba16-7acae51651f7"
    assert [m["text"] for m in of(events, "agent.message")] == ["again."]


def test_a_session_without_load_support_starts_anew_and_says_so():
    parser = AcpParser(cwd="/w", prompt=PROMPT, resume="old")
    parsed = parser.parse(b'{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{}}}')
    assert json.loads(parsed.replies[0])["method"] == "session/new"
    assert parsed.events[0][0] == "run.warning"
    forked = AcpParser(cwd="/w", prompt=PROMPT, resume="old", fork=True)
    parsed = forked.parse(b'{"jsonrpc":"2.0","id":0,"result":{"agentCapabilities":{"loadSession":true}}}')
    assert json.loads(parsed.replies[0])["method"] == "session/new" and "fork" in parsed.events[0][1]["message"]


def test_an_error_answer_to_the_prompt_fails_the_turn_with_its_message():
    parser = AcpParser(cwd="/w", prompt=PROMPT)
    parser.parse(b'{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}}')
    parser.parse(b'{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s"}}')
    parsed = parser.parse(b'{"jsonrpc":"2.0","id":2,"error":{"code":400,"message":"quota exhausted"}}')
    assert parsed.turn_ended
    assert parsed.events[-1][0] == "run.result" and parsed.events[-1][1]["is_error"] is True
    assert "quota exhausted" in parsed.events[-1][1]["reason"]


def _ask(parser: AcpParser, rpc_id: int, method: str, **params) -> dict:
    line = json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": {"sessionId": "s", **params}})
    [reply] = parser.parse(line.encode()).replies
    answer = json.loads(reply)
    assert answer["id"] == rpc_id
    return answer


def test_file_requests_are_served_inside_the_working_directory_only(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "secret.txt").write_text("keep out\n")
    (work / "link").symlink_to(tmp_path / "secret.txt")
    parser = AcpParser(cwd=str(work), prompt=PROMPT)

    read = _ask(parser, 1, "fs/read_text_file", path=str(work / "notes.txt"))
    assert read["result"] == {"content": "one\ntwo\nthree\n"}
    assert _ask(parser, 2, "fs/read_text_file", path=str(work / "notes.txt"), line=2, limit=1)["result"] == {
        "content": "two\n"}
    assert _ask(parser, 3, "fs/read_text_file", path=str(work / "missing.txt"))["error"]["code"] == -32002
    for outside in (str(tmp_path / "secret.txt"), str(work / ".." / "secret.txt"), str(work / "link"), "/etc/passwd"):
        refused = _ask(parser, 4, "fs/read_text_file", path=outside)
        assert "error" in refused and "outside" in refused["error"]["message"]

    assert _ask(parser, 5, "fs/write_text_file", path=str(work / "new" / "a.txt"), content="hi\n")["result"] is None
    assert (work / "new" / "a.txt").read_text() == "hi\n"
    assert "error" in _ask(parser, 6, "fs/write_text_file", path=str(tmp_path / "evil.txt"), content="x")
    assert not (tmp_path / "evil.txt").exists()
    assert _ask(parser, 7, "terminal/create", command="ls")["error"]["code"] == -32601


def test_answers_select_the_offered_option_of_the_kind_asked():
    gemini = adapter("gemini")
    options = [{"optionId": "proceed_always", "kind": "allow_always"},
               {"optionId": "proceed_once", "kind": "allow_once"}, {"optionId": "cancel", "kind": "reject_once"}]
    request = Approval(1, "r", "7/run_shell_command__x_1", "run_shell_command", {}, "pending", None, "",
                       suggestions=options)

    def chosen(allow: bool, always: bool = False) -> str:
        answer = json.loads(gemini.answer(request, allow, None, always=always))
        assert answer["id"] == 7 and answer["jsonrpc"] == "2.0"
        assert answer["result"]["outcome"]["outcome"] == "selected"
        return answer["result"]["outcome"]["optionId"]

    assert (chosen(True), chosen(True, always=True), chosen(False)) == ("proceed_once", "proceed_always", "cancel")


def test_the_launch_runs_the_cli_in_acp_mode_with_corrals_settings_in_its_own_home(tmp_path):
    binary = tmp_path / "gemini"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    home = tmp_path / "agent-home"
    profile = Agent(id="a", name="g", cli="gemini", model="gemini-2.5-flash", command=str(binary), max_turns=5)
    launch = adapter("gemini").launch(profile, "fix the bug", cwd=str(tmp_path), home=str(home))
    argv = launch.argv
    assert argv[:2] == [str(binary), "--acp"]
    assert argv[argv.index("--approval-mode") + 1] == "auto_edit"  # the profile's acceptEdits
    assert argv[argv.index("-m") + 1] == "gemini-2.5-flash"
    assert launch.env == {"GEMINI_CLI_HOME": str(home)}
    settings = json.loads((home / ".gemini" / "settings.json").read_text())
    assert settings["privacy"]["usageStatisticsEnabled"] is False and settings["model"]["maxSessionTurns"] == 5
    assert json.loads(launch.stdin)["method"] == "initialize" and launch.parser is not None


def test_a_session_file_is_renamed_so_loading_it_cannot_hide_it(tmp_path):
    chats = tmp_path / ".gemini" / "tmp" / "app" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-2026-12-01T18-25-d665a14d.jsonl").write_text("{}\n")
    (chats / "session-2026-12-01T18-25-d665a14d-1.jsonl").write_text("{}\n")
    (chats / "session-2026-12-01T18-25-0b924858.jsonl").write_text("{}\n")
    _gemini_keep_session(tmp_path, "d665a14d-e181-40d9-ba16-7acae51651f7")
    assert sorted(p.name for p in chats.iterdir()) == [
        "session-2026-12-01T18-25-0b924858.jsonl", "session-2026-12-01T18-25-d665a14d-1.jsonl",
        "session-2026-12-01T18-25-d665a14d-2.jsonl"]


def test_the_profiles_endpoint_and_key_go_in_the_clis_own_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_GEMINI_KEY", "secret")
    profile = Agent(id="a", name="g", cli="gemini", command="/bin/sh",
                    provider_config={"base_url": "http://127.0.0.1:9", "api_key_env": "MY_GEMINI_KEY"})
    env = adapter("gemini").launch(profile, "hi", cwd=str(tmp_path), home=str(tmp_path / "h")).env
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:9" and env["GEMINI_API_KEY"] == "secret"


def _binary(tmp_path: Path, name: str) -> str:
    binary = tmp_path / name
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return str(binary)


def test_qwen_starts_in_corrals_mode_with_its_endpoint_and_its_own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "secret")
    home = tmp_path / "agent-home"
    profile = Agent(id="a", name="q", cli="qwen", model="qwen3-coder", command=_binary(tmp_path, "qwen"),
                    provider_config={"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"})
    launch = adapter("qwen").launch(profile, "fix it", cwd=str(tmp_path), home=str(home))
    argv = launch.argv
    assert argv[1] == "--acp" and argv[argv.index("--approval-mode") + 1] == "auto-edit"  # not its "auto"
    assert argv[argv.index("--auth-type") + 1] == "openai" and argv[argv.index("-m") + 1] == "qwen3-coder"
    assert launch.env == {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "secret",
                          "QWEN_HOME": str(home)}
    settings = json.loads((home / "settings.json").read_text())
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert settings["memory"]["enableManagedAutoMemory"] is False
    assert "secret" not in (home / "settings.json").read_text()


def test_opencode_reads_a_config_in_its_own_home_that_names_the_key_without_holding_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "secret")
    home = tmp_path / "agent-home"
    profile = Agent(id="a", name="o", cli="opencode", model="m1", command=_binary(tmp_path, "opencode"),
                    permission_mode="default",
                    provider_config={"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"})
    launch = adapter("opencode").launch(profile, "fix it", cwd=str(tmp_path), home=str(home))
    assert launch.argv[1:] == ["acp"]
    assert launch.env["XDG_CONFIG_HOME"] == str(home / "config") and launch.env["XDG_DATA_HOME"] == str(home / "data")
    assert launch.env["CORRAL_OPENCODE_API_KEY"] == "secret"
    file = home / "config" / "opencode" / "opencode.json"
    config = json.loads(file.read_text())
    assert config["model"] == "corral/m1" and config["permission"]["edit"] == "ask"
    assert config["provider"]["corral"]["options"] == {"baseURL": "http://127.0.0.1:9/v1",
                                                       "apiKey": "{env:CORRAL_OPENCODE_API_KEY}"}
    assert "secret" not in file.read_text()
    assert json.loads(launch.stdin)["params"]["clientCapabilities"]["fs"]["writeTextFile"] is False


def test_a_file_request_outside_the_worktree_is_recorded_as_refused(tmp_path):
    parser = AcpParser(cwd=str(tmp_path), prompt=PROMPT)
    line = {"jsonrpc": "2.0", "id": 3, "method": "fs/write_text_file",
            "params": {"sessionId": "s", "path": "/etc/evil", "content": "x"}}
    parsed = parser.parse(json.dumps(line).encode())
    assert "error" in json.loads(parsed.replies[0])
    [(kind, warning)] = parsed.events
    assert kind == "run.warning" and warning["kind"] == "fs_refused" and warning["path"] == "/etc/evil"


def _update(parser: AcpParser, **update) -> list[tuple[str, dict]]:
    line = {"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s", "update": update}}
    return parser.parse(json.dumps(line).encode()).events


def test_a_call_announced_before_its_arguments_is_recorded_with_them_and_qwens_tokens_add_up():
    parser = AcpParser(cwd="/w", prompt=PROMPT)
    parser.parse(b'{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}}')
    parser.parse(b'{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s"}}')
    meta = {"toolName": "write_file"}
    assert not of(_update(parser, sessionUpdate="tool_call", toolCallId="c1", status="pending", rawInput={},
                          kind="edit", _meta=meta), "agent.tool_call")
    _update(parser, sessionUpdate="agent_message_chunk", content={"type": "text", "text": ""},
            _meta={"usage": {"inputTokens": 100, "outputTokens": 7}})
    events = _update(parser, sessionUpdate="tool_call_update", toolCallId="c1", status="in_progress",
                     rawInput={"file_path": "/w/a.txt", "content": "a"}, _meta=meta)
    [announced] = of(events, "agent.tool_call")
    assert announced["name"] == "write_file" and announced["input"]["file_path"] == "/w/a.txt"
    _update(parser, sessionUpdate="agent_message_chunk", content={"type": "text", "text": "ok"},
            _meta={"usage": {"inputTokens": 150, "outputTokens": 2}})
    [result] = of(parser.parse(b'{"jsonrpc":"2.0","id":2,"result":{"stopReason":"end_turn"}}').events, "run.result")
    assert (result["tokens_in"], result["tokens_out"]) == (250, 9)


def test_qwens_always_allow_is_kept_out_of_the_worktrees_settings():
    options = [{"optionId": "proceed_always_project", "kind": "allow_always"},
               {"optionId": "proceed_always_user", "kind": "allow_always"},
               {"optionId": "proceed_once", "kind": "allow_once"}, {"optionId": "cancel", "kind": "reject_once"}]
    request = Approval(1, "r", "4/call_1", "run_shell_command", {}, "pending", None, "", suggestions=options)
    answer = json.loads(adapter("qwen").answer(request, True, None, always=True))
    assert answer["result"]["outcome"]["optionId"] == "proceed_always_user"


def test_copilot_with_a_profiles_endpoint_needs_no_github_login_and_keeps_to_its_own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "secret")
    profile = Agent(id="a", name="c", cli="copilot", model="m1", command=_binary(tmp_path, "copilot"),
                    provider_config={"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"})
    launch = adapter("copilot").launch(profile, "fix it", cwd=str(tmp_path), home=str(tmp_path / "h"))
    assert launch.argv[1] == "--acp" and launch.argv[launch.argv.index("--allow-tool") + 1] == "write"
    assert launch.env == {"COPILOT_PROVIDER_BASE_URL": "http://127.0.0.1:9/v1", "COPILOT_PROVIDER_API_KEY": "secret",
                          "COPILOT_OFFLINE": "true", "COPILOT_PROVIDER_WIRE_API": "completions",
                          "COPILOT_HOME": str(tmp_path / "h")}
    planning = Agent(id="a", name="c", cli="copilot", command=profile.command, permission_mode="plan")
    argv = adapter("copilot").launch(planning, "plan it", cwd=str(tmp_path)).argv
    assert argv[argv.index("--deny-tool"):argv.index("--deny-tool") + 3] == ["--deny-tool", "write", "shell"]


def test_a_model_endpoints_error_that_ends_the_prompt_is_the_reason_naming_its_status():
    """What Gemini CLI 0.61 answers `session/prompt` with once its retries of a 429 or a 500 are spent."""
    answers = {
        '{"jsonrpc":"2.0","id":2,"error":{"code":429,"message":"Quota exceeded"}}':
            "the model endpoint answered 429: Quota exceeded",
        '{"jsonrpc":"2.0","id":2,"error":{"code":500,"message":'
        '"{\\"error\\":{\\"code\\":500,\\"message\\":\\"backend down\\",\\"status\\":\\"INTERNAL\\"}}"}}':
            "the model endpoint answered 500 INTERNAL: backend down",
        '{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"Internal error"}}':
            "session/prompt failed: Internal error",
    }
    for line, reason in answers.items():
        parser = gemini_parser()
        parser.initialize()
        for opening in ('{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}}',
                        '{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s-1"}}'):
            parser.parse(opening.encode())
        assert parser.waiting_for() is None
        parsed = parser.parse(line.encode())
        [result] = of(parsed.events, "run.result")
        assert parsed.turn_ended and result["is_error"] and result["reason"] == reason
