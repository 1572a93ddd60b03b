"""Student replies in lesson threads are recorded exactly once, whatever the gateway does.

The real bot (``seminar run``'s start path) against the Discord emulator. A lesson is posted
the way the posting cog leaves it: a lesson message in the class channel, one message per
question with a thread, all recorded in the database, before the bot starts. Each test ends
by reading the per-student numbers from the database, as a teacher's report would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import discord
import pytest

from bot.client.bot import SeminarBot
from bot.cogs.participation import ParticipationCog
from bot.core.config import Settings
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.records import StudentTotals
from storage.repository import Repository
from tests.emulator import DiscordEmulator
from tests.emulator.model import INTENT_GUILD_MESSAGES
from tests.integration.conftest import COURSE, SEED, School, StartBot, make_settings, until
from tests.records import cursor

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass
class Students:
    alice: int
    bob: int
    carol: int


@dataclass
class PostedLesson:
    post_id: int
    threads: list[int]


@pytest.fixture
def students(emulator: DiscordEmulator, school: School) -> Students:
    bob = emulator.add_member(school.guild_id, username="bob", nick="Bob B.")
    carol = emulator.add_member(school.guild_id, username="carol")
    return Students(school.student_id, bob.user_id, carol.user_id)


@pytest.fixture
async def repo(settings: Settings) -> AsyncIterator[Repository]:
    """The bot's database, opened separately: what a report reads (also while the bot is off)."""
    engine = create_engine(settings.database.url)
    await upgrade_engine(engine)
    try:
        yield Repository(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def post_lesson(
    emulator: DiscordEmulator, repo: Repository, school: School, *, questions: int = 2,
    posted_at: dt.datetime | None = None, due_at: dt.datetime | None = None,
    lesson: str = SEED,
) -> PostedLesson:
    """Post a lesson as the posting cog does: a message, a message and thread per question."""
    posted_at = posted_at or utcnow() - HOUR
    due_at = due_at if due_at is not None else posted_at + 2 * DAY
    channel = emulator.state.channel(school.class_channel_id)
    bot_user = emulator.state.bot
    post_id = await repo.posts.claim(COURSE, lesson, posted_at, due_at, "test")
    assert post_id is not None
    message = emulator.create_message(channel, bot_user, {"content": f"Lesson {lesson}"}, [],
                                      created_at=posted_at)
    await repo.posts.record_message(post_id, school.class_channel_id, int(message["id"]))
    threads = []
    for index in range(questions):
        question = emulator.create_message(channel, bot_user, {"content": f"Q{index + 1}?"},
                                           [], created_at=posted_at)
        thread = emulator.add_thread(school.class_channel_id, f"Question {index + 1}",
                                     message_id=int(question["id"]), created_at=posted_at)
        await repo.posts.record_thread(post_id, index, thread.id, int(question["id"]),
                                 created_at=posted_at)
        threads.append(thread.id)
    await repo.posts.mark(post_id, "posted", now=posted_at)
    await emulator.gateway.flush()
    return PostedLesson(post_id, threads)




def recorded(repo: Repository, *messages: dict[str, Any]) -> Callable[[], Awaitable[bool]]:
    """A check: every one of these messages has a reply record."""

    async def check() -> bool:
        return all([await repo.replies.get(int(m["id"])) is not None for m in messages])

    return check


async def say(emulator: DiscordEmulator, thread_id: int, author: int, text: str,
              **options: Any) -> dict[str, Any]:
    return await emulator.user_message(thread_id, author, text, **options)


def numbers(summaries: list[StudentTotals]) -> dict[int, tuple[int, int, int, int]]:
    """Per student: replies, words, peer replies, late replies."""
    return {s.author_id: (s.replies, s.words, s.peer_replies, s.late_replies) for s in summaries}


def cog_of(bot: SeminarBot) -> ParticipationCog:
    cog = bot.get_cog("ParticipationCog")
    # discord.py loads an extension as a fresh module object: compare by name.
    assert cog is not None and type(cog).__name__ == ParticipationCog.__name__
    return cast(ParticipationCog, cog)


async def fast_identify(shard_id: int | None, *, initial: bool = False) -> None:
    """Re-IDENTIFY at once (Discord's 5 s identify spacing is not the subject here)."""


# --- live replies ------------------------------------------------------------------------------


async def test_replies_in_several_threads_by_several_students(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=2)
    q1, q2 = lesson.threads
    async with start_bot(settings):
        sent = [
            await say(emulator, q1, students.alice, "Stalin used terror to rule."),
            await say(emulator, q1, students.bob, "Fear kept people silent."),
            await say(emulator, q2, students.alice, "Putin needs a strong-state myth."),
            await say(emulator, q1, students.alice, "I also think propaganda mattered"),
            await say(emulator, q2, students.carol, "Hard to say."),
        ]
        await until(recorded(repo, *sent))
    summary = await repo.reports.summary(COURSE)
    assert numbers(summary) == {
        students.alice: (3, 5 + 5 + 5, 0, 0),
        students.bob: (1, 4, 0, 0),
        students.carol: (1, 3, 0, 0),
    }
    by_id = {s.author_id: s for s in summary}
    assert by_id[students.alice].questions_answered == 2
    assert by_id[students.bob].author_name == "Bob B."
    reply = await repo.replies.get(int(sent[0]["id"]))
    assert reply is not None
    assert (reply.thread_id, reply.question_index, reply.lesson) == (q1, 0, SEED)
    assert reply.char_count == len("Stalin used terror to rule.")
    assert reply.text is None  # the course does not store text


async def test_replies_written_during_a_burst_are_all_recorded_once(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    authors = [students.alice, students.bob, students.carol]
    async with start_bot(settings):
        sent = [await say(emulator, lesson.threads[0], authors[i % 3], f"reply number {i}")
                for i in range(250)]
        await until(recorded(repo, sent[-1], sent[0]))
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (84, 84 * 3, 0, 0),
        students.bob: (83, 83 * 3, 0, 0),
        students.carol: (83, 83 * 3, 0, 0),
    }


async def test_peer_replies_by_reply_and_by_mention(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    async with start_bot(settings):
        first = await say(emulator, thread, students.alice, "Memory of the purges is fading.")
        answer = await say(emulator, thread, students.bob, "I disagree with you.",
                           reply_to=int(first["id"]))
        mention = await say(emulator, thread, students.carol,
                            f"<@{students.bob}> has a point here.")
        own = await say(emulator, thread, students.alice, "To add to my point.",
                        reply_to=int(first["id"]))
        await until(recorded(repo, first, answer, mention, own))
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (2, 6 + 5, 0, 0),
        students.bob: (1, 4, 1, 0),
        students.carol: (1, 4, 1, 0),
    }
    bob_reply = await repo.replies.get(int(answer["id"]))
    assert bob_reply is not None
    assert (bob_reply.reply_to_message_id, bob_reply.reply_to_author_id) == (
        int(first["id"]), students.alice)
    carol_reply = await repo.replies.get(int(mention["id"]))
    assert carol_reply is not None and carol_reply.reply_to_author_id == students.bob
    own_reply = await repo.replies.get(int(own["id"]))
    assert own_reply is not None and own_reply.reply_to_author_id is None


async def test_only_a_students_own_words_count(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    async with start_bot(settings) as bot:
        question = bot.lessons[SEED].questions[0]  # the thread's question, as posted
        alice_text = "The state wants a strong leader in the history books, I think."
        copied = await say(emulator, thread, students.alice, f"{question} Fear, I think.")
        first = await say(emulator, thread, students.alice, alice_text)
        quoting = await say(emulator, thread, students.bob,
                            f"> {alice_text}\nYes yes yes, and fear too.",
                            reply_to=int(first["id"]))
        echo = await say(emulator, thread, students.carol,
                         "A strong leader in the history books matters less than bread.",
                         reply_to=int(first["id"]))
        code = await say(emulator, thread, students.bob, "See `this is code not prose` here.")
        await until(recorded(repo, copied, first, quoting, echo, code))
        await emulator.user_edit(thread, int(code["id"]), "See here here here here now.")

        async def edited() -> bool:
            reply = await repo.replies.get(int(code["id"]))
            return reply is not None and reply.edited_at is not None

        await until(edited)

    async def words(message: dict[str, Any]) -> int:
        reply = await repo.replies.get(int(message["id"]))
        assert reply is not None
        return reply.word_count

    assert await words(copied) == 3  # the question copied: only "Fear, I think"
    assert await words(first) == 12
    assert await words(quoting) == 4  # the quote left out, "yes yes yes" once
    assert await words(echo) == 4  # five words of the reply it answers left out
    assert await words(code) == 3  # after the edit: "See here now", the repeats once


async def test_a_reply_after_the_due_time_is_late(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    due = utcnow() - HOUR
    lesson = await post_lesson(emulator, repo, school, questions=1,
                               posted_at=due - 2 * DAY, due_at=due)
    thread = lesson.threads[0]
    async with start_bot(settings):
        on_time = await say(emulator, thread, students.alice, "Written before the deadline.",
                            created_at=due - DAY)
        late = await say(emulator, thread, students.bob, "Sorry this is late.")
        await until(recorded(repo, on_time, late))
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (1, 4, 0, 0),
        students.bob: (1, 4, 0, 1),
    }


async def test_an_edit_changes_the_counts(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    async with start_bot(settings):
        recorded_first = await say(emulator, thread, students.alice, "Too short.")
        await until(recorded(repo, recorded_first))
        await emulator.user_edit(thread, int(recorded_first["id"]),
                                 "Too short, so here is a longer answer.")

        async def edited() -> bool:
            reply = await repo.replies.get(int(recorded_first["id"]))
            return reply is not None and reply.word_count == 8

        await until(edited)
        # Edited while still waiting to be written: the written record has the new counts.
        quick = await say(emulator, thread, students.bob, "One.")
        await emulator.user_edit(thread, int(quick["id"]), "One two three.")
        await until(recorded(repo, quick))
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (1, 8, 0, 0),
        students.bob: (1, 3, 0, 0),
    }
    reply = await repo.replies.get(int(quick["id"]))
    assert reply is not None and reply.edited_at is not None and reply.text is None


async def test_a_deleted_reply_is_marked_not_erased(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    async with start_bot(settings) as bot:
        kept = await say(emulator, thread, students.alice, "This one stays.")
        gone = await say(emulator, thread, students.alice, "This one goes.")
        await until(recorded(repo, kept, gone))
        await emulator.user_delete(thread, int(gone["id"]))

        async def marked() -> bool:
            reply = await repo.replies.get(int(gone["id"]))
            return reply is not None and reply.deleted_at is not None

        await until(marked)
        # Deleted while still waiting to be written: written, then marked.
        quick = await say(emulator, thread, students.bob, "Oops wrong thread.")
        await emulator.user_delete(thread, int(quick["id"]))
        # A moderator clears two replies at once (a bulk delete).
        spam = [await say(emulator, thread, students.carol, f"spam {i}") for i in range(2)]
        await until(recorded(repo, *spam))
        channel = bot.get_channel(thread)
        assert isinstance(channel, discord.Thread)
        await channel.delete_messages([discord.Object(int(m["id"])) for m in spam])

        async def all_marked() -> bool:
            replies = [await repo.replies.get(int(m["id"])) for m in (quick, *spam)]
            return all(r is not None and r.deleted_at is not None for r in replies)

        await until(all_marked)
    assert numbers(await repo.reports.summary(COURSE)) == {students.alice: (1, 3, 0, 0)}
    everything = await repo.replies.matching(COURSE, include_deleted=True)
    assert len(everything) == 5


async def test_a_duplicated_message_event_is_recorded_once(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    channel = emulator.state.channel(thread)

    async def send_again(message: dict[str, Any]) -> None:
        emulator.gateway.dispatch("MESSAGE_CREATE", emulator.message_event(channel, message),
                                  guild_id=school.guild_id, intent=INTENT_GUILD_MESSAGES)
        await emulator.gateway.flush()

    async with start_bot(settings):
        message = await say(emulator, thread, students.alice, "Said once, delivered twice.")
        await send_again(message)  # while the first copy waits in the buffer
        await until(recorded(repo, message))
        await send_again(message)  # after it was written
        barrier = await say(emulator, thread, students.bob, "After the duplicates.")
        await until(recorded(repo, barrier))
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (1, 4, 0, 0),
        students.bob: (1, 3, 0, 0),
    }


async def test_only_student_messages_in_lesson_threads_are_recorded(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    other_bot = emulator.add_member(school.guild_id, username="quizbot", bot=True)
    chat = emulator.add_thread(school.class_channel_id, "Chat", owner_id=students.alice)
    async with start_bot(settings):
        outside = [
            await say(emulator, school.class_channel_id, students.alice, "In the channel."),
            await say(emulator, school.other_channel_id, students.bob, "Off topic."),
            await say(emulator, chat.id, students.carol, "A thread that is no lesson's."),
            await say(emulator, thread, other_bot.user_id, "Beep, I am a bot."),
        ]
        emulator.create_message(emulator.state.channel(thread), emulator.state.bot,
                                {"content": "Seminar's own note."}, [])
        barrier = await say(emulator, thread, students.alice, "The only reply.")
        await until(recorded(repo, barrier))
    assert numbers(await repo.reports.summary(COURSE)) == {students.alice: (1, 3, 0, 0)}
    for message in outside:
        assert await repo.replies.get(int(message["id"])) is None


@pytest.mark.parametrize("store_text", [False, True])
async def test_reply_text_is_stored_only_when_the_course_says_so(
    emulator: DiscordEmulator, school: School, students: Students, start_bot: StartBot,
    repo: Repository, tmp_path: Path, store_text: bool,
) -> None:
    settings = make_settings(emulator, school, tmp_path, store_text=store_text)
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    async with start_bot(settings):
        message = await say(emulator, thread, students.alice, "My private thoughts.")
        await until(recorded(repo, message))
        await emulator.user_edit(thread, int(message["id"]), "My edited thoughts, now longer.")

        async def edited() -> bool:
            reply = await repo.replies.get(int(message["id"]))
            return reply is not None and reply.word_count == 5

        await until(edited)
    reply = await repo.replies.get(int(message["id"]))
    assert reply is not None
    assert reply.text == ("My edited thoughts, now longer." if store_text else None)
    assert reply.char_count == len("My edited thoughts, now longer.")


async def test_replies_waiting_in_the_buffer_are_written_on_shutdown(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    async with start_bot(settings) as bot:
        cog = cog_of(bot)
        cog.recorder.buffer.max_delay = 3600.0  # no timed write: only shutdown writes it
        await emulator.wait_for(lambda: cog.catch_up.runs >= 1)  # start-up catch-up done
        message = await say(emulator, lesson.threads[0], students.alice, "Just in time.")
        await emulator.wait_for(lambda: int(message["id"]) in cog.recorder.buffer)
        assert await repo.replies.get(int(message["id"])) is None
    assert numbers(await repo.reports.summary(COURSE)) == {students.alice: (1, 3, 0, 0)}


async def test_replies_left_out_of_a_full_buffer_are_read_back_from_discord(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=2)
    q1, q2 = lesson.threads
    async with start_bot(settings) as bot:
        cog = cog_of(bot)
        await emulator.wait_for(lambda: cog.catch_up.runs >= 1)
        # The database is slow: nothing is written for now, and only 3 replies may wait.
        cog.recorder.buffer.max_delay = 3600.0
        cog.recorder.max_waiting = 3
        sent = [await say(emulator, (q1, q2)[i % 2], students.alice, f"Point number {i}.")
                for i in range(8)]
        await emulator.wait_for(lambda: cog.recorder.left_out == 5)
        assert len(cog.recorder.buffer) == 3
        # The database catches up: the 3 are written, the 5 left out are read back.
        cog.recorder.buffer.max_delay = 0.0
        assert await cog.recorder.flush()
        await until(recorded(repo, *sent))
    assert numbers(await repo.reports.summary(COURSE)) == {students.alice: (8, 8 * 3, 0, 0)}


async def test_a_thread_opened_while_running_is_read_from_its_start(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    async with start_bot(settings) as bot:
        lesson = await post_lesson(emulator, repo, school, questions=1)
        thread = lesson.threads[0]
        # Alice answers before the posting cog has announced the thread.
        early = await say(emulator, thread, students.alice, "First!")
        info = await repo.posts.thread_info(thread)
        assert info is not None
        bot.dispatch("seminar_thread_opened", info)
        later = await say(emulator, thread, students.bob, "Second, and longer.")
        await until(recorded(repo, early, later))
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (1, 1, 0, 0),
        students.bob: (1, 3, 0, 0),
    }


# --- outages and restarts ----------------------------------------------------------------------


async def test_a_resumable_outage_loses_nothing(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=2)
    q1, q2 = lesson.threads
    async with start_bot(settings):
        before = await say(emulator, q1, students.alice, "Before the outage.")
        async with emulator.gateway_outage(resumable=True):
            during = [await say(emulator, q1, students.bob, "Written while the bot was away."),
                      await say(emulator, q2, students.carol, "Me too.")]
        await emulator.wait_for(lambda: emulator.resume_count == 1)
        after = await say(emulator, q2, students.alice, "After it.")
        await until(recorded(repo, before, *during, after))
    assert emulator.identify_count == 1
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (2, 3 + 2, 0, 0),
        students.bob: (1, 6, 0, 0),
        students.carol: (1, 2, 0, 0),
    }


async def test_a_resume_with_nothing_missed_reads_no_history(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    # Discord's rate limits on (the real clock: discord.py waits as the headers say).
    emulator.rate_limits.enabled = True
    lesson = await post_lesson(emulator, repo, school, questions=3)
    async with start_bot(settings) as bot:
        catch_up = _catch_up(bot)
        await until(lambda: _ready(catch_up.runs >= 1))
        first = await say(emulator, lesson.threads[0], students.alice, "Before the outage.")
        await until(recorded(repo, first))
        read_at_start = len(emulator.calls_to("GET", READ_HISTORY))

        async with emulator.gateway_outage(resumable=True):
            pass  # nothing happens while the bot is away
        await emulator.wait_for(lambda: emulator.resume_count == 1)
        await until(lambda: _ready(catch_up.runs >= 2))
        after_quiet_resume = len(emulator.calls_to("GET", READ_HISTORY))

        # Away again; this time a student writes: the resume replays it, and still only
        # what was missed is read (here: nothing, the replay brought it).
        async with emulator.gateway_outage(resumable=True):
            during = await say(emulator, lesson.threads[1], students.bob, "While you were away.")
        await emulator.wait_for(lambda: emulator.resume_count == 2)
        await until(lambda: _ready(catch_up.runs >= 3))
        await until(recorded(repo, during))
        after_busy_resume = len(emulator.calls_to("GET", READ_HISTORY))

    # At start the three threads held no message, and no reply to reconcile: none was read.
    assert read_at_start == 0
    assert after_quiet_resume == read_at_start  # no history request for a quiet resume
    assert after_busy_resume == read_at_start
    assert catch_up.skipped >= 9  # three threads, three times
    assert all(c.status != 500 for c in emulator.calls)


READ_HISTORY = r"^/channels/\d+/messages$"


def _catch_up(bot: SeminarBot) -> Any:
    cog = bot.get_cog("ParticipationCog")
    assert cog is not None
    return cog.catch_up  # type: ignore[attr-defined]


async def _ready(value: bool) -> bool:
    return value


async def test_an_outage_without_resume_is_caught_up_from_history(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=2)
    q1, q2 = lesson.threads
    async with start_bot(settings) as bot:
        bot.before_identify_hook = fast_identify  # type: ignore[method-assign]
        before = await say(emulator, q1, students.alice, "Before the outage.")
        await until(recorded(repo, before))
        async with emulator.gateway_outage(resumable=False):
            missed = [await say(emulator, q1, students.bob, "Nobody saw this live."),
                      await say(emulator, q2, students.carol, "Nor this.", reply_to=None),
                      await say(emulator, q2, students.alice, "Nor this one.")]
        await emulator.wait_for(lambda: emulator.identify_count == 2)
        after = await say(emulator, q1, students.carol, "Back again.")
        await until(recorded(repo, *missed, after))
        read_to = await cursor(repo, q2)
    assert emulator.resume_count == 0  # the missed messages came from history, not a replay
    assert read_to is not None and read_to >= int(missed[2]["id"])
    assert numbers(await repo.reports.summary(COURSE)) == {
        students.alice: (2, 3 + 3, 0, 0),
        students.bob: (1, 4, 0, 0),
        students.carol: (2, 2 + 2, 0, 0),
    }


async def test_replies_made_while_the_bot_was_down_are_recorded_once_after_restart(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=2)
    q1, q2 = lesson.threads
    async with start_bot(settings):
        first = await say(emulator, q1, students.alice, "While the bot runs.")
        await until(recorded(repo, first))
    # The bot is down: students keep answering, then a moderator archives question 2.
    down = [await say(emulator, q1, students.bob, f"Offline answer {i}.") for i in range(3)]
    down.append(await say(emulator, q2, students.carol, "Question two answer.",
                          reply_to=None))
    down.append(await say(emulator, q2, students.alice, "Replying to Carol.",
                          reply_to=int(down[-1]["id"])))
    await emulator.user_update_thread(q2, archived=True)
    async with start_bot(settings):
        await until(recorded(repo, *down))
    expected = {
        students.alice: (2, 4 + 3, 1, 0),
        students.bob: (3, 9, 0, 0),
        students.carol: (1, 3, 0, 0),
    }
    assert numbers(await repo.reports.summary(COURSE)) == expected
    # Another restart reads the same history again and records nothing twice.
    async with start_bot(settings) as bot:
        await emulator.wait_for(lambda: cog_of(bot).catch_up.runs >= 1)
    assert numbers(await repo.reports.summary(COURSE)) == expected


async def test_a_closed_discussion_keeps_only_replies_written_while_it_was_open(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    due = utcnow() - 8 * DAY  # closed a day ago (a week after due), still read for a week
    lesson = await post_lesson(emulator, repo, school, questions=1,
                               posted_at=due - 2 * DAY, due_at=due)
    thread = lesson.threads[0]
    # Written before the deadline, while the bot was down: caught up at start-up.
    on_time = await say(emulator, thread, students.alice, "On time.", created_at=due - DAY)
    late = await say(emulator, thread, students.bob, "Late but open.", created_at=due + DAY)
    async with start_bot(settings) as bot:
        await until(recorded(repo, on_time, late))
        too_late = await say(emulator, thread, students.carol, "Long after it closed.")
        barrier_lesson = await post_lesson(emulator, repo, school, questions=1,
                                           lesson="another-lesson")
        info = await repo.posts.thread_info(barrier_lesson.threads[0])
        assert info is not None
        bot.dispatch("seminar_thread_opened", info)
        barrier = await say(emulator, barrier_lesson.threads[0], students.alice, "Fresh.")
        await until(recorded(repo, barrier))
    assert await repo.replies.get(int(too_late["id"])) is None
    assert numbers(await repo.reports.summary(COURSE, lesson=SEED)) == {
        students.alice: (1, 2, 0, 0),
        students.bob: (1, 3, 0, 1),
    }


# --- edits and deletions nobody heard ------------------------------------------------------------

TWELVE_WORDS = "Now a real answer: the purges silenced everyone who might have objected."


def history_reads(emulator: DiscordEmulator, thread_id: int) -> int:
    return len(emulator.calls_to("GET", rf"^/channels/{thread_id}/messages$"))


async def test_edits_and_deletions_made_while_the_bot_was_down_reach_the_records(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=1)
    thread = lesson.threads[0]
    # Written before the bot first starts: read back from history, so the cursor passes them.
    draft = await say(emulator, thread, students.alice, "Draft.")
    carols = await say(emulator, thread, students.carol, "Carol's first answer here.")
    async with start_bot(settings) as bot:
        await emulator.wait_for(lambda: cog_of(bot).catch_up.runs >= 1)
        bobs = await say(emulator, thread, students.bob, "Wrong thread, sorry.")  # live
        await until(recorded(repo, draft, carols, bobs))
    assert (await cursor(repo, thread) or 0) >= int(carols["id"])
    # While the bot is stopped: Alice turns her draft into an answer, Carol and Bob delete.
    await emulator.user_edit(thread, int(draft["id"]), TWELVE_WORDS)
    await emulator.user_delete(thread, int(carols["id"]))
    await emulator.user_delete(thread, int(bobs["id"]))
    emulator.calls.clear()
    async with start_bot(settings) as bot:
        await emulator.wait_for(lambda: cog_of(bot).catch_up.runs >= 1)
        reads = history_reads(emulator, thread)
    assert numbers(await repo.reports.summary(COURSE)) == {students.alice: (1, 12, 0, 0)}
    alice = await repo.replies.get(int(draft["id"]))
    assert alice is not None and alice.edited_at is not None and alice.deleted_at is None
    for gone in (carols, bobs):  # marked, not erased: still in the students' own data
        record = await repo.replies.get(int(gone["id"]))
        assert record is not None and record.deleted_at is not None
    assert reads == 1  # a thread of fewer than 100 messages costs one history request
    # Another restart finds nothing new and changes nothing.
    async with start_bot(settings) as bot:
        await emulator.wait_for(lambda: cog_of(bot).catch_up.runs >= 1)
    assert numbers(await repo.reports.summary(COURSE)) == {students.alice: (1, 12, 0, 0)}


async def test_edits_and_deletions_during_a_lost_session_reach_the_records(
    emulator: DiscordEmulator, school: School, students: Students, settings: Settings,
    start_bot: StartBot, repo: Repository,
) -> None:
    lesson = await post_lesson(emulator, repo, school, questions=2)
    q1, q2 = lesson.threads
    async with start_bot(settings) as bot:
        bot.before_identify_hook = fast_identify  # type: ignore[method-assign]
        await emulator.wait_for(lambda: cog_of(bot).catch_up.runs >= 1)
        short = await say(emulator, q1, students.alice, "Yes.")
        doomed = await say(emulator, q2, students.bob, "A reply Bob will take back.")
        kept = await say(emulator, q2, students.carol, "Carol keeps this one.")
        await until(recorded(repo, short, doomed, kept))
        runs = cog_of(bot).catch_up.runs
        async with emulator.gateway_outage(resumable=False):  # nothing is replayed after it
            await emulator.user_edit(q1, int(short["id"]), TWELVE_WORDS)
            await emulator.user_delete(q2, int(doomed["id"]))
        await emulator.wait_for(lambda: cog_of(bot).catch_up.runs > runs)

        async def caught_up() -> bool:
            return numbers(await repo.reports.summary(COURSE)) == {
                students.alice: (1, 12, 0, 0), students.carol: (1, 4, 0, 0)}

        await until(caught_up)
    assert emulator.resume_count == 0
    record = await repo.replies.get(int(doomed["id"]))
    assert record is not None and record.deleted_at is not None
