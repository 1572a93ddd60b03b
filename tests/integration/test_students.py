"""/mystats and /reminders as a student sees them, with the real bot and client."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.emulator import DiscordEmulator
from tests.integration.classroom import (
    SECOND,
    SECOND_TITLE,
    Classroom,
    build_classroom,
    now,
    post_lesson,
    reply,
    two_lessons,
)
from tests.integration.conftest import COURSE, StartBot

DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
SEED_TITLE = "Stalin’s Crimes and Russia’s Future"


@pytest.fixture
def room(emulator: DiscordEmulator, tmp_path: Path) -> Classroom:
    two_lessons(tmp_path)
    return build_classroom(emulator, {"alice": "Alice *A*", "bob": None, "carol": None})


async def test_mystats_shows_only_the_callers_own_numbers(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    s = room.students
    t = now()
    settings = room.settings(emulator, tmp_path, grading={
        "min_words": 5, "required_peer_replies": 1})
    async with start_bot(settings) as bot:
        repo = bot.repository
        assert repo is not None
        first, q = await post_lesson(repo, emulator, room, scheduled_at=t - 3 * DAY,
                                     due_at=t - DAY)
        await post_lesson(repo, emulator, room, lesson=SECOND, scheduled_at=t - DAY,
                          due_at=t + DAY)
        await repo.replies.record([
            reply(first, q, 0, s["alice"], "Alice *A*", t - 2 * DAY, 12),
            reply(first, q, 1, s["alice"], "Alice *A*", t - 2 * DAY + HOUR, 4, to=s["bob"]),
            reply(first, q, 0, s["bob"], "bob", t - 2 * DAY, 30, to=s["alice"]),
            reply(first, q, 1, s["bob"], "bob", t - 12 * HOUR, 9, late=True),
        ])
        alice = await emulator.invoke_command(room.guild_id, room.channel_id, s["alice"],
                                              "mystats")
        bob = await emulator.invoke_command(room.guild_id, room.channel_id, s["bob"], "mystats")
        carol = await emulator.invoke_command(room.guild_id, room.channel_id, s["carol"],
                                              "mystats")

    mine = alice.final()
    assert mine.ephemeral
    assert mine.content.split("\n") == [
        "**Your participation in History 101**",
        f"2 replies (1 substantive) · 16 words · 2 questions · 1 peer · all on time · first "
        f"<t:{int((t - 2 * DAY).timestamp())}:f> · ❌ peer replies 0/1",
        # Her scores under the default policy (10 points for one substantive answer),
        # worked out by hand: the 12-word answer is on time, the 4-word reply is short; the
        # second lesson is due tomorrow, so it is open and not counted.
        "**Total: 10/10 over 1 graded lesson, 1 still open**",
        "**Per lesson**",
        f"• **{SEED_TITLE}**: 10/10 — answered 1 of 1 question required (5 words or more) ✔ "
        "10/10, on time, 1 short reply (under 5 words) not counted",
        f"• **{SECOND_TITLE}**: 0/10 so far (not counted until it is due) — no reply · due "
        f"<t:{int((t + DAY).timestamp())}:f>",
    ]
    assert "bob" not in mine.content and "30 words" not in mine.content
    assert bob.final().content.split("\n")[1].startswith(
        "2 replies · 39 words · 2 questions · 1 peer · 1 late")
    assert "Alice" not in bob.final().content
    # Carol never replied: the friendly sentence, then her zeros and the due time still ahead.
    assert (carol.final().content.split("\n"), carol.final().ephemeral) == ([
        "You have not replied in any History 101 discussion yet. Open a question thread under "
        "the latest lesson and add your thoughts: every reply counts here.",
        "**Total: 0/10 over 1 graded lesson, 1 still open**",
        "**Per lesson**",
        f"• **{SEED_TITLE}**: 0/10 — no reply",
        f"• **{SECOND_TITLE}**: 0/10 so far (not counted until it is due) — no reply · due "
        f"<t:{int((t + DAY).timestamp())}:f>"], True)


async def test_mystats_outside_a_course_channel_says_where_to_ask(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    async with start_bot(room.settings(emulator, tmp_path)):
        result = await emulator.invoke_command(room.guild_id, room.other_channel_id,
                                               room.students["bob"], "mystats")
    assert result.ephemeral
    assert result.content == ("This channel is not part of a course. Ask me in your class "
                              f"channel: <#{room.channel_id}> (History 101).")


async def test_reminders_off_and_on_are_the_students_own_choice(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    s = room.students
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        repo = bot.repository
        assert repo is not None
        off = await emulator.invoke_command(room.guild_id, room.channel_id, s["bob"],
                                            "reminders", subcommand="off")
        await emulator.invoke_command(room.guild_id, room.channel_id, s["carol"],
                                      "reminders", subcommand="off")
        assert await repo.reminders.opted_out(COURSE) == {s["bob"], s["carol"]}
        on = await emulator.invoke_command(room.guild_id, room.channel_id, s["bob"],
                                           "reminders", subcommand="on")
        assert await repo.reminders.opted_out(COURSE) == {s["carol"]}
    assert off.ephemeral and on.ephemeral
    assert off.content == ("Done: I won't ping you with reminders in History 101. Use "
                           "/reminders on to get them again.")
    assert on.content == ("Done: I'll remind you in History 101 when a lesson is due and you "
                          "have not replied yet. Use /reminders off to stop.")
