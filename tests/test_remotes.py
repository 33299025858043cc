"""Remote hosts: `corral remote add|list|remove|test`, reached through a real OpenSSH server on
127.0.0.1 (tests/sshd.py) whose sessions have their own CORRAL_HOME; and `corral --serve --socket`,
the API server a remote runs for them, this user's only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from helpers import BASH, CORRAL, corral, corral_json, corral_serve, git, running, wait_for, wait_until
from model_server import text, tool
from claude_env import init_git_repo
from sshd import ALIAS, add_remote, keygen

from core.api.server import answers
from core.config import Paths, corral_version
from core.engine import Engine
from core.errors import CorralError
from core.remote_engine import RemoteEngine
from core.remote_status import compatible
from core.remotes import Remotes


def test_remotes_are_added_listed_and_removed_and_bad_ones_refused(agent_env):
    made = corral_json("remote", "add", "buildbox", "me@buildbox.example:2222")
    assert made["address"] == "ssh://me@buildbox.example:2222" and made["corral_path"] == "corral"
    corral("remote", "add", "ci", "https://ci.example:3000", "--token-env", "CORRAL_CI_TOKEN")
    listed = corral_json("remote", "list", "--no-check")
    assert [(r["name"], r["address"], r["token_env"]) for r in listed] == [
        ("buildbox", "ssh://me@buildbox.example:2222", None), ("ci", "https://ci.example:3000", "CORRAL_CI_TOKEN")]
    kept = (Path(agent_env["CORRAL_HOME"]) / "remotes.toml")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and "CORRAL_CI_TOKEN" in kept.read_text()

    for args, says in [(["Local", "host"], "cannot name a remote"),
                       (["all", "host"], "cannot name a remote"),
                       (["web", "http://ci.example"], "unencrypted"),
                       (["odd", "ftp://ci.example"], "is not an address"),
                       (["dash", "ssh://-oProxyCommand=x"], "is not a host name"),
                       (["keyed", "ssh://box", "--token-env", "T"], "needs no token"),
                       (["bad-var", "https://ci.example", "--token-env", "NOT A VAR"], "not the name"),
                       (["buildbox", "other.example"], "already")]:
        done = corral("remote", "add", *args, check=False)
        assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    assert len(corral_json("remote", "list", "--no-check")) == 2  # nothing of those was kept

    assert "removed remote ci" in corral("remote", "remove", "ci").stdout
    gone = corral("remote", "test", "ci", check=False)
    assert gone.returncode == 1 and "no remote 'ci': the remotes are buildbox" in gone.stderr


def test_a_remote_over_ssh_serves_its_own_runs_and_says_so(sshd, remote_home, agent_env):
    add_remote("box", sshd)
    [status] = corral_json("remote", "test", "box")
    assert status["reachable"] and status["version"] == corral_version() and status["runs"] == 0
    assert status["error"] is None
    # the remote's server answers on a socket of its own home, this user's only, and stays for the next client
    served = Paths(remote_home).api_socket
    assert served.is_socket() and stat.S_IMODE(served.stat().st_mode) == 0o600
    assert stat.S_IMODE(served.parent.stat().st_mode) == 0o700
    pid = int(served.with_suffix(".pid").read_text())

    listed = corral("remotes").stdout
    assert f"box  ssh://{ALIAS}  corral {corral_version()}, 0 runs" in listed
    assert int(served.with_suffix(".pid").read_text()) == pid  # found running, not started again
    assert not list(Paths(Path(agent_env["CORRAL_HOME"])).sockets.glob("box.s*"))  # the link closed with the verb


def test_ssh_refusals_are_shown_as_ssh_words_them(sshd, tmp_path):
    add_remote("wrongkey", sshd, config=sshd.client_config(key=keygen(tmp_path / "other_key")))
    other_host = tmp_path / "known_hosts_other"
    kind, key = keygen(tmp_path / "other_host").with_suffix(".pub").read_text().split()[:2]
    other_host.write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
    add_remote("changed", sshd, config=sshd.client_config(known_hosts=other_host))
    corral("remote", "add", "nocorral", f"ssh://{ALIAS}", "--corral-path", "/opt/none/corral",
           "--ssh-command", sshd.ssh_command)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    corral("remote", "add", "down", f"ssh://root@127.0.0.1:{port}", "--ssh-command", sshd.ssh_command)

    said = {s["name"]: s for s in corral_json("remotes")}
    assert not any(s["reachable"] for s in said.values())
    assert "Permission denied (publickey)" in said["wrongkey"]["error"]
    assert "Host key verification failed" in said["changed"]["error"]
    assert "corral is not installed on nocorral" in said["nocorral"]["error"]
    assert "Connection refused" in said["down"]["error"]
    shown = corral("remote", "test", "wrongkey", check=False)
    assert shown.returncode == 1 and "wrongkey  ssh://remotehost  unreachable: could not reach wrongkey:" \
        in shown.stdout


def test_serve_on_a_socket_answers_only_there_and_refuses_a_second_server(agent_env, tmp_path):
    path = Paths(Path(agent_env["CORRAL_HOME"])).sockets / "test.sock"
    server = subprocess.Popen([CORRAL, "--serve", "--socket", str(path)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: answers(path), 30, "the server on its socket")
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://localhost") as client:
            assert client.get("/api/health").json()["version"] == corral_version()
            assert client.get("/api/runs").json() == []
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        second = corral("--serve", "--socket", str(path), check=False)
        assert second.returncode == 1 and f"a corral server already answers on {path}" in second.stderr
    finally:
        server.terminate()
        server.wait(20)
    assert not path.exists()
    path.write_text("")  # left behind by a server that is gone: taken over
    again = subprocess.Popen([CORRAL, "--serve", "--socket", str(path)], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: answers(path), 30, "the socket taken over")
    finally:
        again.terminate()
        again.wait(20)
    misuse = corral("--socket", str(path), "runs", check=False)
    assert misuse.returncode == 2 and "take no command" in misuse.stderr
    shutil.rmtree(path.parent)  # in /tmp, as the tests' folders have long paths


async def test_the_cli_drives_a_run_on_a_remote_host(sshd, remote_home, model, repo):
    """`corral --remote NAME VERB`: the run is made, driven and answered there; followed here."""
    async with Engine(Paths(remote_home)) as there:  # the remote's own project, as its user made it
        await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])

    started = corral_json("--remote", "box", "run", "--project", "app", "compute the answer")
    assert started["status"] in ("queued", "running") and started["branch"].startswith("corral/run-")
    wait_for(lambda: bool(corral_json("--remote", "box", "runs", "--attention")), 120, "the run to ask")
    assert [r["id"] for r in corral_json("--remote", "box", "runs", "--attention")] == [started["id"]]
    answered = corral_json("--remote", "box", "approve", started["id"][:8])
    assert answered["status"] == "allowed" and answered["tool"] == "Bash"

    followed = corral("--remote", "box", "events", started["id"][:8], "--follow", "--json").stdout
    kinds = [json.loads(line)["type"] for line in followed.splitlines()]
    assert kinds[0] == "run.created" and kinds[-1] == "run.completed" and "user.approval" in kinds
    async with Engine(Paths(remote_home)) as there:  # what the remote itself recorded: the same, in order
        assert kinds == [e.type for e in await there.events(started["id"])]
    assert git(repo, "show", f"{started['branch']}:answer.txt") == "42\n"

    shown = corral("--remote", "box", "show", started["id"][:8]).stdout
    assert "answer.txt" in shown and "completed" in shown
    assert "+42" in corral("--remote", "box", "diff", started["id"][:8]).stdout
    [landed] = corral_json("--remote", "box", "merge", started["id"][:8])
    assert landed["how"] == "squash" and landed["repo"] == str(repo)
    assert git(repo, "show", "HEAD:answer.txt") == "42\n"  # landed in the remote's own repository

    model.set_script([text("Nothing more to do.")])
    again = corral_json("--remote", "box", "continue", started["id"][:8], "check it once more", "--wait")
    assert again["id"] == started["id"] and again["status"] == "completed"
    model.set_script([text("Another way.")])
    forked = corral_json("--remote", "box", "fork", started["id"][:8], "try another way", "--wait")
    assert forked["parent_run_id"] == started["id"] and forked["status"] == "completed"
    corral("--remote", "box", "delete", forked["id"][:8], "--force")
    assert forked["id"] not in {r["id"] for r in corral_json("--remote", "box", "runs")}
    assert [a["name"] for a in corral_json("--remote", "box", "agent", "list")] == ["claude"]

    later = corral("--remote", "box", "events", started["id"][:8], "--after", str(len(kinds) - 1), "--json").stdout
    assert json.loads(later.splitlines()[0])["type"] == "run.completed"
    for verb, ended in (("pause", "paused"), ("cancel", "cancelled")):
        model.set_script([tool("Bash", BASH), text("Done.")])
        other = corral_json("--remote", "box", "run", "--project", "app", "compute it again")
        wait_for(lambda: bool(corral_json("--remote", "box", "runs", "--attention")), 120, "the run to ask")
        assert corral_json("--remote", "box", verb, other["id"][:8])["status"] == ended

    refused = corral("--remote", "box", "attach", started["id"][:8], check=False)
    assert refused.returncode == 1 and "agent session is on box: open it there" in refused.stderr
    unknown = corral("--remote", "nowhere", "runs", check=False)
    assert unknown.returncode == 1 and "no remote 'nowhere': the remotes are box" in unknown.stderr


async def followed_until_it_asks(far: RemoteEngine, project_id: str) -> tuple:
    """A run started on the remote and followed from here, once it asks: (run, events seen, the follower)."""
    run = await far.start_run(project_id, "compute the answer")
    seen: list = []

    async def follow() -> None:
        async for event in far.follow(run.id):
            seen.append(event)

    following = asyncio.create_task(follow())
    await wait_until(lambda: any(e.type == "agent.needs_attention" for e in seen), 120, "the question")
    return run, seen, following


async def test_a_dropped_ssh_link_loses_no_event_of_a_followed_run(sshd, remote_home, model, repo, agent_env):
    async with Engine(Paths(remote_home)) as there:
        project = await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("Done after the drop.")])
    remote = Remotes(Paths(Path(agent_env["CORRAL_HOME"])).remotes_file).get("box")
    async with RemoteEngine(remote) as far:
        run, seen, following = await followed_until_it_asks(far, project.id)
        link = far._link
        dropped = link._master
        dropped.kill()  # the connection drops (a laptop's wifi, a killed ssh)
        await dropped.wait()
        with pytest.raises(CorralError, match="did not answer"):
            await far.approve(run.id)  # refused while disconnected, not lost
        await wait_until(lambda: link._master is not dropped and link.hello is not None, 60, "the link again")
        assert (await far.approve(run.id)).status == "allowed"
        await asyncio.wait_for(following, 120)
    async with Engine(Paths(remote_home)) as there:
        recorded = await there.events(run.id)
    assert [e.id for e in seen] == [e.id for e in recorded]  # every event, once, in order
    assert seen[-1].type == "run.completed"


async def test_runs_all_lists_every_host_with_its_runs(sshd, remote_home, model, repo, tmp_path, agent_env):
    model.set_script([text("Done here.")])
    async with Engine(Paths(Path(agent_env["CORRAL_HOME"]))) as here:
        local = await here.wait((await here.start_run((await here.add_project(repo)).id, "a local run")).id)
    other_repo = init_git_repo(tmp_path / "other")
    model.set_script([text("Done there.")])
    async with Engine(Paths(remote_home)) as there:
        far = await there.wait((await there.start_run((await there.add_project(other_repo)).id, "a far run")).id)
    add_remote("box", sshd)
    corral("remote", "add", "gone", "ssh://root@127.0.0.1:1", "--ssh-command", sshd.ssh_command)

    listed = corral("runs", "--all", "--json")
    by_host = {(r["host"], r["id"]) for r in json.loads(listed.stdout)}
    assert by_host == {("local", local.id), ("box", far.id)}
    assert "gone: unreachable: could not reach gone:" in listed.stderr
    table = corral("runs", "--all").stdout.splitlines()
    assert table[0].startswith(f"local  {local.short_id}") and table[1].startswith(f"box    {far.short_id}")
    both = corral("--remote", "box", "runs", "--all", check=False)
    assert both.returncode == 2 and "--all lists every host already" in both.stderr


async def test_a_remotes_server_is_stopped_only_when_it_drives_nothing_or_when_forced(sshd, remote_home, model, repo):
    async with Engine(Paths(remote_home)) as there:
        await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("Done.")])
    run = corral_json("--remote", "box", "run", "--project", "app", "compute the answer")
    wait_for(lambda: bool(corral_json("--remote", "box", "runs", "--attention")), 120, "the run to ask")
    pid_file = Paths(remote_home).api_socket.with_suffix(".pid")

    busy = corral("remote", "stop", "box", check=False)
    assert busy.returncode == 1 and "the server drives 1 run: stopping it records them as cancelled" in busy.stderr
    assert pid_file.exists()
    assert corral("remote", "stop", "box", "--force").stdout.strip() == "box: server stopped"
    assert not pid_file.exists()
    async with Engine(Paths(remote_home)) as there:
        assert (await there.run(run["id"])).status == "cancelled"  # recorded, its work on its branch
    assert corral("remote", "stop", "box").stdout.strip() == "box: no server was running"
    https = corral("remote", "add", "ci", "https://ci.example")
    assert https.returncode == 0
    other = corral("remote", "stop", "ci", check=False)
    assert other.returncode == 1 and "reached over HTTPS" in other.stderr


async def test_a_remote_server_that_stops_mid_stream_is_started_again_and_the_stream_taken_up(
        sshd, remote_home, model, repo, agent_env):
    """The remote's API server ends (its user stopped it; it crashed) while a run is followed from
    here: the follower has `corral remote-host` serve again and takes the stream up after the last
    event it saw. The stopped server recorded its run as cancelled; every event comes, once."""
    async with Engine(Paths(remote_home)) as there:
        project = await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("Done.")])
    remote = Remotes(Paths(Path(agent_env["CORRAL_HOME"])).remotes_file).get("box")
    async with RemoteEngine(remote) as far:
        run, seen, following = await followed_until_it_asks(far, project.id)
        pid_file = Paths(remote_home).api_socket.with_suffix(".pid")
        stopped = int(pid_file.read_text())
        os.kill(stopped, signal.SIGTERM)  # the server goes, mid-stream
        await asyncio.wait_for(following, 120)
        assert int(pid_file.read_text()) != stopped  # another server answers now
        assert (await far.run(run.id)).status == "cancelled"
    async with Engine(Paths(remote_home)) as there:
        recorded = await there.events(run.id)
    assert [e.id for e in seen] == [e.id for e in recorded] and seen[-1].type == "run.cancelled"


def test_a_remote_of_another_corral_version_is_refused_saying_so():
    assert compatible("1.4.2", "1.4.0") is None
    said = compatible("0.9.1", "1.4.0")
    assert said == ("it runs corral 0.9.1 and this is 1.4.0: install the same version on both "
                    "(what the API offers differs between them)")


def test_a_wrong_or_a_viewers_token_is_refused_in_one_line(agent_env, tmp_path, monkeypatch):
    with corral_serve(tmp_path) as served:
        corral("remote", "add", "ci", served.url, "--token-env", "CI_TOKEN")
        monkeypatch.setenv("CI_TOKEN", "not-a-token")
        wrong = corral("--remote", "ci", "runs", check=False)
        assert wrong.returncode == 1 and wrong.stderr.strip() == \
            "Error: the bearer token is not valid (unknown, mistyped or revoked)"
        monkeypatch.setenv("CI_TOKEN", corral_json("token", "create", "--user", "vic", "--role", "viewer")["token"])
        assert corral_json("--remote", "ci", "runs") == []  # a viewer reads
        refused = corral("--remote", "ci", "approve", "3f2a9c1e", check=False)
        assert refused.returncode == 1 and refused.stderr.strip() == \
            "Error: token 'token' is a viewer's: it cannot start or change anything"
        unnamed = corral("--remote", "ci", "run", "fix it", check=False)  # this folder is no project there
        assert unnamed.returncode == 1 and "pass --project (`corral --remote HOST project list`" in unnamed.stderr


def processes() -> list[tuple[int, str]]:
    """(pid, command line) of this machine's processes."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            found.append((int(entry.name), (entry / "cmdline").read_bytes().decode(errors="replace")))
    return found


async def test_a_killed_corral_leaves_no_ssh_connection_behind(sshd, remote_home, agent_env, model, repo):
    """ssh's master connection ends with the corral that made it, even one killed at once (SIGKILL)."""
    async with Engine(Paths(remote_home)) as there:
        await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("Done.")])
    run = corral_json("--remote", "box", "run", "--project", "app", "compute the answer")
    follower = subprocess.Popen([CORRAL, "--remote", "box", "events", run["id"], "--follow"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    control = Paths(Path(agent_env["CORRAL_HOME"])).sockets / "box.ssh"
    assert follower.stdout is not None
    follower.stdout.readline()  # following: its first event is out
    masters = [pid for pid, argv in processes() if str(control) in argv]
    assert masters, "no ssh master was found"
    follower.kill()
    follower.wait(20)
    wait_for(lambda: not any(running(pid) for pid in masters), 30, "the ssh master to end")
    corral("--remote", "box", "cancel", run["id"])
