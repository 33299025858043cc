"""What the user does with a run, turned into engine work: answer its permission request, cancel, pause,
run its checks or a command in its worktree, continue it with a message, read its conversation,
open its agent session in the terminal."""

from __future__ import annotations


from textual.app import SuspendNotSupported

from core.attach import run_in_terminal
from core.errors import CorralError
from core.models import Command, Run

from . import format
from .actions import Actions
from .messages import ApprovalAnswered, ConversationLoaded
from .screens.command_line import CommandLine
from .screens.confirm import ConfirmDialog
from .screens.conversation import ConversationScreen
from .screens.text_entry import TextDialog


class RunActions(Actions):
    def answer(self, answer: ApprovalAnswered) -> None:
        """Send the answer; the question leaves the screen now, and comes back if the answer is refused."""
        self.app.feed.answered(answer.run_id, answer.request_id)

        async def send() -> None:
            try:
                await self.engine.approve(answer.run_id, allow=answer.allow, message=answer.message,
                                          request_id=answer.request_id, always=answer.always and answer.allow)
            except CorralError:
                self.app.feed.answer_refused(answer.request_id)  # what still waits is read again, and shown
                raise

        self.app.engine_work(send)

    def cancel(self, run_id: str) -> None:
        self.app.engine_work(self.engine.cancel(run_id), group=f"cancel-{run_id}")

    def pause(self, run_id: str) -> None:
        self.app.engine_work(self.engine.pause(run_id), group=f"pause-{run_id}")

    def quit(self) -> None:
        """Quit; first ask if this process drives runs: they are cancelled with it."""
        driving = self.engine.driving()
        if not driving:
            self.app.exit()
            return
        names = ", ".join(r.short_id for r in driving[:4]) + (" …" if len(driving) > 4 else "")
        many = len(driving) > 1
        question = (f"{format.plural(len(driving), 'run')} ({names}) {'are' if many else 'is'} driven by this "
                    f"corral and will be cancelled. Their work stays on their branches.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.exit()

        self.app.push_screen(ConfirmDialog("Quit corral?", question, yes="Quit", no="Stay"), confirmed)

    def check(self, run_id: str) -> None:
        """Run the project's checks in the run's worktree; their output streams into its transcript."""
        async def check() -> None:
            run = await self.engine.check(run_id)
            passed = sum(bool(r.get("passed")) for r in run.checks)
            self.app.notify(f"run {run.short_id}: {format.check_marks(run)} {passed} of "
                            f"{format.plural(len(run.checks), 'check')} passed",
                            severity="information" if passed == len(run.checks) else "warning", timeout=6)
            self.app.feed.request_runs()

        self.app.notify(f"running the checks of {run_id[:8]}…", timeout=3)
        self.app.engine_work(check, group=f"check-{run_id}")

    def continue_run(self, run: Run) -> None:
        def continued(resumed: Run | None) -> None:
            if resumed is not None:
                self.app.notify(f"continuing {resumed.short_id}…", timeout=3)
                self.app.feed.request_runs()

        self.app.push_screen(TextDialog(
            "Continue run", f"What should the agent of run {run.short_id} do next? It goes on from its session, "
            f"in the same worktree, on {run.branch}.", lambda message: self.engine.continue_run(run.id, message),
            placeholder="the next instruction", button="Continue", id="continue"), continued)

    def conversation(self, run: Run) -> None:
        """Open the conversation screen and read the run's conversation into it; a refusal shows there."""
        screen = ConversationScreen(run)
        self.app.push_screen(screen)

        async def read() -> None:
            screen.post_message(ConversationLoaded(await self.engine.conversation(run.id)))

        self.app.engine_work(read, group="conversation", exclusive=True, reporter=screen)

    def exec_command(self, run: Run) -> None:
        def started(command: Command | None) -> None:
            if command is not None:
                self.app.notify(f"command {command.short_id} running in run {run.short_id}", timeout=3)

        self.app.push_screen(CommandLine(self.engine, run), started)

    async def attach(self, run_id: str) -> None:
        """Hand the terminal to the run's agent session in its worktree; back here when it ends."""
        app = self.app
        try:
            attachment = await self.engine.attach(run_id)
        except CorralError as error:
            app.notify(str(error), severity="warning", timeout=5)
            return
        code = -1
        try:
            with app.suspend():
                code = await run_in_terminal(attachment)
        except SuspendNotSupported:
            app.notify("opening a session needs a real terminal", severity="error", timeout=5)
        finally:
            ended = await self.engine.detach(run_id, code)
        app.notify(f"back from run {ended.short_id}: paused, its work on {ended.branch}", timeout=4)
