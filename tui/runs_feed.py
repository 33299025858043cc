"""What the dashboard knows of runs, kept current: the engine's live events (one message per frame),
the runs table (re-read when something changes, and slowly for other corral processes), the
selected run's transcript without gaps or repeats, permission requests, and the runs that need you."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from core import render
from core.models import END_EVENTS, Approval, Event, EventType, Run, RunStatus

from .messages import ChangesLoaded, EventsArrived, RunsLoaded, TranscriptLoaded

if TYPE_CHECKING:
    from .app import CorralApp
    from .widgets.runs_pane import RunsPane

FRAME = 1 / 30  # events that arrive within one frame reach the screen together
STREAMED = frozenset({EventType.AGENT_TOKEN, EventType.AGENT_MESSAGE, EventType.AGENT_THINKING,
                      EventType.AGENT_TOOL_CALL, EventType.AGENT_TOOL_RESULT, EventType.AGENT_OUTPUT,
                      EventType.AGENT_SYSTEM})  # these change the transcript, not the run's row
# a pause is not announced: the run is picked up again
ENDED = {END_EVENTS[status]: render.ENDED[status] for status in END_EVENTS if status != RunStatus.PAUSED}
CHANGED_FILES = frozenset({EventType.RUN_CHECKPOINT, *ENDED})


class RunsFeed:
    def __init__(self, app: "CorralApp") -> None:
        self.app = app
        self.runs: list[Run] = []
        self.by_id: dict[str, Run] = {}
        self.pending: dict[str, list[Approval]] = {}
        self.selected_run_id: str | None = None
        self.pane: RunsPane | None = None
        self.last_changes: ChangesLoaded | None = None
        self.loaded_once = False
        self._loading_runs = False
        self._runs_again = False
        self._gone_projects: set[str] = set()  # left behind by an older corral's project delete
        self._transcript_loading = False
        self._held: list[Event] = []
        self._attention: set[str] = set()
        self._select_when_listed: str | None = None
        self._changes_stale = False
        self.retrying: set[str] = set()  # runs whose agent waits to try a failed model call again

    @property
    def selected_run(self) -> Run | None:
        return self.by_id.get(self.selected_run_id or "")

    # -- the live feed -------------------------------------------------------------------------

    def start(self) -> None:
        self.app.run_worker(self._follow(), group="feed", exit_on_error=False)

    async def _follow(self) -> None:
        subscription = self.app.engine.bus.subscribe()
        try:
            while True:
                events = await subscription.next_batch()
                if events:
                    self.app.post_message(EventsArrived(events))
                await asyncio.sleep(FRAME)  # let the next burst gather into one message
        finally:
            subscription.close()

    def events_arrived(self, events: list[Event]) -> None:
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
        mine = [e for e in events if e.run_id == self.selected_run_id]
        if mine and self.pane is not None:
            with self.app.batch_update():
                self._into_transcript(mine)
        if row_changed:
            self.request_runs()
        if ring:
            self.app.bell()
        if self._changes_stale and self.app.active_tab == "diffs":
            self.diffs_shown()

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
            runs = await self.app.engine.runs()
            if unknown := {r.project_id for r in runs} - {p.id for p in self.app.projects} - self._gone_projects:
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

    def runs_loaded(self, runs: list[Run], pending: dict[str, list[Approval]]) -> None:
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
        self.show_runs()

    def show_runs(self) -> None:
        if self.pane is None:
            return
        table = self.pane.table
        projects = self.app.projects
        table.show_runs(self.runs, self.app.clock(), {p.id: p.name for p in projects} if len(projects) > 1 else {},
                        self.retrying)
        if self._select_when_listed in self.by_id:
            table.select(self._select_when_listed)
            self._select_when_listed = None
        elif self.selected_run_id is None and table.selected_run_id:
            self.select(table.selected_run_id)
        self._show_banner()

    def pane_ready(self, pane: "RunsPane") -> None:
        self.pane = pane
        self.show_runs()
        if self.selected_run_id:
            self.select(self.selected_run_id, again=True)

    def tick(self) -> None:
        if self.pane is None or not self.pane.table.is_attached:
            return
        self.pane.table.tick(self.app.clock())
        run = self.selected_run
        driven_here = {r.id for r in self.app.engine.driving()}
        if run is not None and run.active and run.id not in driven_here and not self._transcript_loading:
            # another corral process drives it: its events reach us only through the database
            self._fetch_transcript(run.id, after=self.pane.transcript.transcript.last_seq)

    def follow_new_run(self, run: Run) -> None:
        self._select_when_listed = run.id
        self.select(run.id)
        self.request_runs()

    # -- the selected run ----------------------------------------------------------------------

    def select(self, run_id: str, again: bool = False) -> None:
        if run_id == self.selected_run_id and not again:
            return
        self.selected_run_id = run_id
        if self.pane is not None:
            self.pane.transcript.show_run(run_id, "Loading the transcript…")
            self._fetch_transcript(run_id, after=0)
        self._show_banner()

    def _fetch_transcript(self, run_id: str, after: int, held: list[Event] | None = None) -> None:
        self._transcript_loading, self._held = True, list(held or [])

        async def fetch() -> None:
            self.app.post_message(TranscriptLoaded(run_id, await self.app.engine.events(run_id, after=after)))

        self.app.engine_work(fetch, group="transcript", exclusive=True)

    def transcript_loaded(self, run_id: str, events: list[Event]) -> None:
        if run_id != self.selected_run_id or self.pane is None:
            return
        merged = sorted([*events, *self._held], key=lambda e: e.seq)
        self._transcript_loading, self._held = False, []
        self.pane.transcript.add_events(merged)

    def _into_transcript(self, events: list[Event]) -> None:
        assert self.pane is not None
        if self._transcript_loading:
            self._held.extend(events)  # they are merged with what the fetch returns
            return
        last = self.pane.transcript.transcript.last_seq
        if events[0].seq > last + 1:  # some were committed before we listened: fetch them first
            self._fetch_transcript(events[0].run_id, after=last, held=events)
            return
        self.pane.transcript.add_events(events)

    def answered(self, run_id: str, request_id: str) -> None:
        self.pending[run_id] = [a for a in self.pending.get(run_id, []) if a.request_id != request_id]
        self._show_banner()

    def _show_banner(self) -> None:
        if self.pane is None:
            return
        run = self.selected_run
        others = [r for r in self.runs if r.status == RunStatus.NEEDS_ATTENTION and r.id != self.selected_run_id]
        self.pane.banner.show(run, self.pending.get(run.id, []) if run else [], others)
        self.pane.refresh_bindings()

    # -- the diff tab ----------------------------------------------------------------------------

    def load_changes(self, run_id: str) -> None:
        self._changes_stale = False
        run = self.by_id.get(run_id)
        pane = self.app.diffs_pane
        if pane is not None and run is not None:
            pane.loading(run)

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
