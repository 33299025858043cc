"""What the dashboard knows of runs, kept current: the engine's live events (one message per frame),
the runs table (re-read when something changes, and slowly for other corral processes), the
selected run's transcript (fetched when the Runs tab asks), permission requests, and the runs that need
you. It knows no widget: it posts what it read (RunsLoaded, TranscriptLoaded, ChangesLoaded), and the app
hands that down to the panes."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from core import render
from core.errors import CorralError
from core.models import END_EVENTS, Approval, Event, EventType, Run, RunStatus

from .messages import ChangesLoaded, EventsArrived, RunsLoaded, TranscriptLoaded

if TYPE_CHECKING:
    from textual.timer import Timer

    from .app import CorralApp

# these change the transcript, not the run's row
STREAMED = frozenset({EventType.AGENT_TOKEN, EventType.AGENT_MESSAGE, EventType.AGENT_THINKING,
                      EventType.AGENT_TOOL_CALL, EventType.AGENT_TOOL_RESULT, EventType.AGENT_OUTPUT,
                      EventType.AGENT_SYSTEM, EventType.COMMAND_OUTPUT})
# a pause is not announced: the run is picked up again
ENDED = {END_EVENTS[status]: render.ENDED[status] for status in END_EVENTS if status != RunStatus.PAUSED}
ELSEWHERE_READS = 1.0  # seconds at least between reads of the runs for other processes' writes
CHANGED_FILES = frozenset({EventType.RUN_CHECKPOINT, *ENDED})


class RunsFeed:
    def __init__(self, app: "CorralApp") -> None:
        self.app = app
        self.runs: list[Run] = []
        self.by_id: dict[str, Run] = {}
        self.pending: dict[str, list[Approval]] = {}
        self._answered: set[str] = set()  # requests answered here that a read of the runs may still list
        self.selected_run_id: str | None = None
        self.last_changes: ChangesLoaded | None = None
        self.loaded_once = False
        self._loading_runs = False
        self._runs_again = False
        self._gone_projects: set[str] = set()  # left behind by an older corral's project delete
        self._attention: set[str] = set()
        self._select_when_listed: str | None = None
        self._changes_stale = False
        self.retrying: set[str] = set()  # runs whose agent waits to try a failed model call again
        self._elsewhere_read = 0.0  # when the runs were last read for what another process wrote
        self._taken = asyncio.Event()  # the dashboard took in the last events: the next may go
        self._elsewhere_timer: Timer | None = None  # a read for it, due once a second has passed

    @property
    def selected_run(self) -> Run | None:
        return self.by_id.get(self.selected_run_id or "")

    # -- the live feed -------------------------------------------------------------------------

    def start(self) -> None:
        self.app.run_worker(self._follow(), group="feed", exit_on_error=False)

    async def _follow(self) -> None:
        subscription = self.app.engine.subscribe()
        try:
            while True:
                # [] when another process committed something: what it wrote is read from the store
                batch = await subscription.next_batch()
                self._taken.clear()
                self.app.post_message(EventsArrived(batch))
                await self._taken.wait()  # what comes while the dashboard takes this in goes in one message
        finally:
            subscription.close()

    def events_arrived(self, events: list[Event]) -> list[Event]:
        """Take in a frame's events; the selected run's, for its transcript. None: another process
        wrote to the store (its runs' rows are read again, a second apart at most)."""
        self._taken.set()
        if not events:
            self._read_for_elsewhere()
        row_changed = ring = False
        for event in events:
            if event.type not in STREAMED:
                row_changed = True
            if event.type == EventType.AGENT_RETRY:
                self.retrying.add(event.run_id)
            elif event.run_id in self.retrying and event.type != EventType.AGENT_SYSTEM:
                self.retrying.discard(event.run_id)  # the model answered, or the run gave up
                row_changed = True
            if event.type == EventType.AGENT_NEEDS_ATTENTION and event.run_id not in self._attention:
                self._attention.add(event.run_id)
                ring = True
            if event.type in ENDED:
                self._announce_end(event)
            if (event.type in CHANGED_FILES and self.last_changes is not None
                    and event.run_id == self.last_changes.run.id):
                self._changes_stale = True
        if row_changed:
            self.request_runs()
        if ring:
            self.app.bell()
        if self._changes_stale and self.app.active_tab == "diffs":
            self.diffs_shown()
        return [e for e in events if e.run_id == self.selected_run_id]

    def _read_for_elsewhere(self) -> None:
        """Read the runs for what another process wrote: now, or once a second has passed since the
        last such read (what was written in between is read then, not left unread until more comes)."""
        if self._elsewhere_timer is not None:
            return  # a read is due already: it will see this write too
        wait = self._elsewhere_read + ELSEWHERE_READS - time.monotonic()
        if wait > 0:
            self._elsewhere_timer = self.app.set_timer(wait, self._elsewhere_due)
            return
        self._elsewhere_read = time.monotonic()
        self.request_runs()

    def _elsewhere_due(self) -> None:
        self._elsewhere_timer = None
        self._read_for_elsewhere()

    def _announce_end(self, event: Event) -> None:
        run = self.by_id.get(event.run_id)
        name = run.short_id if run else event.run_id[:8]
        reason = event.payload.get("reason")
        self.app.notify(f"run {name} {ENDED[event.type]}" + (f": {reason}" if reason else ""),
                        severity="error" if event.type == EventType.RUN_FAILED else "information", timeout=4)

    # -- the runs table ------------------------------------------------------------------------

    def request_runs(self) -> None:
        """Re-read the runs; while a read is on its way, ask for one more after it, not for many."""
        if self._loading_runs:
            self._runs_again = True
            return
        self._loading_runs = True
        self.app.engine_work(self._load_runs, group="runs")

    async def _load_runs(self) -> None:
        try:
            try:
                runs = await self.app.engine.runs()
            except CorralError as error:
                if self._said_in_header(error):
                    return  # the runs are read again once the host answers
                raise
            unknown = {r.project_id for r in runs} - {p.id for p in self.app.projects} - self._gone_projects
            if unknown and not self._starting():  # (the start's read names them: the runs need not wait for it)
                await self.app.load_projects()  # added elsewhere since: its runs need its name
                self._gone_projects |= unknown - {p.id for p in self.app.projects}
            pending = {}
            for run in runs:
                if run.status == RunStatus.NEEDS_ATTENTION:
                    pending[run.id] = await self.app.engine.approvals(run.id)
            self.app.post_message(RunsLoaded(runs, pending))
        finally:
            self._loading_runs = False
            if self._runs_again:
                self._runs_again = False
                self.app.call_later(self.request_runs)

    def _starting(self) -> bool:
        """Whether the dashboard's first read of the projects is still under way (the app's "start" work)."""
        return any(worker.group == "start" and not worker.is_finished for worker in self.app.workers)

    def runs_loaded(self, runs: list[Run], pending: dict[str, list[Approval]]) -> None:
        listed = {a.request_id for requests in pending.values() for a in requests}
        self._answered &= listed  # the others' answers are in the store: no read shows them waiting again
        pending = {run_id: [a for a in requests if a.request_id not in self._answered]
                   for run_id, requests in pending.items()}
        self.runs, self.by_id, self.pending = runs, {r.id: r for r in runs}, pending
        waiting = {r.id for r in runs if r.status == RunStatus.NEEDS_ATTENTION}
        fresh = [self.by_id[i] for i in waiting - self._attention]
        if fresh and self.loaded_once:
            self.app.bell()
        for run in fresh if self.loaded_once else ():
            request = (pending.get(run.id) or [None])[0]
            self.app.notify(f"run {run.short_id} needs you" + (f": {request.tool}" if request else ""),
                            severity="warning", timeout=5)
        self._attention = waiting
        self.loaded_once = True

    def select_when_listed(self) -> str | None:
        """The run to highlight in the table, once: a run just started, as soon as it is listed."""
        if self._select_when_listed in self.by_id:
            run_id, self._select_when_listed = self._select_when_listed, None
            return run_id
        return None

    def catching_up(self) -> bool:
        """Whether the selected run's events reach us only through the database: another corral drives
        it, or it has ended (another corral may run a command in its worktree: `corral exec`)."""
        run = self.selected_run
        return run is not None and run.id not in {r.id for r in self.app.engine.driving()}

    def follow_new_run(self, run: Run) -> None:
        self._select_when_listed = run.id
        self.request_runs()

    # -- the selected run ----------------------------------------------------------------------

    def select(self, run_id: str, again: bool = False) -> bool:
        """Make run_id the selected run; whether it changed (or `again`)."""
        if run_id == self.selected_run_id and not again:
            return False
        self.selected_run_id = run_id
        return True

    def _said_in_header(self, error: CorralError) -> bool:
        """Whether the error is a host that does not answer, which the header says already."""
        return error.code == "REMOTE_UNREACHABLE" and bool(self.app.engine.unreachable())

    def fetch_transcript(self, run_id: str, after: int) -> None:
        async def fetch() -> None:
            try:
                events = await self.app.engine.events(run_id, after=after)
            except CorralError as error:
                self.app.post_message(TranscriptLoaded(run_id, None))  # not waited for: asked again later
                if self._said_in_header(error):
                    return
                raise
            self.app.post_message(TranscriptLoaded(run_id, events))

        self.app.engine_work(fetch, group="transcript", exclusive=True)

    def answered(self, run_id: str, request_id: str) -> None:
        """A request answered here: not shown waiting again, even by a read of the runs begun before the answer."""
        self._answered.add(request_id)
        self.pending[run_id] = [a for a in self.pending.get(run_id, []) if a.request_id != request_id]

    def answer_refused(self, request_id: str) -> None:
        """The answer did not reach the run: the request is shown again if it still waits."""
        self._answered.discard(request_id)
        self.request_runs()

    # -- the diff tab ----------------------------------------------------------------------------

    def load_changes(self, run_id: str) -> None:
        self._changes_stale = False
        if (run := self.by_id.get(run_id)) is not None:
            self.app.diffs_loading(run)

        async def fetch() -> None:
            engine = self.app.engine
            self.app.post_message(ChangesLoaded(await engine.run(run_id), await engine.changes(run_id),
                                                await engine.diff(run_id)))

        self.app.engine_work(fetch, group="changes", exclusive=True)

    def diffs_shown(self) -> None:
        if self.last_changes is not None and self._changes_stale:
            self.load_changes(self.last_changes.run.id)
        elif self.last_changes is None and self.selected_run_id and self.app.diffs_pane is not None:
            self.load_changes(self.selected_run_id)
