"""Slash-command arguments at Discord's limits, and mass mentions in lesson text.

Every command that takes a lesson name gets 100-character and 6,000-character strings,
right-to-left text and overrides, emoji, zero-width characters, markdown, ``@everyone``,
``@here``, ``<@user>`` and ``<@&role>``: the user always gets one clear private sentence (or
the lesson), the log has no traceback, and nothing the bot sends can ping anyone it did not
mean to (every message the bot sends says so in its ``allowed_mentions``).

A lesson whose title, summary, questions, readings and transcript are full of mass mentions is
posted by the scheduler and shown by /lesson, /resources and /transcript without a ping.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.client.errors import APOLOGY, SERVER_TROUBLE
from tests.emulator import DiscordEmulator
from tests.emulator.records import Call
from tests.integration.classroom import Classroom, build_classroom
from tests.integration.conftest import COURSE, PROMPTS, SEED, StartBot

TOWN_HALL = "town-hall"
MESSAGE_KEYS = {"content", "embeds", "components", "attachments", "poll"}
# Characters that reorder or hide text: echoed back, they would garble the sentence.
BIDI_AND_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BLANK = "The lesson name was blank. Start typing and pick a lesson from the list."


@pytest.fixture
def room(emulator: DiscordEmulator) -> Classroom:
    room = build_classroom(emulator, {"alice": None, "bob": "@everyone"})
    emulator.allow_command(room.guild_id, "schedule", role_id=room.teacher_role_id)
    return room


def write_lessons(tmp_path: Path, room: Classroom) -> Path:
    """The seed lesson and a lesson whose every text field tries to ping everybody."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    seed = PROMPTS / f"{SEED}.yaml"
    (folder / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    role, student = f"<@&{room.student_role_id}>", f"<@{room.students['alice']}>"
    (folder / f"{TOWN_HALL}.yaml").write_text(yaml.safe_dump({
        "title": f"@everyone Town Hall {role} @here",
        "published": "2021-09-01",
        "summary": f"@everyone read this first. {role} and {student} too. @here **now**.",
        "questions": [f"@everyone: what would you change? {role}",
                      f"@here {student} ||who|| ~~decides~~ `@everyone`?"],
        "resources": [{"title": f"@everyone reading {role}", "author": "@here",
                       "url": "https://example.org/@everyone"}],
        "transcript": f"@everyone {role} @here {student}\nThe end.",
    }, allow_unicode=True), encoding="utf-8")
    return folder


def message_bodies(call: Call) -> list[dict[str, Any]]:
    """The message(s) a REST call sends or edits: plain sends, interaction answers, followups,
    edits, forum posts."""
    body = call.json
    if not isinstance(body, dict):
        return []
    if call.path.endswith("/callback"):
        body = body.get("data") or {}
    elif isinstance(body.get("message"), dict):  # a forum post's first message
        body = body["message"]
    return [body] if MESSAGE_KEYS & body.keys() else []


def assert_no_mass_ping(calls: Iterable[Call], users: Iterable[int] = ()) -> int:
    """Every message sent lets nothing ping but the listed users; how many were checked.

    A message without ``allowed_mentions`` would let Discord parse every mention in its
    content, so each must carry one that parses nothing.
    """
    checked = 0
    for call in calls:
        for body in message_bodies(call):
            allowed = body.get("allowed_mentions")
            assert allowed is not None, f"{call.method} {call.path} has no allowed_mentions"
            assert allowed.get("parse") == [], (call.path, allowed)
            assert not allowed.get("roles"), (call.path, allowed)
            assert not allowed.get("replied_user"), (call.path, allowed)
            assert {int(u) for u in allowed.get("users") or []} <= set(users), (call.path,
                                                                                allowed)
            checked += 1
    return checked


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]
    assert "Traceback" not in caplog.text


def assert_one_sentence(result: Any, what: str) -> str:
    """The user got one private answer in words, not an apology; its text."""
    assert not result.failed, f"{what}: the interaction failed"
    shown = result.final()
    assert shown is not None and shown.ephemeral, what
    text = shown.content or ""
    assert text.strip(), what
    assert text not in (APOLOGY, SERVER_TROUBLE), f"{what}: {text}"
    assert not shown.attachments and not shown.embeds, what
    assert not BIDI_AND_INVISIBLE.search(text), f"{what}: {text!r}"
    assert len(text) <= 2000
    return text


def nasty_values(room: Classroom) -> dict[str, str]:
    """Lesson arguments a student could type, each at or past what Discord lets through."""
    hundred = ("abcdefghij " * 10)[:99] + "z"
    return {
        "100 characters": hundred,
        "6,000 characters (Discord's most for a string)": ("lesson " * 900)[:6000],
        "right-to-left override": "\u202ecrimes s'nilats\u202c",
        "Arabic and Hebrew": "الدرس الأول שיעור ראשון",
        "emoji": "📚🔥 lesson 👩🏽‍🏫 \U0001f1fa\U0001f1e6",
        "zero-width inside a real name": "stalins\u200b-crimes\u200d-and\u2060-russias-future",
        "markdown": "**bold** __u__ ~~s~~ ||spoiler|| `code` ```x``` > q [link](https://x.y) #h",
        "@everyone": "@everyone",
        "@here": "@here look",
        "a user mention": f"<@{room.students['alice']}>",
        "a role mention": f"<@&{room.student_role_id}>",
        "newlines": "line one\nline two\n\n# heading",
        "only spaces": "     ",
        "control characters": "stal\x00in\x1b[31m",
    }


STUDENT_COMMANDS: list[tuple[str, str | None]] = [
    ("lesson", None), ("resources", None), ("transcript", None)]
TEACHER_COMMANDS: list[tuple[str, str | None]] = [
    ("schedule", "post"), ("participation", "report"), ("participation", "export"),
    ("remind", None)]


async def test_every_lesson_argument_gets_a_private_sentence_and_pings_nobody(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_lessons(tmp_path, room)
    values = nasty_values(room)
    answers: list[tuple[str, str, Any]] = []
    suggestions: list[tuple[str, list[dict[str, Any]]]] = []
    async with start_bot(room.settings(emulator, tmp_path)):
        for name, sub in STUDENT_COMMANDS + TEACHER_COMMANDS:
            user = room.teacher_id if (name, sub) in TEACHER_COMMANDS else room.students["alice"]
            command = f"/{name}" + (f" {sub}" if sub else "")
            for label, value in values.items():
                result = await emulator.invoke_command(
                    room.guild_id, room.channel_id, user, name, options={"lesson": value},
                    subcommand=sub)
                answers.append((command, label, result))
                choices = await emulator.autocomplete(
                    room.guild_id, room.channel_id, user, name, focused="lesson",
                    value=value[:100], subcommand=sub)
                suggestions.append((f"{command} {label}", choices))

    for command, label, result in answers:
        text = assert_one_sentence(result, f"{command} with {label}")
        if label == "only spaces":
            assert text == BLANK, (command, text)
            continue
        assert text.startswith("There is no lesson called “"), (command, label, text)
        assert "Start typing" in text or "Did you mean" in text
    # Every choice offered while typing is within Discord's limits.
    for what, choices in suggestions:
        assert len(choices) <= 25, what
        assert all(1 <= len(c["name"]) <= 100 and 1 <= len(c["value"]) <= 100
                   for c in choices), what
    # A real lesson name with invisible characters in it still gets a suggestion.
    zero_width = [t for c, label, r in answers if label.startswith("zero-width")
                  for t in [r.final().content]]
    assert all(f"(`{SEED}`)" in t for t in zero_width), zero_width
    assert assert_no_mass_ping(emulator.calls) >= len(answers)
    assert_no_traceback(caplog)


async def test_an_echoed_argument_is_cut_and_cannot_reorder_or_format_the_sentence(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    write_lessons(tmp_path, room)
    async with start_bot(room.settings(emulator, tmp_path)):
        long = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.students["alice"], "lesson",
            options={"lesson": "word " * 1200})
        rtl = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.students["alice"], "lesson",
            options={"lesson": "\u202ekcah **bold**"})
    shown = long.final().content
    assert shown.startswith("There is no lesson called “word word")
    assert len(shown) < 300  # the 6,000 characters are not echoed back
    assert rtl.final().content == (
        "There is no lesson called “kcah \\*\\*bold\\*\\*”. Start typing and pick a lesson "
        "from the list.")


async def test_a_real_lesson_name_typed_loosely_is_found(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_lessons(tmp_path, room)
    async with start_bot(room.settings(emulator, tmp_path)):
        loose = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.students["alice"], "lesson",
            options={"lesson": "  STALIN’S crimes   and Russia’s future  "})
    assert loose.final().embeds[0]["title"] == "Stalin’s Crimes and Russia’s Future"
    assert_no_traceback(caplog)


# --- mass mentions in a lesson's own text --------------------------------------------------------


async def test_a_lesson_full_of_mass_mentions_is_posted_and_shown_without_a_ping(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_lessons(tmp_path, room)
    alice, bob = room.students["alice"], room.students["bob"]
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        posted = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "schedule",
            options={"lesson": TOWN_HALL}, subcommand="post")
        shown = [await emulator.invoke_command(room.guild_id, room.channel_id, alice, name,
                                               options={"lesson": TOWN_HALL})
                 for name in ("lesson", "resources", "transcript")]
        choices = await emulator.autocomplete(room.guild_id, room.channel_id, alice, "lesson",
                                              focused="lesson", value="town")
        reminded = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "remind",
            options={"lesson": TOWN_HALL})
        assert bot.repository is not None
        post = await bot.repository.posts.latest("history-101", TOWN_HALL)

    assert posted.final().content.startswith("Posted “@everyone Town Hall"), posted.final()
    assert post is not None and post.status == "posted"
    # The lesson really went out: its message in the class channel and a thread per question.
    lesson_messages = [m for m in emulator.messages(room.channel_id)
                       if m["author"]["id"] == str(bot.user.id)] if bot.user else []
    assert lesson_messages and "@everyone Town Hall" in lesson_messages[0]["embeds"][0]["title"]
    assert len(emulator.threads(room.channel_id)) == 2
    assert [r.final().ephemeral for r in shown] == [True, True, True]
    assert "@everyone read this first." in shown[0].final().embeds[0]["description"]
    assert shown[2].final().attachments
    assert choices and choices[0]["value"] == TOWN_HALL
    # The reminder pings the two students who have not replied, by name, and nobody else.
    assert reminded.final().content.startswith("Reminded 2 student(s)")
    checked = assert_no_mass_ping(emulator.calls, users={alice, bob})
    assert checked >= 8
    reminders = [c for c in emulator.calls_to("POST", r"^/channels/\d+/messages$")
                 if c.json.get("allowed_mentions", {}).get("users")]
    assert len(reminders) == 1
    assert {int(u) for u in reminders[0].json["allowed_mentions"]["users"]} == {alice, bob}
    assert_no_traceback(caplog)


async def test_a_forum_post_and_a_failure_notice_with_mass_mentions_ping_nobody(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_lessons(tmp_path, room)
    forum = emulator.add_forum_channel(room.guild_id, "discussions", tags=["Question"])
    # Due an hour ago: the scheduler posts it as soon as the bot starts (late, as configured).
    an_hour_ago = dt.datetime.now(ZoneInfo("America/New_York")).replace(
        tzinfo=None, second=0, microsecond=0) - dt.timedelta(hours=1)
    settings = room.settings(emulator, tmp_path, channel_id=int(forum.id),
                             teacher_channel_id=room.other_channel_id,
                             calendar={"entries": [{"lesson": TOWN_HALL, "post_at": an_hour_ago}]})
    # Discord refuses the first forum post: the post fails and the teacher is told, with the
    # lesson's title in the notice.
    emulator.inject("POST", rf"^/channels/{forum.id}/threads$", status=403, times=1)
    async with start_bot(settings):
        await emulator.wait_for(lambda: emulator.messages(room.other_channel_id))
        posted = await emulator.invoke_command(
            room.guild_id, room.other_channel_id, room.teacher_id, "schedule",
            options={"lesson": TOWN_HALL}, subcommand="post")

    notices = [m["content"] for m in emulator.messages(room.other_channel_id)]
    assert any("“@everyone Town Hall" in n for n in notices), notices
    assert posted.final().content.startswith("Posted “@everyone Town Hall"), posted.final()
    assert len(emulator.threads(int(forum.id))) == 3  # the lesson and one post per question
    forum_posts = emulator.calls_to("POST", rf"^/channels/{forum.id}/threads$")
    assert [c.status for c in forum_posts] == [403, 201, 201, 201]
    assert assert_no_mass_ping(emulator.calls) >= 6
    assert_no_traceback(caplog)


async def test_every_due_time_given_to_extend_is_read_or_refused_in_a_sentence(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_lessons(tmp_path, room)
    values = {**nasty_values(room), "a date alone": "2026-12-10", "month 13": "2026-13-01 10:00",
              "words": "next friday", "a time alone": "23:59"}
    bob = room.students["bob"]
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        emulator.allow_command(room.guild_id, "extend", role_id=room.teacher_role_id)
        answers = [(label, await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "extend",
            options={"student": bob, "lesson": SEED, "until": value}))
            for label, value in values.items()]
        out_of_range = [await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "extend",
            options={"student": bob, "lesson": SEED, "until": value})
            for value in ("0001-01-01 00:00", "9999-12-31 23:59")]
        refused = await bot.repository.extensions.of_course(COURSE)
        granted = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "extend",
            options={"student": bob, "lesson": SEED, "until": " 2026-12-10T23:59 "})
        [extension] = await bot.repository.extensions.of_course(COURSE)
    for label, result in answers:
        text = assert_one_sentence(result, f"/extend until {label}")
        assert text.startswith("“") and text.endswith(
            "” is not a date and time: write it like 2026-12-10 23:59 (the course's time zone, "
            "America/New_York)."), (label, text)
        assert len(text) < 300 and "**" not in text.replace("\\*\\*", "")
    for result, typed in zip(out_of_range, ("0001-01-01 00:00", "9999-12-31 23:59"),
                             strict=True):
        assert assert_one_sentence(result, typed) == (
            f"“{typed}” is outside the dates Seminar schedules: use one from 2000-01-01 to "
            "2100-12-31.")
    assert refused == []  # nothing was stored for any of them
    # 23:59 in New York on 10 December is 04:59 UTC the next day.
    assert extension.due_at == dt.datetime(2026, 12, 11, 4, 59, tzinfo=dt.UTC)
    assert "<t:1796965140:F>" in granted.final().content
    assert assert_no_mass_ping(emulator.calls) >= len(answers)
    assert_no_traceback(caplog)
