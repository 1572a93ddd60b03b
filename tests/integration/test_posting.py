"""Scheduled posting with the real bot and client against the Discord emulator.

Calendar entries a couple of seconds ahead (or behind, for downtime) stand in for the weekly
times a course really uses. The bot starts through ``seminar run``'s own path.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.client.bot import SeminarBot
from bot.cogs.posting import PostingCog
from bot.core.config import Settings, parse_settings
from storage.engine import create_engine
from storage.models import LessonPost
from storage.records import Post, ThreadInfo, utcnow
from storage.repository import Repository
from tests.emulator import ActionRejected, DiscordEmulator
from tests.emulator.model import SEND_MESSAGES
from tests.integration.conftest import PROMPTS, SEED, StartBot, until
from tests.records import audit_log

T = TypeVar("T")
ZONE = ZoneInfo("America/New_York")
COURSE = "history-101"
SEED_TITLE = "Stalin’s Crimes and Russia’s Future"
QUESTIONS = [
    "Why is Vladimir Putin trying to rehabilitate Josef Stalin’s image?",
    "Can Vladimir Putin succeed in improving Stalin’s image?",
]
TRANSCRIPT_ID = f"seminar:transcript:{SEED}"


@dataclass
class Room:
    """A server with a class channel, a teachers' channel, a teacher and a student."""

    guild_id: int
    class_channel_id: int
    teacher_channel_id: int
    teacher_role_id: int
    teacher_id: int
    student_id: int


@pytest.fixture
def room(emulator: DiscordEmulator) -> Room:
    guild = emulator.add_guild(name="Lincoln High")
    role = emulator.add_role(guild.id, "Teacher")
    class_channel = emulator.add_text_channel(guild.id, "history-101")
    teachers = emulator.add_text_channel(guild.id, "teachers")
    teacher = emulator.add_member(guild.id, "ms-rivera", roles=[role.id])
    student = emulator.add_member(guild.id, "alice")
    return Room(guild.id, class_channel.id, teachers.id, role.id, teacher.user_id,
                student.user_id)


def wall(**delta: float) -> str:
    """The course's local wall time ``delta`` from now, as a config file writes it."""
    moment = (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).astimezone(ZONE)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def entry(post: dict[str, float], due: dict[str, float] | None = None,
          lesson: str = SEED) -> dict[str, Any]:
    """A calendar entry posting ``lesson`` at now + ``post`` (due at now + ``due``)."""
    found: dict[str, Any] = {"lesson": lesson, "post_at": wall(**post)}
    if due is not None:
        found["due_at"] = wall(**due)
    return found


def course(room: Room, entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": "History 101",
        "guild_id": room.guild_id,
        "channel_id": room.class_channel_id,
        "teacher_channel_id": room.teacher_channel_id,
        "teacher_role_id": room.teacher_role_id,
        "timezone": "America/New_York",
        "calendar": {"entries": entries},
        **extra,
    }


def config(emulator: DiscordEmulator, tmp_path: Path, courses: dict[str, Any]) -> Settings:
    return parse_settings({
        "discord": {"api_base": emulator.api_base, "gateway_url": emulator.gateway_url},
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'seminar.db'}"},
        "lessons": {"folder": str(PROMPTS)},
        "log_level": "DEBUG",
        "courses": courses,
    })


def repo_of(bot: SeminarBot) -> Repository:
    assert bot.repository is not None
    return bot.repository


def cog_of(bot: SeminarBot) -> PostingCog:
    """The running bot's posting cog (its module is loaded afresh by each bot)."""
    cog = bot.get_cog("Posting")
    assert type(cog).__name__ == "PostingCog"
    return cast(PostingCog, cog)




async def settled(repo: Repository, course_key: str = COURSE, count: int = 1) -> list[Post]:
    """Wait until ``count`` posts of a course are no longer being posted; those posts."""
    async def done() -> list[Post] | None:
        posts = await repo.posts.matching(course_key)
        finished = [p for p in posts if p.status != "claimed"]
        return finished if len(finished) >= count else None
    return await until(done)


def bot_messages(emulator: DiscordEmulator, channel_id: int) -> list[dict[str, Any]]:
    return [m for m in emulator.messages(channel_id)
            if int(m["author"]["id"]) == emulator.bot_user_id]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for row in message.get("components") or [] for item in row["components"]]


@contextlib.asynccontextmanager
async def recording(bot: SeminarBot) -> AsyncIterator[dict[str, list[Any]]]:
    """The seminar_* events the bot dispatches while the block runs."""
    seen: dict[str, list[Any]] = {"threads": [], "posts": []}

    async def thread_opened(info: ThreadInfo) -> None:
        seen["threads"].append(info)

    async def lesson_posted(post: Post) -> None:
        seen["posts"].append(post)

    bot.add_listener(thread_opened, "on_seminar_thread_opened")
    bot.add_listener(lesson_posted, "on_seminar_lesson_posted")
    try:
        yield seen
    finally:
        bot.remove_listener(thread_opened, "on_seminar_thread_opened")
        bot.remove_listener(lesson_posted, "on_seminar_lesson_posted")


async def backdate_claims(settings: Settings, minutes: float) -> None:
    """Make every open claim look ``minutes`` old: its process died that long ago."""
    engine = create_engine(settings.database.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(LessonPost).where(LessonPost.status == "claimed").values(
                    claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)))
    finally:
        await engine.dispose()


def assert_one_complete_text_post(emulator: DiscordEmulator, channel_id: int) -> None:
    """One lesson message and one message per question, each question with its thread."""
    messages = bot_messages(emulator, channel_id)
    titles = [m["embeds"][0]["title"] for m in messages]
    assert titles == [SEED_TITLE, "Question 1 of 2", "Question 2 of 2"]
    threads = emulator.threads(channel_id)
    assert [t["name"] for t in threads] == [f"Q1: {QUESTIONS[0]}", f"Q2: {QUESTIONS[1]}"]
    # In Discord a thread opened from a message has that message's id.
    assert [t["id"] for t in threads] == [m["id"] for m in messages[1:]]


# --- on schedule -------------------------------------------------------------------------


async def test_a_lesson_due_in_two_seconds_is_posted_once_with_a_thread_per_question(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [
        entry({"seconds": 2}, due={"days": 2})])})
    async with start_bot(settings) as bot, recording(bot) as seen:
        (post,) = await settled(repo_of(bot))
        assert post.status == "posted" and not post.late
        await emulator.wait_for(lambda: len(seen["posts"]) == 1)
        assert [t.question_index for t in seen["threads"]] == [0, 1]

        assert_one_complete_text_post(emulator, room.class_channel_id)
        lesson = bot_messages(emulator, room.class_channel_id)[0]
        assert post.message_id == int(lesson["id"])
        (embed,) = lesson["embeds"]
        assert embed["title"] == SEED_TITLE
        assert embed["description"].startswith("To legitimize his authoritarian agenda")
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Published"] == "August 10, 2021"
        due = int(post.due_at.timestamp()) if post.due_at else 0
        assert fields["Due"] == f"<t:{due}:F> (<t:{due}:R>)"
        links = [b["url"] for b in buttons(lesson) if b.get("style") == 5]
        assert links[0] == "https://www.hoover.org/research/russias-re-stalinization"
        assert len(links) == 3
        assert [b["label"] for b in buttons(lesson) if b.get("custom_id")] == ["Transcript"]
        for thread in emulator.threads(room.class_channel_id):
            assert thread["thread_metadata"]["auto_archive_duration"] == 10080
        assert {t.thread_id for t in seen["threads"]} == {
            int(t["id"]) for t in emulator.threads(room.class_channel_id)}

        clicked = await emulator.click_button(room.guild_id, room.class_channel_id,
                                              room.student_id, int(lesson["id"]), TRANSCRIPT_ID)
        assert clicked.ephemeral
        (attachment,) = clicked.attachments
        assert attachment["filename"] == f"{SEED}-transcript.txt"
        assert emulator.attachment_content(attachment).decode().startswith(SEED_TITLE)

    # Restarted: the post is recorded, so nothing is posted again.
    async with start_bot(settings) as bot:
        await cog_of(bot).scheduler.run_due(utcnow())
        assert len(await repo_of(bot).posts.matching(COURSE)) == 1
        # The Transcript button still answers after the restart (it is persistent).
        again = await emulator.click_button(room.guild_id, room.class_channel_id,
                                            room.student_id, int(lesson["id"]), TRANSCRIPT_ID)
        assert again.ephemeral and again.attachments
    assert_one_complete_text_post(emulator, room.class_channel_id)
    assert emulator.messages(room.teacher_channel_id) == []


async def test_in_a_forum_each_question_is_a_tagged_post(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    forum = emulator.add_forum_channel(room.guild_id, "discussions",
                                       tags=["Announcements", "Question"])
    tags = {t["name"]: int(t["id"]) for t in emulator.channel(forum.id)["available_tags"]}
    settings = config(emulator, tmp_path, {COURSE: course(
        room, [entry({"seconds": 2})], channel_id=forum.id)})
    async with start_bot(settings) as bot:
        (post,) = await settled(repo_of(bot))
        assert post.status == "posted"
        threads = emulator.threads(forum.id)
        assert [t["name"] for t in threads] == [
            SEED_TITLE, f"Q1: {QUESTIONS[0]}", f"Q2: {QUESTIONS[1]}"]
        assert [t["applied_tags"] for t in threads] == [
            [str(tags["Announcements"])], [str(tags["Question"])], [str(tags["Question"])]]
        assert post.message_id == int(threads[0]["id"])
        recorded = await repo_of(bot).posts.threads_of(post.id)
        assert [t.thread_id for t in recorded] == [int(t["id"]) for t in threads[1:]]
        for number, thread in enumerate(threads[1:], 1):
            (starter,) = emulator.messages(int(thread["id"]))
            assert starter["embeds"][0]["title"] == f"Question {number} of 2"
            assert thread["thread_metadata"]["auto_archive_duration"] == 10080
        (lesson,) = emulator.messages(int(threads[0]["id"]))
        assert lesson["embeds"][0]["title"] == SEED_TITLE
        assert "Transcript" in [b.get("label") for b in buttons(lesson)]


# --- restarts and retries ------------------------------------------------------------------


async def test_a_restart_in_the_middle_of_a_post_completes_it_without_duplicates(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [entry({"seconds": 2})])})
    # Discord holds the first thread back for a minute: the bot is stopped while it waits,
    # after the lesson message and the first question's message went out.
    emulator.inject("POST", r"/channels/\d+/messages/\d+/threads$", status=429,
                    retry_after=60)
    async with start_bot(settings) as bot:
        await emulator.wait_for(lambda: any(c.injected for c in emulator.calls_to(
            "POST", r"/messages/\d+/threads$")))
        (post,) = await repo_of(bot).posts.matching(COURSE)
        assert post.status == "claimed" and post.message_id is not None
    assert len(bot_messages(emulator, room.class_channel_id)) == 2
    assert emulator.threads(room.class_channel_id) == []

    # The process "died" three minutes ago, and long enough ago that Discord forgot the
    # nonces: the new process must find what was sent by reading the channel back.
    await backdate_claims(settings, minutes=3)
    emulator.nonce_window = 0
    async with start_bot(settings) as bot:
        (post,) = await settled(repo_of(bot))
        assert post.status == "posted" and post.attempts == 2
        assert post.message_id == int(bot_messages(emulator, room.class_channel_id)[0]["id"])
        assert len(await repo_of(bot).posts.threads_of(post.id)) == 2
    assert_one_complete_text_post(emulator, room.class_channel_id)


async def test_a_send_whose_answer_was_lost_is_retried_with_the_same_nonce(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [entry({"seconds": 3})])})
    # Discord creates the lesson message, then the answer is lost (a 503).
    emulator.inject("POST", rf"/channels/{room.class_channel_id}/messages$", status=503,
                    perform=True)
    async with start_bot(settings) as bot:
        cog_of(bot).poster.retry_delays = (0.1, 0.1)
        (post,) = await settled(repo_of(bot))
        assert post.status == "posted"
    sends = emulator.calls_to("POST", rf"/channels/{room.class_channel_id}/messages$")
    assert [c.status for c in sends[:2]] == [503, 200]
    assert sends[0].json["nonce"] == sends[1].json["nonce"]
    assert_one_complete_text_post(emulator, room.class_channel_id)


async def test_two_bots_on_one_database_post_once(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [])})
    async with start_bot(settings) as first, start_bot(settings) as second:
        cogs = [cog_of(first), cog_of(second)]
        assert cogs[0].poster.claimant != cogs[1].poster.claimant
        # The same calendar change reaches both processes; both wake for the same post.
        changed = settings.model_copy(update={"courses": {COURSE: parse_settings({
            "courses": {COURSE: course(room, [entry({"seconds": 1})])}}).courses[COURSE]}})
        first.settings = second.settings = changed
        first.dispatch("seminar_calendar_changed")
        second.dispatch("seminar_calendar_changed")
        (post,) = await settled(repo_of(first))
        assert post.status == "posted"
        await asyncio.gather(*(cog.scheduler.run_due(utcnow()) for cog in cogs))
        assert len(await repo_of(second).posts.matching(COURSE)) == 1
    assert_one_complete_text_post(emulator, room.class_channel_id)


async def test_a_post_waiting_longer_than_its_lease_is_renewed_not_taken_over(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [])})
    # Discord makes the first question's thread wait 3 s: longer than the (shortened) lease.
    waited = emulator.inject("POST", r"/threads$", status=429, retry_after=3)
    async with start_bot(settings) as first, start_bot(settings) as second:
        cogs = [cog_of(first), cog_of(second)]
        for cog in cogs:
            cog.scheduler.stale_after = dt.timedelta(seconds=1)
            cog.poster.renew_every = dt.timedelta(seconds=0.2)
        changed = settings.model_copy(update={"courses": {COURSE: parse_settings({
            "courses": {COURSE: course(room, [entry({"seconds": 1})])}}).courses[COURSE]}})
        first.settings = second.settings = changed
        first.dispatch("seminar_calendar_changed")
        second.dispatch("seminar_calendar_changed")
        await emulator.wait_for(lambda: waited.hits == 1)
        # While the holder waits, the other process wakes each time the lease would lapse
        # and finds it renewed, so it never takes the post over.
        (post,) = await settled(repo_of(first))
        assert post.status == "posted" and post.attempts == 1
    assert_one_complete_text_post(emulator, room.class_channel_id)


# --- downtime -------------------------------------------------------------------------------


async def test_downtime_follows_catch_up_and_the_teacher_is_told(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [
        entry({"hours": -1}),        # an hour late: posted, with a note
        entry({"hours": -13}),       # beyond the 12 hours catch_up allows: skipped
        entry({"days": -10}),        # before the 7-day look-back: left alone
    ])})
    async with start_bot(settings) as bot:
        posts = await settled(repo_of(bot), count=2)
        await emulator.wait_for(lambda: emulator.messages(room.teacher_channel_id))
    by_status = {p.status: p for p in posts}
    assert set(by_status) == {"posted", "skipped"}
    posted, skipped = by_status["posted"], by_status["skipped"]
    assert posted.late
    assert skipped.reason == ("missed while the bot was offline (13 hours late, more than the "
                              "12 hours catch_up allows)")

    lesson = bot_messages(emulator, room.class_channel_id)[0]
    scheduled = int(posted.scheduled_at.timestamp())
    assert lesson["content"] == (f"Posted late: this lesson was scheduled for <t:{scheduled}:F>,"
                                 " while I was offline.")
    assert_one_complete_text_post(emulator, room.class_channel_id)

    (told,) = emulator.messages(room.teacher_channel_id)
    skipped_at = int(skipped.scheduled_at.timestamp())
    assert f"was due to be posted <t:{scheduled}:F> while I was offline: I posted it now, " \
           "60 minutes late, with a note saying so." in told["content"]
    assert f"was due to be posted <t:{skipped_at}:F>, but I skipped it: missed while the bot " \
           "was offline (13 hours late" in told["content"]
    assert f"`/schedule post {SEED}`" in told["content"]


async def test_skip_mode_skips_a_missed_post_and_dms_the_teacher_without_a_channel(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(
        room, [entry({"minutes": -30})], teacher_channel_id=None,
        catch_up={"mode": "skip"})})
    async with start_bot(settings) as bot:
        (post,) = await settled(repo_of(bot))
        await emulator.wait_for(lambda: emulator.dms(room.teacher_id))
    assert post.status == "skipped"
    assert bot_messages(emulator, room.class_channel_id) == []
    (dm,) = emulator.dms(room.teacher_id)
    assert "I skipped it: missed while the bot was offline (30 minutes late); the course's " \
           "catch_up mode is 'skip'" in dm["content"]
    assert emulator.dms(room.student_id) == []


# --- refusals ---------------------------------------------------------------------------------


async def test_a_403_fails_that_post_tells_the_teacher_and_other_courses_still_post(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    art = emulator.add_text_channel(room.guild_id, "art-201")
    emulator.set_bot_permissions(room.guild_id, room.class_channel_id, deny=SEND_MESSAGES)
    settings = config(emulator, tmp_path, {
        COURSE: course(room, [entry({"seconds": 2})]),
        "art-201": {**course(room, [entry({"seconds": 2})]), "name": "Art 201",
                    "channel_id": art.id},
    })
    async with start_bot(settings) as bot:
        (failed,) = await settled(repo_of(bot), COURSE)
        (posted,) = await settled(repo_of(bot), "art-201")
        await emulator.wait_for(lambda: len(emulator.messages(room.teacher_channel_id)) >= 2)
        audit = await audit_log(repo_of(bot), COURSE)
    assert posted.status == "posted"
    assert_one_complete_text_post(emulator, art.id)

    assert failed.status == "failed"
    sentence = ("I am missing the 'Send Messages' permission in #history-101. Ask a server "
                f"admin to give it to me. Once that is fixed, use `/schedule post {SEED}` to "
                "post it.")
    assert failed.reason == sentence
    # The start-up check told the teacher first, before the lesson was due; then the post.
    notice, told = emulator.messages(room.teacher_channel_id)
    assert notice["content"].startswith("⚠️ 1 set-up problem(s) for History 101")
    assert "the bot lacks 'Send Messages'" in notice["content"]
    assert "Send Messages: to post lessons" in notice["content"]
    assert told["content"] == f"I could not post “{SEED_TITLE}”. {sentence}"
    assert [a.action for a in audit] == ["post_failed"]
    refused = emulator.calls_to("POST", rf"/channels/{room.class_channel_id}/messages$")
    assert [c.status for c in refused] == [403]


async def test_discord_failing_on_every_try_fails_the_post_with_a_sentence(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [entry({"seconds": 3})])})
    emulator.inject("POST", rf"/channels/{room.class_channel_id}/messages$", status=503,
                    times=None)
    async with start_bot(settings) as bot:
        cog_of(bot).poster.retry_delays = (0.1, 0.1)
        (post,) = await settled(repo_of(bot))
        await emulator.wait_for(lambda: emulator.messages(room.teacher_channel_id))
    assert post.status == "failed"
    assert post.reason == ("Discord kept answering 503 after 3 tries, so I stopped. Once that "
                           f"is fixed, use `/schedule post {SEED}` to post it.")
    assert bot_messages(emulator, room.class_channel_id) == []


# --- due time -------------------------------------------------------------------------------


async def test_lock_at_due_locks_the_threads_at_the_due_time(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(
        room, [entry({"seconds": 1}, due={"seconds": 3})], lock_at_due=True)})
    async with start_bot(settings) as bot:
        (post,) = await settled(repo_of(bot))
        thread_ids = [t.thread_id for t in await repo_of(bot).posts.threads_of(post.id)]
        await emulator.wait_for(lambda: all(
            emulator.channel(t)["thread_metadata"]["locked"] for t in thread_ids))

        async def recorded_locked() -> bool:
            return all(t.locked for t in await repo_of(bot).posts.threads_of(post.id))

        await until(recorded_locked)
        with pytest.raises(ActionRejected):
            await emulator.user_message(thread_ids[0], room.student_id, "Too late?")
        audit = await audit_log(repo_of(bot), COURSE)
    assert "threads_locked" in [a.action for a in audit]
    for thread_id in thread_ids:
        assert emulator.channel(thread_id)["thread_metadata"]["archived"]


# --- /schedule ---------------------------------------------------------------------------------


async def test_schedule_commands_for_a_teacher_and_refused_for_a_student(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(
        room, [entry({"days": 3}, due={"days": 10})])})
    emulator.allow_command(room.guild_id, "schedule", role_id=room.teacher_role_id)
    emulator.allow_command(room.guild_id, "schedule", user_id=room.student_id)

    async def schedule(user_id: int, sub: str, **options: str) -> Any:
        return await emulator.invoke_command(room.guild_id, room.class_channel_id, user_id,
                                             "schedule", options=options or None,
                                             subcommand=sub)

    async with start_bot(settings) as bot:
        listed = await schedule(room.teacher_id, "list")
        assert listed.ephemeral
        assert listed.content.startswith("**History 101: upcoming posts**\n• <t:")
        assert f"{SEED_TITLE} (`{SEED}`), due <t:" in listed.content
        assert "Nothing has been posted yet." in listed.content

        posted = await schedule(room.teacher_id, "post", lesson=SEED)
        assert posted.ephemeral
        message = re.search(r"https://discord.com/channels/(\d+)/(\d+)/(\d+)", posted.content)
        assert message is not None
        assert [int(g) for g in message.groups()] == [
            room.guild_id, room.class_channel_id,
            int(bot_messages(emulator, room.class_channel_id)[0]["id"])]
        assert "It is also scheduled for <t:" in posted.content
        assert_one_complete_text_post(emulator, room.class_channel_id)

        skipped = await schedule(room.teacher_id, "skip", lesson=SEED)
        assert skipped.ephemeral
        assert skipped.content.startswith(f"Skipped “{SEED_TITLE}” on <t:")
        upcoming = await repo_of(bot).posts.matching(COURSE, statuses=("skipped",))
        assert len(upcoming) == 1 and upcoming[0].scheduled_at > dt.datetime.now(dt.UTC)

        again = await schedule(room.teacher_id, "list")
        assert f"(`{SEED}`), due <t:" in again.content and ": skipped" in again.content
        assert f"{SEED_TITLE}: posted (https://discord.com/channels/" in again.content

        refused = await schedule(room.student_id, "list")
        assert refused.ephemeral
        assert refused.content == "Only the course's teachers can use this command."
        refused_post = await schedule(room.student_id, "post", lesson=SEED)
        assert refused_post.content == "Only the course's teachers can use this command."

        audit = await audit_log(repo_of(bot), COURSE)
    teacher_actions = [(a.action, a.actor_id) for a in audit if a.actor_id is not None]
    assert teacher_actions == [("schedule_skip", room.teacher_id),
                               ("schedule_post", room.teacher_id)]
    assert len(bot_messages(emulator, room.class_channel_id)) == 3  # the student posted nothing


async def test_schedule_post_of_an_unknown_lesson_says_what_to_do(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(room, [])})
    emulator.allow_command(room.guild_id, "schedule", role_id=room.teacher_role_id)
    async with start_bot(settings):
        result = await emulator.invoke_command(
            room.guild_id, room.class_channel_id, room.teacher_id, "schedule",
            options={"lesson": "stalin"}, subcommand="post")
        skip = await emulator.invoke_command(
            room.guild_id, room.class_channel_id, room.teacher_id, "schedule",
            options={"lesson": SEED}, subcommand="skip")
    assert result.ephemeral
    assert result.content.startswith("There is no lesson called “stalin”. Did you mean:")
    assert skip.content == (f"“{SEED_TITLE}” has no upcoming post in the calendar, so there is "
                            "nothing to skip.")
    assert bot_messages(emulator, room.class_channel_id) == []


async def test_a_refused_thread_fails_the_post_and_the_teacher_gets_a_dm(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = config(emulator, tmp_path, {COURSE: course(
        room, [entry({"seconds": 2})], teacher_channel_id=None)})
    emulator.inject("POST", r"/channels/\d+/messages/\d+/threads$", status=403,
                    json={"code": 50013, "message": "Missing Permissions"})
    async with start_bot(settings) as bot:
        (post,) = await settled(repo_of(bot))
        await emulator.wait_for(lambda: emulator.dms(room.teacher_id))
    assert post.status == "failed" and post.message_id is not None
    assert post.reason == ("Discord refused to let me post in #history-101 (Missing "
                           "Permissions). Ask a server admin to check my permissions there. "
                           f"Once that is fixed, use `/schedule post {SEED}` to post it.")
    (dm,) = emulator.dms(room.teacher_id)
    assert dm["content"] == f"I could not post “{SEED_TITLE}”. {post.reason}"


async def test_a_class_channel_that_does_not_exist_is_named_to_the_teacher(
    emulator: DiscordEmulator, room: Room, tmp_path: Path, start_bot: StartBot
) -> None:
    missing = 1234567890123456789
    settings = config(emulator, tmp_path, {COURSE: course(
        room, [entry({"seconds": 2})], channel_id=missing)})
    async with start_bot(settings) as bot:
        (post,) = await settled(repo_of(bot))
        await emulator.wait_for(lambda: len(emulator.messages(room.teacher_channel_id)) >= 2)
    assert post.status == "failed"
    # The start-up check named it first, with how to find the right id; then the post failed.
    notice, told = emulator.messages(room.teacher_channel_id)
    assert f"the class channel (channel_id: {missing}) is not a channel of" in notice["content"]
    assert "Copy Channel ID" in notice["content"]
    assert told["content"] == (
        f"I could not post “{SEED_TITLE}”. The class channel <#{missing}> (id {missing}) does "
        f"not exist or I cannot see it. Check channel_id of course '{COURSE}' in the config "
        f"and the channel's permissions. Once that is fixed, use `/schedule post {SEED}` to "
        "post it.")
