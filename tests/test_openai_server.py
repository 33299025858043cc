"""The scripted OpenAI server's Chat Completions answers, as OpenAI-compatible clients read them."""

from __future__ import annotations

import json
import urllib.request

from openai_server import OpenAIServer, call, error, text

STEPS = [call("write_file", {"path": "a.txt", "content": "hi"}, text="Writing it."), text("Done.")]


def _post(server: OpenAIServer, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{server.url}/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def _chunks(raw: bytes) -> list[dict | str]:
    data = [line[len(b"data: "):] for line in raw.splitlines() if line.startswith(b"data: ")]
    return [d.decode() if d == b"[DONE]" else json.loads(d) for d in data]


def test_a_streamed_answer_carries_text_tool_calls_and_usage():
    with OpenAIServer(STEPS) as server:
        status, raw = _post(server, {"model": "m", "stream": True, "messages": [{"role": "user", "content": "go"}]})
    assert status == 200
    chunks = _chunks(raw)
    assert chunks[-1] == "[DONE]"
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert "".join(d.get("content") or "" for d in deltas) == "Writing it."
    calls = [tc for d in deltas for tc in d.get("tool_calls") or []]
    assert calls[0]["function"]["name"] == "write_file" and calls[0]["id"]
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)
    assert json.loads(arguments) == {"path": "a.txt", "content": "hi"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-2]["usage"]["prompt_tokens"] > 0


def test_the_turn_follows_the_assistant_messages_and_a_plain_request_gets_one_completion():
    conversation = [{"role": "user", "content": "go"},
                    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    with OpenAIServer(STEPS) as server:
        status, raw = _post(server, {"model": "m", "messages": conversation})
        assert [r.step for r in server.chat_requests] == [1]
        assert server.chat_requests[0].messages[-1]["content"] == "ok"
    answer = json.loads(raw)
    assert status == 200 and answer["object"] == "chat.completion"
    assert answer["choices"][0] == {"index": 0, "message": {"role": "assistant", "content": "Done."},
                                    "finish_reason": "stop"}


def test_an_error_step_answers_with_its_status_then_the_script_goes_on():
    with OpenAIServer([error(429, "slow down"), text("Hello.")]) as server:
        first, raw = _post(server, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        second, answer = _post(server, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert first == 429 and json.loads(raw)["error"]["message"] == "slow down"
    assert second == 200 and json.loads(answer)["choices"][0]["message"]["content"] == "Hello."
