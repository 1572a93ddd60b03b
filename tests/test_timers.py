"""The one due-loop: jobs run when due, are woken early, survive failures, follow clock jumps."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest

from bot.client.timers import DueLoop

T0 = dt.datetime(2026, 9, 7, 12, 0, tzinfo=dt.UTC)
WAIT = 30.0  # an upper bound only: every wait below ends as soon as its event happens


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def loop(clock: Clock) -> AsyncIterator[DueLoop]:
    due_loop = DueLoop(clock=clock, max_sleep=dt.timedelta(hours=1),
                       retry=dt.timedelta(minutes=1))
    yield due_loop
    await due_loop.close()


class Recorder:
    """A job that records when it ran and answers a next due time from a list."""

    def __init__(self, *answers: dt.datetime | None) -> None:
        self.answers = list(answers)
        self.runs: list[dt.datetime] = []
        self.ran = asyncio.Event()

    async def __call__(self, now: dt.datetime) -> dt.datetime | None:
        self.runs.append(now)
        self.ran.set()
        return self.answers.pop(0) if self.answers else None

    async def next_run(self) -> None:
        await asyncio.wait_for(self.ran.wait(), WAIT)
        self.ran.clear()


async def test_jobs_run_when_due_earliest_first(loop: DueLoop, clock: Clock) -> None:
    order: list[str] = []

    def job(name: str, next_at: dt.datetime) -> Recorder:
        class Named(Recorder):
            async def __call__(self, now: dt.datetime) -> dt.datetime | None:
                order.append(name)
                return await super().__call__(now)
        return Named(next_at)

    late, early = job("late", T0 + dt.timedelta(hours=2)), job("early", T0 + dt.timedelta(hours=1))
    loop.add("late", late)
    loop.add("early", early)
    await loop.run_due()  # both new: both run at once
    assert set(order) == {"late", "early"}
    assert loop.due_at("early") == T0 + dt.timedelta(hours=1)
    order.clear()
    clock.now = T0 + dt.timedelta(hours=3)
    await loop.run_due()  # both due by now: the one due first runs first
    assert order == ["early", "late"]


async def test_a_job_sleeps_until_its_time_and_a_wake_runs_it_early(
    loop: DueLoop, clock: Clock
) -> None:
    job = Recorder(T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=1))
    loop.add("posting", job)
    loop.start()
    await job.next_run()
    assert job.runs == [T0]
    clock.now = T0 + dt.timedelta(minutes=5)
    loop.wake("posting")  # a teacher posted a lesson: look again now
    await job.next_run()
    assert job.runs == [T0, T0 + dt.timedelta(minutes=5)]


async def test_nothing_scheduled_is_looked_at_again_after_the_longest_sleep(
    loop: DueLoop, clock: Clock
) -> None:
    job = Recorder(None)
    loop.add("reminders", job)
    await loop.run_due()
    assert loop.due_at("reminders") == T0 + dt.timedelta(hours=1)


async def test_a_wall_clock_jump_is_noticed_within_the_longest_sleep(clock: Clock) -> None:
    loop = DueLoop(clock=clock, max_sleep=dt.timedelta(milliseconds=20))
    job = Recorder(T0 + dt.timedelta(days=1), None)
    loop.add("purge", job)
    loop.start()
    try:
        await job.next_run()
        clock.now = T0 + dt.timedelta(days=2)  # the machine slept through the due time
        await job.next_run()  # no wake: the capped sleep finds it due
        assert job.runs[-1] == T0 + dt.timedelta(days=2)
    finally:
        await loop.close()


async def test_a_failing_job_is_logged_and_retried_while_the_others_run(
    loop: DueLoop, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(now: dt.datetime) -> dt.datetime | None:
        raise RuntimeError("database is locked")

    fine = Recorder(T0 + dt.timedelta(hours=5))
    loop.add("broken", broken)
    loop.add("fine", fine)
    with caplog.at_level(logging.ERROR, logger="bot.client.timers"):
        await loop.run_due()
    assert fine.runs == [T0]
    assert loop.due_at("broken") == T0 + dt.timedelta(minutes=1)
    assert "'broken' failed" in caplog.text and "database is locked" in caplog.text


async def test_removing_a_job_cancels_its_run_and_the_loop_goes_on(loop: DueLoop) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(now: dt.datetime) -> dt.datetime | None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return None

    other = Recorder(None)
    loop.add("slow", slow)
    loop.start()
    await asyncio.wait_for(started.wait(), WAIT)
    loop.remove("slow")
    await asyncio.wait_for(cancelled.wait(), WAIT)
    loop.add("other", other)
    await other.next_run()
    assert loop.due_at("slow") is None


async def test_closing_stops_a_job_in_progress_and_waits_until_it_has(clock: Clock) -> None:
    loop = DueLoop(clock=clock)
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def slow(now: dt.datetime) -> dt.datetime | None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            # Cleaning up takes turns of the loop (a database connection going back to
            # its pool, say): close() must not return before it is done.
            for _ in range(3):
                await asyncio.sleep(0)
            cancelled.set()
        return None

    loop.add("slow", slow)
    loop.start()
    await asyncio.wait_for(started.wait(), WAIT)
    await loop.close()
    assert cancelled.is_set()


async def test_a_loop_closed_before_it_started_never_starts(clock: Clock) -> None:
    loop = DueLoop(clock=clock)
    job = Recorder(None)
    loop.add("posting", job)
    await loop.close()  # the bot closed while still setting up
    loop.start()
    for _ in range(5):  # turns of the event loop in which a started task would run the job
        await asyncio.sleep(0)
    await loop.close()
    assert job.runs == []

