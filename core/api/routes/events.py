"""A run's events: as a list, as Server-Sent Events, and over a WebSocket that also takes answers.

Both streams replay what came after the last event the client saw, then follow live ones as they
are committed, and end after the run's last event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from ...engine import Engine
from ...errors import CorralError, NotFound
from ...json_codec import encode
from ...models import ApiToken, Event, Run
from ..dependencies import EngineDep, caller_token
from ..errors import corral_error_body, error_body, validation_details
from ..schemas import MAX_ID, ApprovalOut, ClientMessage, EventOut

log = logging.getLogger("corral.api")
router = APIRouter(tags=["events"])

_client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


@router.get("/runs/{run_id}/events", response_model=list[EventOut], summary="A run's events")
async def list_events(run_id: str, engine: EngineDep,
                      after: Annotated[int, Query(ge=0, le=MAX_ID, description="After this sequence number")] = 0,
                      after_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="After this event id")] = None,
                      limit: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> list[EventOut]:
    return [EventOut.of(e) for e in await engine.events(run_id, after, limit, after_id)]


async def resume_point(engine: Engine, run: Run, after_id: int) -> bool:
    """Check that `after_id` is one of the run's events; False when the run has ended, runs no
    command in its worktree, and it was its last (its end, or a note after it: a merge, a push...)."""
    if not after_id:
        return True
    seen = await engine.events(run.id, after_id=after_id - 1, limit=2)
    if not seen or seen[0].id != after_id:
        raise CorralError(f"event {after_id} is not an event of run {run.short_id}",
                          code="UNKNOWN_EVENT_ID", details={"last_event_id": after_id})
    return len(seen) > 1 or run.active or bool(await engine.commands(run.id, running=True))


async def feed(source: AsyncIterator[Event], tick: float, closing: asyncio.Event) -> AsyncGenerator[list[Event], None]:
    """The events of `source` (a run's or a project's follower) in batches of those that came
    together, and [] every `tick` seconds of quiet; ends with the source, or when the server closes."""
    queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in source:
                queue.put_nowait(event)
            queue.put_nowait(None)
        except Exception as error:  # handed to the reader, which reports it
            queue.put_nowait(error)

    pumping = asyncio.create_task(pump(), name="event-feed")
    closed = asyncio.create_task(closing.wait())
    getting: asyncio.Task | None = None
    try:
        while True:
            getting = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getting, closed}, timeout=tick, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()  # an item it would have taken stays in the queue
                if closed in done:
                    return
                yield []
                continue
            items = [getting.result()]
            while not queue.empty() and isinstance(items[-1], Event):
                items.append(queue.get_nowait())
            events = [item for item in items if isinstance(item, Event)]
            if events:
                yield events
            if items[-1] is None:
                return
            if isinstance(items[-1], BaseException):
                raise items[-1]
    finally:
        for task in (pumping, closed, getting):
            if task is not None:
                task.cancel()


_frames: OrderedDict[tuple[str, int | None], str] = OrderedDict()  # SSE frames, made once for all of a run's clients
FRAME_CACHE = 4096


def _frame(event: Event) -> str:
    data = encode({"id": event.id, "run_id": event.run_id, "sequence": event.seq, "event_type": event.type,
                   "payload": event.payload, "created_at": event.created_at})  # EventOut's JSON, made faster
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


def _sse(event: Event) -> str:
    key = (event.run_id, event.id)
    frame = _frames.get(key)
    if frame is None:
        frame = _frame(event)
        if len(_frames) >= FRAME_CACHE:
            _frames.popitem(last=False)
        _frames[key] = frame
    return frame


def _frames_of(events: list[Event]) -> str:
    """The SSE frames of events that came together: live ones shared through the cache; a replay,
    more than the cache holds and rarely shared, made directly."""
    return "".join(map(_sse if len(events) <= FRAME_CACHE else _frame, events))


@router.get(
    "/runs/{run_id}/events/stream", response_class=StreamingResponse, summary="Follow a run's events (SSE)",
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`id:` (the event's id), `event:` (its type) and `data:` (its JSON) "
                                    "per event; `:` comment lines keep the connection alive"},
               204: {"description": "The run ended and the client has seen its last event"}})
async def stream_run_events(
        run_id: str, request: Request, engine: EngineDep,
        last_event_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Replay events after this id")] = None,
        last_event_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None) -> Response:
    """Replays the events after `Last-Event-ID` (header, sent by EventSource when it reconnects)
    or `last_event_id`, then follows live ones; the stream ends after the run's last event."""
    run = await engine.run(run_id)
    after = last_event_header if last_event_header is not None else (last_event_id or 0)
    if not await resume_point(engine, run, after):
        return Response(status_code=204)  # EventSource stops reconnecting on a 204
    return _stream(request, engine.follow(run.id, after_id=after))


def _stream(request: Request, source: AsyncIterator[Event], start: str | None = None) -> StreamingResponse:
    """An SSE response of `source`'s events, with keep-alives; an error ends it as an `error` event."""
    state = request.app.state

    async def frames() -> AsyncIterator[str]:
        yield "retry: 2000\n\n" + (start or "")
        try:
            async with aclosing(feed(source, state.settings.keepalive_seconds, state.closing)) as batches:
                async for events in batches:
                    yield _frames_of(events) if events else ": keep-alive\n\n"
        except CorralError as error:
            yield f"event: error\ndata: {json.dumps(corral_error_body(error))}\n\n"

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get(
    "/projects/{project_id}/events", response_class=StreamingResponse, summary="Follow a project's events (SSE)",
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "Every event of the project's runs and planning sessions, in the order they "
                                    "were stored: `id:`, `event:` and `data:` per event, `:` keep-alives"}})
async def stream_project_events(
        project_id: str, request: Request, engine: EngineDep,
        last_event_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Replay events after this id")] = None,
        last_event_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None) -> Response:
    """Replays the project's events after `Last-Event-ID` (or `last_event_id`; none: from its
    first), then follows live ones until the client leaves."""
    project = await engine.project(project_id)
    after = last_event_header if last_event_header is not None else (last_event_id or 0)
    return _stream(request, engine.follow_project(project.id, after))


@router.get(
    "/events/stream", response_class=StreamingResponse, summary="Follow every run's events (SSE)",
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "Every event of every run, in the order they were stored: `id:`, `event:` "
                                    "and `data:` per event, `:` keep-alives. The stream begins with a bare `id:` "
                                    "line, the id it follows from: where a client that reconnects takes it up "
                                    "again"}})
async def stream_all_events(
        request: Request, engine: EngineDep,
        last_event_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Replay events after this id")] = None,
        last_event_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None) -> Response:
    """Replays every event after `Last-Event-ID` (or `last_event_id`; none: from now on), then
    follows live ones until the client leaves: what a dashboard on another host listens to."""
    after = last_event_header if last_event_header is not None else last_event_id
    if after is None:
        after = await engine.last_event_id()
    return _stream(request, engine.follow_all(after), f"id: {after}\n\n")


# -- the WebSocket ---------------------------------------------------------------------------

async def _answer(engine: Engine, run: Run, text: str, token: ApiToken | None) -> dict:
    """What the client asked over the socket, done, and the reply to send it."""
    try:
        message = _client_message.validate_json(text)
    except ValidationError as error:
        summary, details = validation_details(error.errors())
        return {"type": "error", **error_body("VALIDATION_ERROR", summary, details)}
    if message.type == "ping":
        return {"type": "pong"}
    if token is not None and token.read_only:
        return {"type": "error", **error_body("READ_ONLY_TOKEN", "this token is read-only: it cannot "
                                              "answer permission requests")}
    try:
        approval = await engine.approve(run.id, allow=message.allow, message=message.message,
                                        request_id=message.request_id, always=message.always,
                                        by=(token.user or token.name) if token is not None else None)
    except CorralError as error:
        return {"type": "error", **corral_error_body(error)}
    return {"type": "approval", "approval": ApprovalOut.of(approval).model_dump(mode="json")}


@router.websocket("/runs/{run_id}/ws")
async def run_socket(websocket: WebSocket, run_id: str,
                     last_event_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> None:
    """Sends {"type": "event", ...event} for each event (replayed after `last_event_id`, then live)
    and closes (1000) after the run's last one. Takes {"type": "approve", "allow": true,
    "always": false, "message": null, "request_id": null} and {"type": "ping"}; answers each with
    {"type": "approval", ...}, {"type": "pong"} or {"type": "error", "error": {...}}."""
    engine: Engine = websocket.app.state.engine
    state = websocket.app.state
    token = caller_token(websocket)
    await websocket.accept()
    try:
        run = await engine.run(run_id)
        more = await resume_point(engine, run, last_event_id)
    except CorralError as error:
        await websocket.send_json({"type": "error", **corral_error_body(error)})
        await websocket.close(code=4404 if isinstance(error, NotFound) else 4400)
        return
    sending = asyncio.Lock()

    async def send(data: dict) -> None:
        async with sending:
            await websocket.send_json(data)

    async def listen() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            await send(await _answer(engine, run, text, token))

    listening = asyncio.create_task(listen(), name=f"socket-{run.short_id}")
    listening.add_done_callback(lambda task: task.cancelled() or task.exception())  # a send to a gone client
    try:
        if more:
            async with aclosing(feed(engine.follow(run.id, after_id=last_event_id),
                                     state.settings.keepalive_seconds, state.closing)) as batches:
                async for events in batches:
                    for event in events:
                        if listening.done():
                            return
                        await send({"type": "event", **EventOut.of(event).model_dump(mode="json")})
        await websocket.close(code=1001 if state.closing.is_set() else 1000)
    except CorralError as error:
        await send({"type": "error", **corral_error_body(error)})
        await websocket.close(code=1011)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the client went away while we were sending
    finally:
        listening.cancel()
