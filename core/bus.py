"""In-process publish/subscribe of committed events: the live feed of the TUI, SSE and `--follow`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from .models import Event


class Subscription:
    """Receives batches of events; a slow reader gets one merged batch instead of a backlog of small ones."""

    def __init__(self, bus: "EventBus", run_id: str | None):
        self._bus = bus
        self.run_id = run_id
        self._pending: list[Event] = []
        self._ready = asyncio.Event()
        self.closed = False

    def deliver(self, events: list[Event]) -> None:
        if self.run_id is not None:
            events = [e for e in events if e.run_id == self.run_id]
        if events:
            self._pending.extend(events)
            self._ready.set()

    async def next_batch(self, timeout: float | None = None) -> list[Event]:
        """The events published since the last call; [] when `timeout` passes first."""
        if not self._pending:
            try:  # not wait_for, which may swallow a cancel that comes as the wait ends (3.11)
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        batch, self._pending = self._pending, []
        self._ready.clear()
        return batch

    def has_pending(self) -> bool:
        return bool(self._pending)

    def close(self) -> None:
        self.closed = True
        self._bus._leave(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._watch: Callable[[Callable[[], None]], Coroutine[Any, Any, None]] | None = None
        self._watcher: asyncio.Task | None = None

    def watch_with(self, watch: Callable[[Callable[[], None]], Coroutine[Any, Any, None]]) -> None:
        """While anyone subscribes, `watch(wake)` runs: it wakes every subscription (an empty batch)
        when something may have changed that the bus does not carry (another process's writes)."""
        self._watch = watch

    def subscribe(self, run_id: str | None = None) -> Subscription:
        subscription = Subscription(self, run_id)
        self._subscriptions.add(subscription)
        if self._watch is not None and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(self.wake), name="corral-bus-watch")
        return subscription

    def wake(self) -> None:
        for subscription in self._subscriptions:
            subscription._ready.set()

    def _leave(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        if not self._subscriptions and self._watcher is not None:
            self._watcher.cancel()  # nobody follows: nothing to look for
            self._watcher = None

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    def publish(self, events: list[Event]) -> None:
        for subscription in list(self._subscriptions):
            subscription.deliver(events)
