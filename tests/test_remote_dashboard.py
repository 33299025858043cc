"""The dashboard on another host's runs (`corral --remote NAME`): the same app, driven from the
keyboard, on a RemoteEngine reached through a real OpenSSH server on 127.0.0.1; the remote drives
its run with the real Claude Code CLI and the scripted model."""

from __future__ import annotations

from pathlib import Path

from helpers import BASH, git, runs_pane, start, until
from model_server import text, tool
from sshd import add_remote

from core.config import Paths
from core.engine import Engine
from core.models import RunStatus
from core.remote_engine import RemoteEngine
from core.remotes import Remotes
from tui.app import CorralApp, make_app
from tui.screens.merge import MergeDialog
from tui.screens.new_run import NewRunDialog
from tui.widgets.diff_view import DiffView


def status_of(app: CorralApp, run_id: str) -> str | None:
    run = app.feed.by_id.get(run_id)
    return run.status if run else None


def box(agent_env: dict[str, str]) -> RemoteEngine:
    return RemoteEngine(Remotes(Paths(Path(agent_env["CORRAL_HOME"])).remotes_file).get("box"))


async def test_a_run_on_a_remote_is_started_answered_and_merged_from_the_dashboard(
        sshd, remote_home, model, repo, agent_env):
    async with Engine(Paths(remote_home)) as there:  # the remote's project, as its user made it
        await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    async with box(agent_env) as far:
        app = make_app(far, None, host="box")
        async with app.run_test(size=(80, 24)) as pilot:
            await start(pilot, app)
            assert app.title == f"corral @ box · {repo.name}"  # its one project, though this folder is no repo there
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NewRunDialog), "the new-run dialog")
            await pilot.press(*"compute the answer")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.feed.runs, "the run to be listed")
            run_id = app.feed.runs[0].id
            await until(pilot, lambda: app.feed.pending.get(run_id), "the permission request", timeout=120)
            assert "asks to use Bash" in str(runs_pane(app).banner.render())
            assert "1 needs you" in app.sub_title
            await pilot.press("a")
            await until(pilot, lambda: status_of(app, run_id) == RunStatus.COMPLETED, "the run to complete")
            await until(pilot, lambda: "The answer is in answer.txt." in runs_pane(app).transcript.plain_text(),
                        "the agent's last words, live")
            assert "allowed Bash" in runs_pane(app).transcript.plain_text()

            await pilot.press("D")
            await until(pilot, lambda: app.query(DiffView) and app.query_one(DiffView).files, "the diff")
            assert "+ 42" in app.query_one(DiffView).plain_text()
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, MergeDialog) and app.screen.ready, "the landing plan")
            branch = app.feed.by_id[run_id].branch
            assert f"Land {branch} on main as one squashed commit." in app.screen.plan_text
            await pilot.press("y")
            await until(pilot, lambda: not isinstance(app.screen, MergeDialog), "the dialog to close")
            assert [n.message for n in app._notifications if n.severity == "error"] == []
    assert git(repo, "show", "HEAD:answer.txt") == "42\n"  # landed in the remote's own repository
    async with Engine(Paths(remote_home)) as there:
        assert (await there.run(run_id)).status == RunStatus.COMPLETED


async def test_a_dropped_link_shows_the_host_unreachable_refuses_answers_and_loses_no_event(
        sshd, remote_home, model, repo, agent_env):
    async with Engine(Paths(remote_home)) as there:
        project = await there.add_project(repo)
    add_remote("box", sshd)
    model.set_script([tool("Bash", BASH), text("Done after the drop.")])
    async with box(agent_env) as far:
        app = make_app(far, None, host="box")
        async with app.run_test(size=(80, 24)) as pilot:
            await start(pilot, app)
            run = await far.start_run(project.id, "compute the answer")
            await until(pilot, lambda: app.feed.pending.get(run.id), "the permission request", timeout=120)
            await until(pilot, lambda: app.selected_run_id == run.id, "the run to be picked")

            dropped = far._link._master
            dropped.kill()  # the connection drops (a laptop's wifi, a killed ssh)
            await dropped.wait()
            await until(pilot, lambda: "box unreachable" in app.sub_title, "the header to say so")
            await pilot.press("a")  # answered while the link is down: refused, said, not lost
            await until(pilot, lambda: any("did not answer" in str(n.message) for n in app._notifications),
                        "the refusal")
            async with Engine(Paths(remote_home)) as there:
                assert [a.status for a in await there.approvals(run.id)] == ["pending"]

            await until(pilot, lambda: "unreachable" not in app.sub_title, "the link again", timeout=60)
            await until(pilot, lambda: app.feed.pending.get(run.id), "the question shown again")
            await pilot.press("a")
            await until(pilot, lambda: status_of(app, run.id) == RunStatus.COMPLETED, "the run to complete")
            await until(pilot, lambda: "Done after the drop." in runs_pane(app).transcript.plain_text(),
                        "the transcript's end")
            shown = runs_pane(app).transcript.plain_text()
            assert shown.count("asks to use Bash") == 1 and shown.count("Done after the drop.") == 1
    async with Engine(Paths(remote_home)) as there:
        answers = [e.payload for e in await there.events(run.id) if e.type == "user.approval"]
    assert [a["allow"] for a in answers] == [True]  # once: the refused answer never reached it
