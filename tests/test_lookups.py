"""Host name lookups (a webhook's, a context URL's) wait on threads of their own: a resolver that
hangs must not hold up the git work a run's start does on the engine's threads."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

from model_server import text


async def test_a_project_is_added_and_a_run_started_while_name_lookups_hang(engine, model, repo, monkeypatch):
    release, real = threading.Event(), socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host == "slow.example":
            release.wait(60)  # a DNS server that does not answer
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    loop = asyncio.get_running_loop()
    hanging = [asyncio.ensure_future(loop.getaddrinfo("slow.example", 443)) for _ in range(40)]
    try:
        project = await asyncio.wait_for(engine.add_project(repo), 20)
        model.set_script([text("Started.")])
        run = await asyncio.wait_for(engine.start_run(project.id, "started while lookups hang"), 20)
        assert Path(run.worktrees[0].path, "README.md").exists()  # its worktree, made on the engine's threads
        assert all(not task.done() for task in hanging)
        await engine.cancel(run.id)
    finally:
        release.set()
        answers = await asyncio.gather(*hanging)
    assert all(answer[0][4] == ("127.0.0.1", 443) for answer in answers)
