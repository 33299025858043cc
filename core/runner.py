"""One run executed by this process: spawn the agent, turn its lines into events, answer its
permission requests, and settle the run's end (status, reason, checkpoint commit)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

from . import git
from .agents import AgentAdapter, AgentMissing, LineParser
from .checks import Checker, fix_message, summary
from .clock import SYSTEM_CLOCK, Clock
from .config import PRIVATE_FOLDER
from .context import give
from .models import CHECKPOINT, END_EVENTS, Agent, Approval, ApprovalStatus, Check, EventType, Run, RunStatus, now
from .notify import Notifier
from .process import LINE_LIMIT, AgentProcess, CutLine, started_at
from .store import Store

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 600
DEFAULT_MAX_OUTPUT_MB = 500.0
CUT_HEAD = 2000  # characters of a cut line kept in its event, to tell what it was
DEFAULT_IDLE_TIMEOUT = 1800  # seconds of silence (not waiting on the user) before an agent counts as hung
OPENING_TIMEOUT = 120  # seconds an agent has to answer its protocol's opening (a slow start, not a wrong CLI)
EXIT_GRACE = 30  # seconds an agent has to exit once its turn is over and its stdin closed
TURN_MESSAGE = "corral: run {} after turn {}"
# events of a read of the agent's output passed on to the store (and so to followers) together at
# most: a megabyte of a flood's lines is thousands, which reach the dashboard sooner in slices, and
# are not all still held (by then long-lived to Python's collector) when the last is parsed
EVENTS_AT_ONCE = 512
# looked up once per process: a member of an enum class is a slow attribute, and every event is compared
_TOOL_CALL, _TOOL_RESULT = EventType.AGENT_TOOL_CALL, EventType.AGENT_TOOL_RESULT


def fold_tokens(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Merge runs of streamed tokens read together into one event: same text, far fewer rows."""
    folded: list[tuple[str, dict[str, Any]]] = []
    token = EventType.AGENT_TOKEN
    last: dict[str, Any] | None = None  # the payload of the last event kept, when it is a token's
    for item in events:
        kind, payload = item
        if kind != token:
            last = None
        elif last is not None and last.get("parent_tool_use_id") == payload.get("parent_tool_use_id"):
            last["text"] += payload["text"]
            continue
        else:
            last = payload
        folded.append(item)
    return folded


def _log_write_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("events could not be stored: %s", future.exception())


class LiveRun:
    # the kinds of event `_react` acts on (a subclass that acts on more adds them); the others,
    # most of an agent's output, go straight to the log
    reacts_to: frozenset[str] = frozenset({EventType.AGENT_OUTPUT, EventType.SESSION_INIT,
                                           EventType.AGENT_NEEDS_ATTENTION, EventType.AGENT_REQUEST_CANCELLED,
                                           EventType.RUN_RESULT})

    def __init__(self, run: Run, agent: Agent, adapter: AgentAdapter, store: Store, stderr_path,
                 setup: str | None = None, message: str | None = None, resume: str | None = None,
                 fork: bool = False, notifier: Notifier | None = None, clock: Clock = SYSTEM_CLOCK,
                 agent_home: Path | None = None, checks: list[Check] | None = None, fix_tries: int = 0):
        self.run = run
        self.agent = agent
        self.adapter = adapter
        self.store = store
        self.stderr_path = stderr_path
        self.setup = setup
        self.message = message  # a continuation: said to the agent's resumed session
        self.resume = resume  # the agent session to go on in (a continuation's, or a fork's parent's)
        self.fork = fork  # branch a new session off `resume` instead of going on in it
        self.notifier = notifier
        self.clock = clock  # what the time limits read
        self.agent_home = agent_home  # the folder the agent CLI keeps its settings and sessions in
        self.checks = checks or []  # the project's, run in the worktrees when the agent is done
        self.fix_tries = fix_tries  # times a failed check goes back to the agent before the run fails
        self.launch_options: dict[str, Any] = {}  # more for the adapter's launch (a planning session's tools)
        self.process: AgentProcess | None = None
        self.outstanding: dict[str, Approval] = {}
        self.result: dict[str, Any] | None = None
        self.stop_as: tuple[str, str] | None = None  # (status, reason) when the user stops it
        self.done = asyncio.Event()
        self._turn = 0  # the agent's turns (model responses) so far, over every execution of the run
        self._turn_message: str | None = None
        self._turn_line: str | None = None
        self._turn_tools: set[str] = set()  # the current turn's tool calls still without a result
        self._heard = 0.0  # clock time of the agent's last output, or of the user's last answer
        self._printed: str | None = None  # the last line of plain output, to say what a failing agent said
        self._exited = False  # its output has ended: nothing written to it reaches it any more
        self._deaf = False  # its input is closed: a write to it failed
        self._env: dict[str, str] = dict(os.environ)  # the agent's environment, which checks run in too
        self._said: dict[str, Any] = {}  # more about the message it was last given (a fix's try)
        self._checker: Checker | None = None  # the checks running now
        self._parser_waits_for: str | None = None  # the opening step the agent had not answered when it exited
        self._stopping: set[asyncio.Task] = set()

    # -- events ----------------------------------------------------------------------------

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.emit_many([(kind, payload)])

    def emit_many(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue events in order without waiting: the store numbers them as it commits."""
        if items:
            self.store.append(self.run.id, items).add_done_callback(_log_write_failure)

    async def _set(self, **fields: Any) -> None:
        for name, value in fields.items():
            if hasattr(self.run, name):
                setattr(self.run, name, value)
        await self.store.update_run(self.run.id, **fields)

    # -- the run ---------------------------------------------------------------------------

    async def execute(self) -> None:
        last_turn = await self.store.last_event(self.run.id, EventType.RUN_TURN)
        self._turn = last_turn.payload["turn"] if last_turn else 0
        try:
            await self._execute()
        except Exception as error:  # a bug of ours must still end the run, visibly
            log.exception("run %s failed inside corral", self.run.short_id)
            if self.process is not None:
                await self.process.stop()
            await self._finish(RunStatus.FAILED, f"corral error: {error}")

    async def _execute(self) -> None:
        """The agent's turns, then the project's checks; a failed check goes back to the agent
        (as the next message of its session) while fix tries are left, then the checks again."""
        if self.stop_as is not None:
            return await self._finish(*self.stop_as)
        if self.setup:
            await self._run_setup(self.setup)
        status, reason = await self._agent_turns()
        tries = 0
        while status == RunStatus.COMPLETED and self.checks and self.stop_as is None:
            await self._set(reason=f"checking: {self.checks[0].command}")
            checker = self._checker = Checker(self.run, self.checks, self._env, self.emit)
            failures = await checker.run_all()
            self._checker = None
            await self._set(checks=summary(checker.results), reason=None)
            if self.stop_as is not None or not failures:
                break
            if tries >= self.fix_tries or not self.run.session_id:
                more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
                fixes = f", after {tries} {'try' if tries == 1 else 'tries'} to fix it" if tries else ""
                status, reason = RunStatus.FAILED, failures[0].reason + more + fixes
                break
            tries += 1
            before = await self._work()
            self.emit(EventType.CHECK_FIXING, {"try": tries, "of": self.fix_tries,
                                               "checks": [failure.command for failure in failures]})
            self._go_on(fix_message(failures), fix_try=tries, by="corral")
            status, reason = await self._agent_turns()
            if status == RunStatus.COMPLETED and self.stop_as is None and await self._work() == before:
                status, reason = RunStatus.FAILED, (f"{failures[0].reason}, and the agent changed nothing "
                                                    f"when asked to fix it (try {tries})")
        await self._finish(*(self.stop_as or (status, reason)))

    def _go_on(self, message: str, **said: Any) -> None:
        """The agent's next execution goes on in its session with `message`."""
        self.message, self.resume, self.fork = message, self.run.session_id, False
        self._said = said
        self.result = self.process = self._printed = self._turn_message = None
        self._exited = self._deaf = False
        self._turn_tools.clear()

    async def _work(self) -> list[str]:
        """What the agent's work is now in each worktree (its diff against the run's start)."""
        try:
            return [await asyncio.to_thread(git.diff, w.path, w.base_sha) for w in self.run.worktrees]
        except Exception:  # unreadable: counted as changed, so the loop goes on to the checks
            return [str(self.clock.time())]

    async def _agent_turns(self) -> tuple[str, str | None]:
        """Execute the agent until it exits; how the run would end (status, reason)."""
        if self.message is not None:
            self.emit(EventType.USER_MESSAGE, {"text": self.message, **self._said})
        agent, prompt = self.agent, self.message or self.run.task
        if context := await self.store.context.items(self.run.project_id, self.run.id):
            try:
                agent, prompt, given = await asyncio.to_thread(give, context, self.run, agent, prompt)
            except OSError as error:
                return RunStatus.FAILED, (f"the run's context could not be written into its worktree: "
                                          f"{error.strerror or error}")
            self.emit(EventType.RUN_CONTEXT, given)
        try:
            if self.agent_home is not None:
                self.agent_home.mkdir(PRIVATE_FOLDER, parents=True, exist_ok=True)
            launch = self.adapter.launch(agent, prompt, resume=self.resume,
                                         fork=self.fork, resume_at=self.run.resume_at if self.resume else None,
                                         cwd=self.run.cwd, home=str(self.agent_home or ""), **self.launch_options)
        except AgentMissing as error:
            return RunStatus.FAILED, str(error)
        cap = (self.agent.max_output_mb or DEFAULT_MAX_OUTPUT_MB) * 1024 * 1024
        self._env = {**os.environ, **launch.env}
        try:
            self.process = AgentProcess(launch.argv, self.run.cwd, self._env,
                                        self.stderr_path, line_limit=min(LINE_LIMIT, int(cap)))
        except OSError as error:
            return RunStatus.FAILED, f"could not start {launch.argv[0]}: {error.strerror}"
        await self._set(status=RunStatus.RUNNING, started_at=self.run.started_at or now(), ended_at=None,
                        reason=None, pid=self.process.pid, agent_started=started_at(self.process.pid),
                        owner_pid=os.getpid(), owner_started=started_at(os.getpid()), resume_at=None)
        self.emit(EventType.RUN_STARTED, {"pid": self.process.pid, "command": launch.argv[0], "cwd": self.run.cwd})
        self.process.send(launch.stdin)

        parser = launch.parser or self.adapter.parser()
        self._heard = self.clock.time()
        watchdogs = [self._watchdog(), asyncio.create_task(self._hang_watch())]
        if parser.waiting_for() is not None:
            watchdogs.append(asyncio.create_task(self._opening_watch(parser, launch.argv[0])))
        reacts_to = self.reacts_to
        async for lines in self.process.lines():
            self._heard = self.clock.time()
            items: list[tuple[str, dict[str, Any]]] = []
            if self.process.bytes_read > cap and self.stop_as is None:
                stopping = asyncio.create_task(self.stop(RunStatus.FAILED, f"the agent printed more than the limit "
                                                                           f"of {cap / 1024 / 1024:g} MB of output"))
                self._stopping.add(stopping)  # held, or the loop may drop it half way
                stopping.add_done_callback(self._stopping.discard)
            for line in lines:
                if isinstance(line, CutLine):
                    items.append((EventType.AGENT_OUTPUT_CUT, {
                        "bytes": line.size, "kept": len(line), "head": line[:CUT_HEAD].decode("utf-8", "replace")}))
                    continue
                parsed = parser.parse(line)
                if parsed.replies:
                    for reply in parsed.replies:
                        self.process.send(reply)
                if parsed.message_id and parsed.message_id != self._turn_message:
                    await self._turn_over(items)  # a response without tools was a turn too
                    self._turn_message = parsed.message_id
                if parsed.line_id:
                    self._turn_line = parsed.line_id
                if events := parsed.events:
                    for kind, payload in events:
                        if kind in reacts_to:
                            await self._react(kind, payload)
                    items.extend(events)
                    if self._tools_done(events):
                        await self._turn_over(items)
                    if len(items) >= EVENTS_AT_ONCE:
                        self.emit_many(fold_tokens(items))
                        items = []
                if parsed.turn_ended:
                    self.process.close_stdin()
                    watchdogs.append(asyncio.create_task(self._exit_watch()))
            self.emit_many(fold_tokens(items))
        self._exited = True
        self._parser_waits_for = parser.waiting_for()
        code = await self.process.wait()
        for watchdog in watchdogs:
            if watchdog is not None:
                watchdog.cancel()
        last: list[tuple[str, dict[str, Any]]] = []
        for kind, payload in parser.finish(code).events:  # a plain transcript's end says how it went
            await self._react(kind, payload)
            last.append((kind, payload))
        await self._turn_over(last)
        self.emit_many(last)
        return self._outcome(code)

    def _tools_done(self, events: list[tuple[str, dict[str, Any]]]) -> bool:
        """Track the turn's tool calls; True once the last of them has its result."""
        for kind, payload in events:
            if kind == _TOOL_CALL:
                if not payload.get("parent_tool_use_id"):  # not a subagent's own tool
                    self._turn_tools.add(payload.get("id") or "")
            elif kind == _TOOL_RESULT and not payload.get("parent_tool_use_id") \
                    and payload.get("id") in self._turn_tools:
                self._turn_tools.discard(payload["id"])
                if not self._turn_tools:
                    return True
        return False

    async def _turn_over(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """The agent's turn ended (its next began, or it exited): keep the worktrees as they are
        now, as the point `corral rewind` can go back to. The event joins `items`, in order."""
        if self._turn_message is None:
            return
        self._turn += 1
        commits = {}
        for worktree in self.run.worktrees:
            try:
                commits[worktree.repo_name] = await asyncio.to_thread(
                    git.snapshot, worktree.path, git.turn_ref(self.run.short_id, self._turn),
                    TURN_MESSAGE.format(self.run.short_id, self._turn))
            except Exception as error:  # a worktree that cannot be read must not stop the run
                log.warning("turn %d of run %s: %s", self._turn, self.run.short_id, error)
        items.append((EventType.RUN_TURN, {"turn": self._turn, "commits": commits, "session_line": self._turn_line}))
        self._turn_message = None
        self._turn_tools.clear()

    async def _react(self, kind: str, payload: dict[str, Any]) -> None:
        """What an event changes beyond the log: the run's row, the pending approvals."""
        if kind == EventType.AGENT_OUTPUT and payload.get("text"):
            self._printed = str(payload["text"]).strip()[:300]
        elif kind == EventType.SESSION_INIT and payload.get("session_id"):
            if self.resume and payload.get("version"):
                await self._compare_version(payload["version"])
            await self._set(session_id=payload["session_id"])
        elif kind == EventType.AGENT_NEEDS_ATTENTION and payload.get("request_id"):
            approval = Approval(0, self.run.id, payload["request_id"], payload.get("tool") or "",
                                payload.get("input") or {}, ApprovalStatus.PENDING, None, now(),
                                suggestions=payload.get("suggestions") or [])
            await self.store.add_approval(approval)
            self.outstanding[approval.request_id] = approval
            await self._set(status=RunStatus.NEEDS_ATTENTION)
            if self.notifier is not None:
                self.notifier.needs_you(self.run, approval)
        elif kind == EventType.AGENT_REQUEST_CANCELLED and payload.get("request_id") in self.outstanding:
            del self.outstanding[payload["request_id"]]
            await self.store.expire_approvals(self.run.id, payload["request_id"])
            if not self.outstanding:
                await self._set(status=RunStatus.RUNNING)
        elif kind == EventType.RUN_RESULT:
            self.result = payload
            await self._set(tokens_in=payload["tokens_in"], tokens_out=payload["tokens_out"],
                            cost_usd=payload["cost_usd"],
                            session_id=payload.get("session_id") or self.run.session_id)

    async def _compare_version(self, version: str) -> None:
        """A session resumed by another version of the agent mostly works; say so when it differs."""
        first = None
        for event in await self.store.events_of(self.run.id, EventType.SESSION_INIT):
            first = event.payload.get("version") or first
        if first and first != version:
            self.emit(EventType.RUN_WARNING, {"message": f"the session was started by version {first} of the agent; "
                                                 f"version {version} goes on with it"})

    async def _hang_watch(self) -> None:
        """Ends the run when the agent prints nothing for its idle limit while not waiting on the user."""
        limit = self.agent.idle_timeout_seconds or DEFAULT_IDLE_TIMEOUT
        clock = self.clock
        while True:
            await clock.sleep(max(0.05, self._heard + limit - clock.time()))
            if self.outstanding:
                self._heard = clock.time()  # waiting on the user is not hanging
            elif clock.time() - self._heard >= limit:
                return await self.stop(RunStatus.FAILED, f"the agent printed nothing for {limit}s: "
                                                         f"it seems to hang")

    async def _opening_watch(self, parser: LineParser, command: str) -> None:
        """Ends the run when the agent has not answered its protocol's opening in time: a CLI that
        does not speak the protocol (another version, another program) would otherwise wait forever."""
        await self.clock.sleep(OPENING_TIMEOUT)
        step = parser.waiting_for()
        if step is not None and self.stop_as is None:
            await self.stop(RunStatus.FAILED, f"the agent did not answer {step} within {OPENING_TIMEOUT}s: "
                                              f"is {command} a version that speaks its protocol?")

    async def _exit_watch(self) -> None:
        """Ends an agent that stays after its turn is over: the run's outcome is known already."""
        await self.clock.sleep(EXIT_GRACE)
        if self.process is not None and not self._exited:
            log.warning("run %s: the agent did not exit after its turn; stopping it", self.run.short_id)
            await self.process.stop()

    def _watchdog(self) -> asyncio.Task | None:
        """Ends the run when it outlives its profile's wall-clock limit (waiting on the user included)."""
        limit = self.agent.timeout_seconds
        if not limit:
            return None

        async def watch() -> None:
            await self.clock.sleep(limit)
            await self.stop(RunStatus.FAILED, f"the run took longer than its limit of {limit}s")

        return asyncio.create_task(watch())

    async def _run_setup(self, command: str) -> None:
        """The project's post-create command, in each worktree; a failure is an event, not the end."""
        for worktree in self.run.worktrees:
            try:
                proc = await asyncio.create_subprocess_shell(
                    command, cwd=worktree.path, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
                out, _ = await asyncio.wait_for(proc.communicate(), SETUP_TIMEOUT)
            except asyncio.TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                self.emit(EventType.RUN_SETUP_FAILED, {"repo": worktree.repo_name, "command": command,
                                               "reason": f"still running after {SETUP_TIMEOUT}s: stopped"})
                continue
            except OSError as error:
                self.emit(EventType.RUN_SETUP_FAILED, {"repo": worktree.repo_name, "command": command,
                                               "reason": error.strerror})
                continue
            tail = out.decode("utf-8", "replace")[-2000:]
            if proc.returncode:
                self.emit(EventType.RUN_SETUP_FAILED, {"repo": worktree.repo_name, "command": command,
                                               "reason": f"exited with status {proc.returncode}", "output": tail})
            else:
                self.emit(EventType.RUN_SETUP, {"repo": worktree.repo_name, "command": command, "output": tail})

    def _outcome(self, code: int) -> tuple[str, str | None]:
        if self.stop_as is not None:
            return self.stop_as
        if self.result is not None:
            if self.result["is_error"]:
                return RunStatus.FAILED, self.result.get("reason")
            return RunStatus.COMPLETED, None
        step = self._parser_waits_for
        when = (f" before it answered {step}" if step else
                " while its permission request waited for an answer" if self.outstanding else " without a result")
        if code < 0:
            return RunStatus.FAILED, f"the agent was killed by {signal.Signals(-code).name}{when}"
        detail = self._stderr_tail() or self._printed
        if step and not detail:
            detail = f"it printed nothing: is {self.process.argv[0] if self.process else 'it'} a version that " \
                     f"speaks its protocol?"
        return RunStatus.FAILED, f"the agent exited with status {code}{when}" + (f": {detail}" if detail else "")

    def _stderr_tail(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.stderr_path) - 2000))
                lines = [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
            return lines[-1].strip()[:300] if lines else ""
        except OSError:
            return ""

    async def _finish(self, status: str, reason: str | None) -> None:
        await self._checkpoint()
        self.outstanding.clear()
        await self.store.expire_approvals(self.run.id)
        await self._set(status=status, reason=reason, ended_at=now(), pid=None,
                        files_changed=await self._count_changes())
        self.emit(END_EVENTS[status], {"reason": reason} if reason else {})
        if self.notifier is not None:
            self.notifier.ended(self.run, status, reason)
        await self.store.flush()
        self.done.set()

    async def _checkpoint(self) -> None:
        """Commit what the agent left in each worktree, so the branch holds the run's work."""
        for worktree in self.run.worktrees:
            try:
                sha = await asyncio.to_thread(git.commit_all, worktree.path,
                                              CHECKPOINT.format(self.run.short_id))
            except Exception as error:
                self.emit(EventType.RUN_CHECKPOINT_FAILED, {"repo": worktree.repo_name, "reason": str(error)})
                continue
            if sha:
                self.emit(EventType.RUN_CHECKPOINT, {"repo": worktree.repo_name, "commit": sha})

    async def _count_changes(self) -> int | None:
        try:
            return sum([len(await asyncio.to_thread(git.changes, w.path, w.base_sha)) for w in self.run.worktrees])
        except Exception:  # a worktree that cannot be read leaves the figure unknown, not the run stuck
            return None

    # -- what the user does ----------------------------------------------------------------

    @property
    def agent_exited(self) -> bool:
        """The agent's process has ended (or its output has): an answer would reach nobody. A
        process killed is a zombie before it can be reaped (its threads still exiting): ended too."""
        process = self.process
        return process is not None and (self._exited or self._deaf or process.returncode is not None
                                        or started_at(process.pid) is None)

    async def answer(self, approval: Approval) -> bool:
        """Pass the user's recorded answer to the agent; False when the agent no longer waits on it
        (it withdrew the request, or it has exited: then nothing is written to it)."""
        if self.outstanding.pop(approval.request_id, None) is None or self.process is None or self.agent_exited:
            return False
        allow = approval.status == ApprovalStatus.ALLOWED
        self._heard = self.clock.time()
        if not self.process.send(self.adapter.answer(approval, allow, approval.message, always=approval.always)):
            self._deaf = True  # it exited as the answer went: its run ends on its own
            return False
        self.emit(EventType.USER_APPROVAL, {"request_id": approval.request_id, "tool": approval.tool,
                                            "allow": allow, "always": approval.always, "message": approval.message,
                                            "by": approval.answered_by})
        if not self.outstanding and self.run.status == RunStatus.NEEDS_ATTENTION:
            await self._set(status=RunStatus.RUNNING)
        return True

    async def cancel(self, reason: str = "cancelled by the user") -> None:
        await self.stop(RunStatus.CANCELLED, reason)

    async def stop(self, status: str, reason: str) -> None:
        """End the agent (interrupt, terminate, kill) and record the run as `status`; its work
        so far is committed to the branch as a checkpoint."""
        if self.stop_as is None:
            self.stop_as = (status, reason)
        if self._checker is not None:
            self._checker.cancel()
        if self.process is not None:
            await self.process.stop()
        await self.done.wait()
