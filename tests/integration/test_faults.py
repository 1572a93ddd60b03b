"""Seminar under failure: Discord errors, gateway drops, SIGKILL, a locked database.

The real bot (``seminar run``'s start path, or ``seminar run`` itself in a subprocess)
against the Discord emulator. Each test ends the same way: nothing is posted twice, every
reply Discord holds is recorded exactly once (the database is compared with the emulator's
messages, per student), the teacher was told about what failed, and the bot still answers
a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

import bot.client.run
from bot.client.bot import SeminarBot
from bot.client.errors import APOLOGY, SERVER_TROUBLE
from bot.core.config import Settings
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.records import PostStatus
from storage.repository import Repository
from tests.emulator import DiscordEmulator, InteractionResult
from tests.integration.classroom import SECOND, SECOND_TITLE, two_lessons
from tests.integration.conftest import COURSE, SEED, StartBot, until
from tests.integration.faults import (
    SEED_TITLE,
    Burst,
    Course,
    all_recorded,
    ask_lesson,
    assert_posted_once,
    build_course,
    expected_numbers,
    lesson_threads,
    recorded_numbers,
    report_counts,
    titles,
    wall,
)

REPO = Path(__file__).resolve().parents[2]

# What a fault hits: a lesson message, a question thread, the answer to the teacher's command
# (the "thinking..." defer), and the followup that tells the teacher the outcome.
TARGETS = {
    "send": r"^/channels/{channel}/messages$",
    "thread": r"^/channels/{channel}/messages/\d+/threads$",
    "answer": r"^/interactions/\d+/[^/]+/callback$",
    "followup": r"^/webhooks/\d+/[^/]+$",
}
STATUSES = (429, 500, 502, 403)
MISSING_PERMISSIONS = {"code": 50013, "message": "Missing Permissions"}


@pytest.fixture
def course(emulator: DiscordEmulator) -> Course:
    return build_course(emulator)


@pytest.fixture
def settings(emulator: DiscordEmulator, course: Course, tmp_path: Path) -> Settings:
    return course.settings(emulator, tmp_path)


@pytest.fixture
async def repo(settings: Settings) -> AsyncIterator[Repository]:
    """The bot's database, opened separately: what a report reads (also while the bot is off)."""
    engine = create_engine(settings.database.url)
    await upgrade_engine(engine)
    try:
        yield Repository(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def seen(result: InteractionResult) -> list[str]:
    """Everything the user saw in answer to an interaction, oldest first."""
    return [m.content for m in result.messages()]


async def report(emulator: DiscordEmulator, course: Course) -> dict[str, int]:
    """The teacher's ``/participation report``: replies per student name."""
    result = await emulator.invoke_command(course.guild_id, course.class_channel_id,
                                           course.teacher_id, "participation",
                                           subcommand="report")
    final = result.final()
    assert final is not None and final.ephemeral
    return report_counts(final.content)


def by_name(course: Course, numbers: dict[int, tuple[int, int, int]]) -> dict[str, int]:
    """Replies per student name (the members are named student-1, student-2...)."""
    names = {user_id: f"student-{i + 1}" for i, user_id in enumerate(course.students)}
    return {names[user_id]: replies for user_id, (replies, _, _) in numbers.items()}


async def fast_identify(shard_id: int | None, *, initial: bool = False) -> None:
    """Re-IDENTIFY at once (Discord's 5 s identify spacing is not the subject here)."""


# --- Discord answers 429, 500, 502 or 403 -------------------------------------------------------


def fault_for(status: int) -> dict[str, Any]:
    """The fault to inject for a status.

    429: three times running, with a short retry-after. 5xx: after Discord acted (its
    answer lost on the way). 403: Missing Permissions.
    """
    if status == 429:
        return {"retry_after": 0.1, "times": 3}
    if status >= 500:
        return {"perform": True}
    return {"json": MISSING_PERMISSIONS}


FAILED_TO_POST = (f"I could not post “{SEED_TITLE}”. Discord refused to let me post in "
                  "#history-101 (Missing Permissions). Ask a server admin to check my "
                  f"permissions there. Once that is fixed, use `/schedule post {SEED}` to post it.")
TOLD_TO_RETRY = {
    # A 5xx on the answer after Discord took it: discord.py's retry gets 40060.
    ("answer", 500): SERVER_TROUBLE,
    ("answer", 502): SERVER_TROUBLE,
    ("answer", 403): "Discord did not let me do that in this channel: please ask a server "
                     "admin to check my permissions here.",
    ("send", 403): FAILED_TO_POST,
    ("thread", 403): FAILED_TO_POST,
}


async def post_and_tell(emulator: DiscordEmulator, course: Course) -> list[str]:
    """The teacher runs ``/schedule post``; what they are told (answer, or teachers' channel)."""
    before = len(emulator.messages(course.teacher_channel_id))
    result = await course.command(emulator, course.teacher_id, "schedule", subcommand="post",
                                  options={"lesson": SEED}, wait=False)

    def told() -> list[str]:
        answers = [m.content for m in result.messages() if m.content]
        return answers + [m["content"] for m in emulator.messages(course.teacher_channel_id)
                          [before:]]

    await emulator.wait_for(told, timeout=20)
    return told()


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("target", list(TARGETS))
async def test_discord_fails_while_a_teacher_posts_a_lesson(
    emulator: DiscordEmulator, course: Course, settings: Settings, start_bot: StartBot,
    repo: Repository, caplog: pytest.LogCaptureFixture, target: str, status: int,
) -> None:
    path = TARGETS[target].format(channel=course.class_channel_id)
    posted = f"Posted “{SEED_TITLE}”: https://discord.com/channels/{course.guild_id}/"
    async with start_bot(settings):
        emulator.inject("POST", path, status=status, **fault_for(status))
        told = await post_and_tell(emulator, course)
        retry = TOLD_TO_RETRY.get((target, status))
        if retry is None:
            # Retried by discord.py (a send with the same nonce: Discord returns the message
            # it already made), or refused after the post went out (a 403 on the followup:
            # the teachers' channel says it instead).
            assert told and all(t.startswith(posted) for t in told), told
        else:
            # Told it failed: the teacher does what the sentence says, and tries again.
            assert told == [retry]
            again = await post_and_tell(emulator, course)
            assert len(again) == 1 and again[0].startswith(posted), again
        asked = await ask_lesson(emulator, course)
    assert asked.embeds[0]["title"] == SEED_TITLE
    assert_posted_once(emulator, course.class_channel_id)
    # A half-sent attempt is completed, not posted anew; one that sent nothing stays failed.
    assert [p.status for p in await repo.posts.matching(COURSE)] == (
        ["failed", "posted"] if (target, status) == ("send", 403) else ["posted"])
    assert emulator.calls_to("POST", path)[0].injected
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


async def test_a_scheduled_post_refused_half_way_is_finished_when_the_teacher_retries(
    emulator: DiscordEmulator, course: Course, start_bot: StartBot, tmp_path: Path,
    repo: Repository, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = course.settings(emulator, tmp_path, [{"lesson": SEED, "post_at": wall(seconds=1)}])
    thread = TARGETS["thread"].format(channel=course.class_channel_id)
    emulator.inject("POST", thread, status=403, json=MISSING_PERMISSIONS)
    async with start_bot(settings):
        await emulator.wait_for(lambda: emulator.messages(course.teacher_channel_id))
        # The class sees the lesson and its first question, without a thread.
        assert titles(emulator, course.class_channel_id) == [SEED_TITLE, "Question 1 of 2"]
        (failed,) = await repo.posts.matching(COURSE)
        again = await post_and_tell(emulator, course)
        asked = await ask_lesson(emulator, course)
    (told,) = emulator.messages(course.teacher_channel_id)
    assert told["content"] == FAILED_TO_POST
    assert len(again) == 1 and again[0].startswith(f"Posted “{SEED_TITLE}”: "), again
    assert asked.embeds[0]["title"] == SEED_TITLE
    assert_posted_once(emulator, course.class_channel_id)
    (post,) = await repo.posts.matching(COURSE)
    assert (post.id, post.status, post.attempts) == (failed.id, "posted", 2)
    assert post.scheduled_at == failed.scheduled_at  # still the calendar's post, due as set
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


# --- the gateway drops again and again --------------------------------------------------------

# (resumable, held down while students write): five drops, mixed.
DROPS = ((True, True), (False, True), (True, False), (False, False), (False, True))


async def test_the_gateway_drops_again_and_again_while_students_reply(
    emulator: DiscordEmulator, course: Course, start_bot: StartBot, tmp_path: Path,
    repo: Repository,
) -> None:
    two_lessons(tmp_path)
    settings = course.settings(emulator, tmp_path)
    async with start_bot(settings) as bot:
        bot.before_identify_hook = fast_identify  # type: ignore[method-assign]
        posted = await course.schedule_post(emulator)
        assert seen(posted)[-1].startswith(f"Posted “{SEED_TITLE}”")
        threads = await lesson_threads(repo)
        async with Burst(emulator, course.students, threads) as burst:
            await burst.more(10)
            for number, (resumable, held) in enumerate(DROPS):
                sessions = session_count(emulator, resumable)
                await emulator.drop_gateway(resumable, hold=held)
                if held:
                    await burst.more(15)  # written while the bot cannot hear them
                    if number == len(DROPS) - 1:
                        # The second lesson falls due during this outage: posting needs only
                        # REST, so it goes out while the gateway is down.
                        await post_second_lesson_now(bot, course, emulator, tmp_path)
                        await until(lambda: second_posted(repo))
                        burst.threads += (await lesson_threads(repo))[len(threads):]
                        await burst.more(10)
                    emulator.release_gateway()
                await reconnected(emulator, resumable, sessions)
                await burst.more(10)
        every_thread = await lesson_threads(repo)
        assert len(every_thread) == 4
        await all_recorded(repo, emulator, every_thread)
        counts = await report(emulator, course)
        asked = await ask_lesson(emulator, course)
    assert asked.embeds[0]["title"] in (SEED_TITLE, SECOND_TITLE)
    expected = expected_numbers(emulator, every_thread)
    assert sum(n for n, _, _ in expected.values()) == len(burst.sent)
    assert await recorded_numbers(repo) == expected
    recorded = await repo.replies.matching(COURSE, include_deleted=True)
    assert sorted(r.message_id for r in recorded) == (
        sorted(int(m["id"]) for m in burst.sent))
    assert counts == by_name(course, expected)
    assert emulator.resume_count == sum(1 for r, _ in DROPS if r)
    assert emulator.identify_count == 1 + sum(1 for r, _ in DROPS if not r)
    assert_posted_once(emulator, course.class_channel_id, lessons=(SEED_TITLE, SECOND_TITLE))
    # The second lesson was posted on time: the teacher has nothing to be told.
    assert emulator.messages(course.teacher_channel_id) == []


def session_count(emulator: DiscordEmulator, resumable: bool) -> int:
    """Sessions resumed (or, for a drop without resume, identified) so far."""
    return emulator.resume_count if resumable else emulator.identify_count


async def reconnected(emulator: DiscordEmulator, resumable: bool, before: int) -> None:
    """Wait until the bot resumed (or identified again) after a drop, and is connected."""
    await emulator.wait_for(lambda: session_count(emulator, resumable) > before)
    await emulator.wait_until_connected()


async def post_second_lesson_now(bot: SeminarBot, course: Course, emulator: DiscordEmulator,
                                 tmp_path: Path, entries: Sequence[dict[str, Any]] = ()) -> None:
    """The calendar gains the second lesson, due within a second (a config reload)."""
    changed = course.settings(emulator, tmp_path, [
        *entries, {"lesson": SECOND, "post_at": wall(seconds=1)}])
    bot.settings = changed
    bot.dispatch("seminar_calendar_changed")


async def second_posted(repo: Repository) -> bool:
    """Whether the second lesson is posted with its threads."""
    posts = await repo.posts.matching(COURSE)
    return any(p.lesson == SECOND and p.status == "posted" for p in posts)


# --- SIGKILL in the middle of a burst ---------------------------------------------------------


class SeminarRun:
    """``seminar run`` in its own process, its log in a file."""

    def __init__(self, config: Path, token: str, log: Path) -> None:
        self.config = config
        self.token = token
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "DISCORD_TOKEN": self.token}
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--config", str(self.config), "run",
                cwd=REPO, env=env, stdout=log, stderr=log)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye to the gateway."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return cast(int, self.process.returncode)

    def text(self) -> str:
        """What the process logged."""
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.asynccontextmanager
async def seminar_run(config: Path, token: str, log: Path) -> AsyncIterator[SeminarRun]:
    """A running ``seminar run``; stopped (if still alive) when the block ends."""
    run = SeminarRun(config, token, log)
    await run.start()
    try:
        yield run
    finally:
        await run.stop()


async def test_seminar_run_killed_in_a_burst_of_replies_and_restarted(
    emulator: DiscordEmulator, course: Course, tmp_path: Path, repo: Repository,
) -> None:
    two_lessons(tmp_path)
    config = course.write_config(emulator, tmp_path)
    async with seminar_run(config, emulator.token, tmp_path / "first.log") as first:
        await emulator.wait_until_connected(timeout=30)
        await emulator.wait_for(lambda: any(
            c["name"] == "schedule" for c in emulator.commands(course.guild_id)))
        posted = await course.schedule_post(emulator)
        assert seen(posted)[-1].startswith(f"Posted “{SEED_TITLE}”")
        threads = await lesson_threads(repo)
        async with Burst(emulator, course.students, threads) as burst:
            # The bot is writing the burst down, and more is waiting in its buffer...
            await until(lambda: repo_has_replies(repo))
            await burst.more(5)
            await first.kill()
            killed_at = len(burst.sent)
            # ...when it dies. Students keep answering; the second lesson falls due (the
            # config says it was due ten minutes ago, as if the bot had been down that long).
            await burst.more(20)
            config = course.write_config(emulator, tmp_path, [
                {"lesson": SECOND, "post_at": wall(minutes=-10)}])
            identifies = emulator.identify_count
            async with seminar_run(config, emulator.token, tmp_path / "second.log") as second:
                await emulator.wait_for(lambda: emulator.identify_count > identifies,
                                        timeout=30)
                await burst.more(20)  # while the restarted bot catches up
                await until(lambda: second_posted(repo))
                burst.threads += (await lesson_threads(repo))[len(threads):]
                await burst.more(20)
                await burst.__aexit__()
                every_thread = await lesson_threads(repo)
                await all_recorded(repo, emulator, every_thread)
                counts = await report(emulator, course)
                asked = await ask_lesson(emulator, course)
                await emulator.wait_for(lambda: emulator.messages(course.teacher_channel_id))
            assert await second.stop() == 0
    assert len(burst.sent) - killed_at >= 40  # written while the bot was dead or restarting
    expected = expected_numbers(emulator, every_thread)
    assert await recorded_numbers(repo) == expected
    recorded = await repo.replies.matching(COURSE, include_deleted=True)
    assert sorted(r.message_id for r in recorded) == (
        sorted(int(m["id"]) for m in burst.sent))
    assert counts == by_name(course, expected)
    assert asked.embeds[0]["title"] == SEED_TITLE  # the latest scheduled of the two
    assert_posted_once(emulator, course.class_channel_id, lessons=(SEED_TITLE, SECOND_TITLE))
    (told,) = emulator.messages(course.teacher_channel_id)
    assert f"“{SECOND_TITLE}” was due to be posted <t:" in told["content"]
    assert "while I was offline: I posted it now, 10 minutes late" in told["content"]
    assert "Traceback" not in second.text()


async def repo_has_replies(repo: Repository) -> bool:
    """Whether any reply is recorded yet."""
    return bool(await repo.replies.matching(COURSE, include_deleted=True))


# --- the database is locked for a while ---------------------------------------------------------

LOCK_SECONDS = 4.0  # longer than Discord's 3 s to answer an interaction
SKIPPED: tuple[PostStatus, ...] = ("skipped",)


@contextlib.asynccontextmanager
async def database_locked(path: Path) -> AsyncIterator[None]:
    """Another program holds the SQLite database's write lock (``BEGIN EXCLUSIVE``)."""
    holder = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    lock = threading.Lock()  # one statement at a time on the holder's connection

    def execute(sql: str) -> None:
        with lock:
            holder.execute(sql)

    await asyncio.to_thread(execute, "BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        await asyncio.to_thread(execute, "COMMIT")
        holder.close()


async def test_a_locked_database_delays_replies_posts_and_commands_but_loses_nothing(
    emulator: DiscordEmulator, course: Course, start_bot: StartBot, tmp_path: Path,
    repo: Repository, caplog: pytest.LogCaptureFixture,
) -> None:
    two_lessons(tmp_path)
    next_week = [{"lesson": SEED, "post_at": wall(days=7)}]
    settings = course.settings(emulator, tmp_path, next_week)
    student = course.students[0]
    visitor = emulator.add_member(course.guild_id, "visitor").user_id  # never replies
    async with start_bot(settings) as bot:
        bot.before_identify_hook = fast_identify  # type: ignore[method-assign]
        posted = await course.schedule_post(emulator)
        assert seen(posted)[-1].startswith(f"Posted “{SEED_TITLE}”")
        threads = await lesson_threads(repo)
        forget = await course.command(emulator, course.teacher_id, "forget",
                                      options={"student": visitor})
        question = forget.final()
        assert question is not None
        (confirm,) = [b for b in question.buttons() if b["label"].startswith("Delete")]
        async with Burst(emulator, course.students, threads) as burst:
            await burst.more(10)
            async with database_locked(tmp_path / "seminar.db"):
                # The second lesson falls due while nothing can be written...
                await post_second_lesson_now(bot, course, emulator, tmp_path, next_week)
                # ...and people use commands that write: they must still be answered in time.
                clicked = asyncio.create_task(emulator.click_button(
                    course.guild_id, course.class_channel_id, course.teacher_id,
                    question.id, confirm["custom_id"], timeout=20))
                writes = [
                    await course.command(emulator, student, "reminders", subcommand="off",
                                         wait=False),
                    await course.command(emulator, course.teacher_id, "schedule",
                                         subcommand="skip", options={"lesson": SEED},
                                         wait=False),
                ]
                during = await ask_lesson(emulator, course)  # a read answers at once
                # The gateway drops too: catching up from history must wait for the lock.
                identifies = emulator.identify_count
                async with emulator.gateway_outage(resumable=False):
                    await burst.more(10)
                await emulator.wait_for(lambda: emulator.identify_count > identifies)
                await asyncio.sleep(LOCK_SECONDS)  # the lock is the fault; replies keep coming
            writes.append(await clicked)
            for result in writes:
                await result.wait_settled(timeout=20)
            await until(lambda: second_posted(repo))
            burst.threads += (await lesson_threads(repo))[len(threads):]
            await burst.more(20)
        every_thread = await lesson_threads(repo)
        await all_recorded(repo, emulator, every_thread)
        counts = await report(emulator, course)
        opted_out = await repo.reminders.opted_out(COURSE)
        skipped = await repo.posts.matching(COURSE, statuses=SKIPPED)
    assert during.embeds[0]["title"] in (SEED_TITLE, SECOND_TITLE)
    assert [r.error for r in writes] == [None, None, None]
    reminders_off, skip, forgotten = (r.final() for r in writes)
    assert reminders_off is not None and reminders_off.content == (
        "Done: I won't ping you with reminders in History 101. Use /reminders on to get "
        "them again.")
    assert skip is not None and skip.content.startswith(f"Skipped “{SEED_TITLE}” on <t:")
    assert forgotten is not None and forgotten.content.startswith("Deleted the records of")
    assert opted_out == {student}
    assert [p.lesson for p in skipped] == [SEED]
    expected = expected_numbers(emulator, every_thread)
    assert await recorded_numbers(repo) == expected
    recorded = await repo.replies.matching(COURSE, include_deleted=True)
    assert sorted(r.message_id for r in recorded) == (
        sorted(int(m["id"]) for m in burst.sent))
    assert counts == by_name(course, expected)
    assert_posted_once(emulator, course.class_channel_id, lessons=(SEED_TITLE, SECOND_TITLE))
    assert emulator.messages(course.teacher_channel_id) == []
    for result in emulator.interactions:
        assert all(APOLOGY not in m.content for m in result.messages())
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []

async def test_a_database_locked_longer_than_the_bot_waits_is_caught_up_once_it_frees(
    emulator: DiscordEmulator, course: Course, start_bot: StartBot, tmp_path: Path,
    repo: Repository, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bot waits up to 30 s for a lock; here 0.3 s, so that a 3 s lock outlasts the wait
    # (a 31 s lock would make the test slow, not harsher).
    monkeypatch.setattr(bot.client.run, "create_engine",
                        functools.partial(create_engine, busy_timeout_ms=300))
    settings = course.settings(emulator, tmp_path)
    student = course.students[1]
    async with start_bot(settings) as seminar:
        seminar.before_identify_hook = fast_identify  # type: ignore[method-assign]
        posted = await course.schedule_post(emulator)
        assert seen(posted)[-1].startswith(f"Posted “{SEED_TITLE}”")
        threads = await lesson_threads(repo)
        async with Burst(emulator, course.students, threads) as burst:
            await burst.more(10)
            async with database_locked(tmp_path / "seminar.db"):
                # Replies the gateway never delivers: only catching up from history has them,
                # and it cannot write them down yet.
                identifies = emulator.identify_count
                async with emulator.gateway_outage(resumable=False):
                    await burst.more(15)
                await reconnected(emulator, False, identifies)
                refused = await course.command(emulator, student, "reminders",
                                               subcommand="off", timeout=20)
                await asyncio.sleep(LOCK_SECONDS - 1)  # the lock is the fault
            await burst.more(10)
        await all_recorded(repo, emulator, threads)
        again = await course.command(emulator, student, "reminders", subcommand="off")
        counts = await report(emulator, course)
    assert seen(refused) == [APOLOGY]  # a sentence, not a traceback
    assert seen(again)[-1].startswith("Done: I won't ping you with reminders")
    expected = expected_numbers(emulator, threads)
    assert await recorded_numbers(repo) == expected
    recorded = await repo.replies.matching(COURSE, include_deleted=True)
    assert sorted(r.message_id for r in recorded) == (
        sorted(int(m["id"]) for m in burst.sent))
    assert counts == by_name(course, expected)
    assert emulator.identify_count == 2  # caught up without waiting for another reconnect
    assert_posted_once(emulator, course.class_channel_id)


# --- killed half way through a post -----------------------------------------------------------


async def test_a_restart_finishes_a_half_done_post_at_once(
    emulator: DiscordEmulator, course: Course, tmp_path: Path, repo: Repository,
) -> None:
    # The lesson falls due as the bot starts. Its second question's message never gets an
    # answer (Discord asks to wait a minute): the bot is killed there, one thread of two open.
    config = course.write_config(emulator, tmp_path, [{"lesson": SEED, "post_at": wall()}])
    stuck = emulator.inject("POST", rf"^/channels/{course.class_channel_id}/messages$",
                            status=429, times=None, retry_after=60, after=2)
    async with seminar_run(config, emulator.token, tmp_path / "first.log") as first:
        await emulator.wait_for(lambda: len(emulator.threads(course.class_channel_id)) == 1
                                and stuck.hits >= 1, timeout=60)
        await first.kill()
    emulator.clear_injections()
    [claimed] = await repo.posts.matching(COURSE)
    assert claimed.status == "claimed"
    async with seminar_run(config, emulator.token, tmp_path / "second.log") as second:
        # Well inside the minute the dead process's lease still had to run.
        await emulator.wait_for(lambda: len(emulator.threads(course.class_channel_id)) == 2,
                                timeout=30)
        await until(lambda: post_is_posted(repo))
        assert await second.stop() == 0
    assert_posted_once(emulator, course.class_channel_id)
    [post] = await repo.posts.matching(COURSE)
    assert post.attempts == 2 and post.claimed_by != claimed.claimed_by
    log = second.text()
    assert (f"Taking over post {post.id} ({COURSE}, {SEED}) from {claimed.claimed_by}: its "
            "process is no longer running.") in log
    assert "Traceback" not in log


async def post_is_posted(repo: Repository) -> bool:
    return [p.status for p in await repo.posts.matching(COURSE)] == ["posted"]


# --- no route to Discord --------------------------------------------------------------------------


def free_port() -> int:
    """A port of 127.0.0.1 where nothing listens (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return cast(int, probe.getsockname()[1])


async def log_says(run: SeminarRun, text: str, count: int = 1) -> None:
    """Wait (up to 60 s) until the process's log holds ``text`` ``count`` times."""
    for _ in range(1200):
        if run.text().count(text) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} not logged {count} time(s):\n{run.text()}")


async def test_seminar_run_waits_for_discord_with_a_sentence_and_then_connects(
    tmp_path: Path, repo: Repository,
) -> None:
    # Discord cannot be reached yet (the network comes up after the bot, at boot): the
    # bot says where it tried and what to check, tries again, and connects once it can.
    emulator = DiscordEmulator(port=free_port())
    course = build_course(emulator)
    config = course.write_config(emulator, tmp_path)
    refused = (f"Cannot reach Discord at {emulator.api_base}: the connection was refused. "
               "Check this machine's network connection and DNS, and discord.api_base and "
               "discord.gateway_url in the config. Trying again in ")
    async with seminar_run(config, emulator.token, tmp_path / "run.log") as run:
        await log_says(run, refused, count=2)
        async with emulator:
            await emulator.wait_until_connected(timeout=60)
            answer = await ask_lesson(emulator, course)
        assert answer.embeds[0]["title"] == SEED_TITLE
        # Discord goes away while the bot runs: discord.py reconnects by itself, and each
        # failed try is one line with its reason, not a traceback.
        await log_says(run, "Lost the connection to Discord (the connection was refused). "
                            "Attempting a reconnect in ")
        identifies = emulator.identify_count
        async with emulator:
            await emulator.wait_for(lambda: emulator.identify_count > identifies
                                    or emulator.resume_count > 0, timeout=60)
            await emulator.wait_until_connected(timeout=60)
            again = await ask_lesson(emulator, course)
        assert again.embeds[0]["title"] == SEED_TITLE
        assert await run.stop() == 0
    assert "Traceback" not in run.text()


@pytest.mark.parametrize("command", ["sync", "run"])
async def test_no_route_to_discord_is_a_sentence_not_a_traceback(
    tmp_path: Path, command: str,
) -> None:
    emulator = DiscordEmulator(port=free_port())  # never started: nothing listens there
    config = build_course(emulator).write_config(emulator, tmp_path)
    env = {**os.environ, "DISCORD_TOKEN": emulator.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", command, "--config", str(config), cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    seen = b""
    if command == "run":  # it keeps trying, as a running bot should, until it is stopped
        assert process.stdout is not None
        while b"Trying again in 2 s." not in seen:
            line = await process.stdout.readline()
            assert line, seen.decode()
            seen += line
        process.send_signal(signal.SIGTERM)
    output, _ = await process.communicate()
    text = (seen + output).decode()
    assert process.returncode == (1 if command == "sync" else 0), text
    assert (f"Cannot reach Discord at {emulator.api_base}: the connection was refused. Check "
            "this machine's network connection and DNS") in text
    assert "Traceback" not in text and "aiohttp" not in text


def test_network_failures_are_named_in_words() -> None:
    from types import SimpleNamespace

    import aiohttp

    from bot.client.logs import network_reason

    key = SimpleNamespace(host="discord.com", port=443, ssl=True)
    dns = aiohttp.ClientConnectorError(key, socket.gaierror(-2, "Name or service not known"))
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    assert network_reason(dns) == "its name could not be looked up (DNS)"
    assert network_reason(refused) == "the connection was refused"
    assert network_reason(TimeoutError()) == "it did not answer in time"
    assert network_reason(OSError(101, "Network is unreachable")) == (
        "[Errno 101] Network is unreachable")
