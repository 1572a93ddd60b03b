"""One durable due-loop for everything that happens at a time: posts, locks, reminders, purges.

The database is the truth: each job, when run, does what is due by ``now`` and answers when
it next has something due (from the database and the calendar), or None when it has
nothing scheduled. One task sleeps until the earliest of those times, runs the jobs that
are due, and sleeps again. :meth:`DueLoop.wake` runs a job at once (a teacher posted a
lesson, the config was reloaded); a sleep never lasts longer than ``max_sleep``, because
asyncio sleeps on a monotonic clock while due times are wall-clock times, and the wall clock
jumps (a laptop wakes up, NTP corrects it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from storage.records import utcnow

log = logging.getLogger(__name__)

#: A job: does what is due by the given time; when it next has something due (or None).
Job = Callable[[dt.datetime], Coroutine[Any, Any, dt.datetime | None]]
Clock = Callable[[], dt.datetime]

MAX_SLEEP = dt.timedelta(hours=1)
RETRY_SOON = dt.timedelta(minutes=1)


class DueLoop:
    """Runs named jobs when they fall due, one at a time, in one task.

    A job that raises is logged with its name and run again after ``retry``; the others go
    on. ``clock`` is injectable so that tests can move time.
    """

    def __init__(self, *, clock: Clock = utcnow, max_sleep: dt.timedelta = MAX_SLEEP,
                 retry: dt.timedelta = RETRY_SOON) -> None:
        self.clock = clock
        self.max_sleep = max_sleep
        self.retry = retry
        self._jobs: dict[str, Job] = {}
        self._due: dict[str, dt.datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: tuple[str, asyncio.Task[dt.datetime | None]] | None = None
        self._ready: Callable[[], Awaitable[object]] | None = None
        self._closed = False

    def add(self, name: str, job: Job) -> None:
        """Add a job (or replace one of the same name); it first runs as soon as it can."""
        self._jobs[name] = job
        self.wake(name)

    def remove(self, name: str) -> None:
        """Stop running a job; a run in progress is cancelled."""
        self._jobs.pop(name, None)
        self._due.pop(name, None)
        if self._running is not None and self._running[0] == name:
            self._running[1].cancel()

    def wake(self, name: str | None = None) -> None:
        """Run ``name`` (or every job) at the next turn, whenever it was due."""
        for key in [name] if name is not None else list(self._jobs):
            if key in self._jobs:
                self._due[key] = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._wake.set()

    def due_at(self, name: str) -> dt.datetime | None:
        """When a job runs next, as far as the loop knows now."""
        return self._due.get(name)

    def start(self, ready: Callable[[], Awaitable[object]] | None = None) -> None:
        """Start the loop's task; with ``ready``, the first run waits for it.

        Not once closed: a bot closed while still setting up must not leave a task behind.
        """
        if self._task is None and not self._closed:
            self._ready = ready
            self._task = asyncio.create_task(self._run(), name="seminar-due-loop")

    async def close(self) -> None:
        """Stop the loop; a job in progress is cancelled (each job is safe to run again)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_due(self) -> None:
        """Run every job due now, earliest first."""
        now = self.clock()
        for name in sorted((n for n, at in self._due.items() if at <= now),
                           key=lambda n: self._due[n]):
            job = self._jobs.get(name)
            if job is None:
                continue
            task = asyncio.create_task(job(now), name=f"seminar-job-{name}")
            self._running = (name, task)
            try:
                await asyncio.wait({task})  # not `await task`: a removed job must not stop us
            finally:
                self._running = None
                if not task.done():  # the loop itself is being cancelled (closing)
                    # Wait until the job has stopped: it may hold a database connection
                    # that must go back to the pool before the engine is disposed.
                    task.cancel()
                    await asyncio.wait({task})
            if name not in self._jobs:
                continue  # removed while it ran
            if task.cancelled():
                self._due[name] = self.clock() + self.retry
                continue
            error = task.exception()
            if error is not None:
                log.error("The timed job %r failed; trying again in %s.", name, self.retry,
                          exc_info=error)
                self._due[name] = self.clock() + self.retry
                continue
            next_at = task.result()
            self._due[name] = next_at if next_at is not None else now + self.max_sleep

    def _delay(self) -> float:
        """Seconds until the earliest due job, at most ``max_sleep``."""
        longest = self.max_sleep.total_seconds()
        if not self._due:
            return longest
        left = (min(self._due.values()) - self.clock()).total_seconds()
        return min(max(left, 0.0), longest)

    async def _run(self) -> None:
        if self._ready is not None:
            await self._ready()
        while True:
            # Cleared before the pass, so a wake-up during the pass is not lost.
            self._wake.clear()
            await self.run_due()
            delay = self._delay()
            if delay > 0:
                log.debug("Due-loop sleeping %.1f s.", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
