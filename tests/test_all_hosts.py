"""The dashboard of every host (`corral --all`): this machine's runs and two remotes', reached
through a real OpenSSH server on 127.0.0.1, in one table with a host column; the header counts what
needs the user on every host; an answer goes to the host whose run asked; a remote that cannot be
reached is said, and the others keep working."""

from __future__ import annotations

from pathlib import Path

from claude_env import init_git_repo
from helpers import BASH, CORRAL, corral, runs_pane, until
from model_server import text, tool
from sshd import ALIAS, add_remote

from core.config import Paths
from core.engine import Engine
from core.hosts import LOCAL, AllHosts
from core.models import RunStatus
from core.remote_engine import RemoteEngine
from core.remotes import Remotes
from tui.app import EVERY_HOST, make_app


async def test_every_hosts_runs_in_one_table_and_answers_reach_the_host_that_asked(
        sshd, remote_home, model, repo, tmp_path, agent_env):
    home = Paths(Path(agent_env["CORRAL_HOME"]))
    model.set_script([text("Done here.")])
    async with Engine(home) as here:
        local = await here.wait((await here.start_run((await here.add_project(repo)).id, "a local run")).id)
    model.set_script([text("Done on box.")])
    async with Engine(Paths(remote_home)) as there:
        far = await there.wait((await there.start_run(
            (await there.add_project(init_git_repo(tmp_path / "far"))).id, "a run on box")).id)
    other_home = tmp_path / "other-home"  # a second host: the same sshd, another corral home behind it
    other_corral = tmp_path / "corral-other"
    other_corral.write_text(f'#!/bin/sh\nCORRAL_HOME={other_home} exec {CORRAL} "$@"\n')
    other_corral.chmod(0o755)
    async with Engine(Paths(other_home)) as other:
        other_project = await other.add_project(init_git_repo(tmp_path / "other"))
    add_remote("box", sshd)
    corral("remote", "add", "box2", f"ssh://{ALIAS}", "--corral-path", str(other_corral),
           "--ssh-command", f"ssh -F {sshd.ssh_config}")
    corral("remote", "add", "gone", "ssh://root@127.0.0.1:1", "--ssh-command", sshd.ssh_command)
    try:
        await _watch_and_answer(home, repo, model, local.id, far.id, other_project.id, other_home)
    finally:
        corral("remote", "stop", "box2", "--force")  # the server the dashboard started behind box2


async def _watch_and_answer(home: Paths, repo: Path, model, local_id: str, far_id: str, project_id: str,
                            other_home: Path) -> None:
    async with Engine(home) as engine, AllHosts(engine, Remotes(home.remotes_file).all()) as every:
        app = make_app(every, repo, host=EVERY_HOST)  # type: ignore[arg-type]  # the same calls as Engine's
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: {r.id for r in app.feed.runs} == {local_id, far_id}, "both hosts' runs")
            table = runs_pane(app).table
            hosts = {key.value: table.get_row(key)[2].plain for key in table.rows}
            assert hosts == {local_id: LOCAL, far_id: "box"}  # the host column
            assert "gone unreachable" in app.sub_title  # said, while the others work

            model.set_script([tool("Bash", BASH), text("Done on box2.")])
            remote = Remotes(home.remotes_file).get("box2")
            async with RemoteEngine(remote, home) as box2:
                asking = await box2.start_run(project_id, "compute the answer")
            await until(pilot, lambda: app.feed.pending.get(asking.id), "box2's question", timeout=120)
            assert "1 needs you" in app.sub_title
            runs_pane(app).highlight(asking.id)
            await until(pilot, lambda: app.selected_run_id == asking.id, "its run picked")
            assert table.get_row(asking.id)[2].plain == "box2"
            await pilot.press("a")
            await until(pilot, lambda: app.feed.by_id[asking.id].status == RunStatus.COMPLETED, "it to complete")
            await until(pilot, lambda: "Done on box2." in runs_pane(app).transcript.plain_text(), "its last words")
            assert "needs you" not in app.sub_title

            table.focus()
            shown = []
            for _ in range(4):  # H: this machine's runs, then each remote's, then every host's again
                await pilot.press("H")
                await pilot.pause()
                shown.append({key.value for key in table.rows})
            assert shown == [{local_id}, {far_id}, {asking.id}, {local_id, far_id, asking.id}]
    async with Engine(Paths(other_home)) as other:
        assert (await other.run(asking.id)).status == RunStatus.COMPLETED  # answered on the host that asked
        assert (Path((await other.run(asking.id)).worktrees[0].path) / "answer.txt").read_text() == "42\n"
