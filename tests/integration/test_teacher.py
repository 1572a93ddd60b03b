"""/participation report|export, /remind, /forget, retention and `seminar export`, with the
real bot and client against the Discord emulator.

Replies are recorded straight into the database (see classroom.py); the reports are checked
against the numbers the test recorded.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.cli import main as seminar
from bot.core.reports import CSV_COLUMNS, GRADE_COLUMNS, IDENTITY_COLUMNS
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.records import Post
from storage.repository import Repository
from tests.emulator import ActionRejected, DiscordEmulator
from tests.integration.classroom import (
    NOT_TEACHER,
    SECOND,
    SECOND_TITLE,
    Classroom,
    build_classroom,
    buttons,
    now,
    post_lesson,
    reply,
    two_lessons,
)
from tests.integration.conftest import COURSE, SEED, StartBot, until
from tests.records import audit_log, reminded, replies_of

NEW_YORK = ZoneInfo("America/New_York")
EVE_NICK = "**Eve** @everyone"
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
NOT_YOURS = "These buttons belong to the teacher who asked for this; run the command yourself."


MINUTE = dt.timedelta(minutes=1)


def ts(moment: dt.datetime) -> str:
    return f"<t:{int(moment.timestamp())}:f>"


def local_minute(moment: dt.datetime) -> dt.datetime:
    """The course-local wall time of ``moment``, to the minute, as a config checkpoint takes it."""
    return moment.astimezone(NEW_YORK).replace(tzinfo=None, second=0, microsecond=0)


@dataclass
class Discussion:
    """What the test recorded: when, which posts and threads."""

    t: dt.datetime
    first: Post
    first_threads: list[int]
    second: Post
    second_threads: list[int]


@pytest.fixture
def room(emulator: DiscordEmulator, tmp_path: Path) -> Classroom:
    two_lessons(tmp_path)
    return build_classroom(emulator, {"alice": None, "bob": None, "carol": None, "dave": None,
                                      "eve": EVE_NICK})


def grading(t: dt.datetime) -> dict[str, Any]:
    return {"min_words": 5, "required_peer_replies": 1, "checkpoints": [
        {"name": "First reply", "by": local_minute(t - DAY), "replies": 1},
        {"name": "Peer reply", "by": local_minute(t + 2 * DAY), "peer_replies": 1},
    ]}


async def record_discussion(repo: Repository, emulator: DiscordEmulator, room: Classroom,
                            t: dt.datetime) -> Discussion:
    """Two posted lessons and the replies whose numbers the tests check.

    Seed lesson (due an hour ago): alice twice (one a peer reply to bob), bob twice (one
    short, one a peer reply to alice), carol once after the due time, and a visitor without
    the student role. Glasnost: dave once. Eve never replies.
    """
    first, q = await post_lesson(repo, emulator, room, scheduled_at=t - 3 * DAY,
                                 due_at=t - HOUR)
    second, g = await post_lesson(repo, emulator, room, lesson=SECOND,
                                  scheduled_at=t - DAY, due_at=t + 3 * DAY)
    s = room.students
    await repo.replies.record([
        reply(first, q, 0, s["alice"], "alice", t - 2 * DAY, 12),
        reply(first, q, 1, s["alice"], "alice", t - 2 * HOUR, 8, to=s["bob"]),
        reply(first, q, 0, s["bob"], "bob", t - 2 * DAY + HOUR, 3),
        reply(first, q, 0, s["bob"], "bob", t - 20 * HOUR, 6, to=s["alice"]),
        reply(first, q, 1, s["carol"], "carol", t - 30 * dt.timedelta(minutes=1), 20,
              late=True),
        reply(first, q, 0, room.outsider_id, "visitor", t - DAY - HOUR, 7),
        reply(second, g, 1, s["dave"], "dave", t - 12 * HOUR, 40),
    ])
    return Discussion(t, first, q, second, g)


async def invoke(emulator: DiscordEmulator, room: Classroom, user_id: int, name: str,
                 subcommand: str | None = None, **options: Any) -> Any:
    return await emulator.invoke_command(room.guild_id, room.channel_id, user_id, name,
                                         options=options or None, subcommand=subcommand)


def lines_of(content: str) -> list[str]:
    return content.split("\n")


# --- /participation report -------------------------------------------------------------------


async def test_report_shows_each_students_numbers_and_who_has_not_replied(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    t = now()
    settings = room.settings(emulator, tmp_path, grading=grading(t))
    async with start_bot(settings) as bot:
        assert bot.repository is not None
        d = await record_discussion(bot.repository, emulator, room, t)
        result = await invoke(emulator, room, room.teacher_id, "participation", "report")
        seed_only = await invoke(emulator, room, room.teacher_id, "participation", "report",
                                 lesson=SEED)
        second = await invoke(emulator, room, room.teacher_id, "participation", "report",
                              lesson=SECOND)

    shown = result.final()
    assert shown.ephemeral and not shown.attachments and not shown.buttons()
    eve = "**\\*\\*Eve\\*\\* @\u200beveryone**"
    assert lines_of(shown.content) == [
        "**Participation in History 101** · 5 replied, 1 not yet",
        f"**alice** — 2 replies · 20 words · 2 questions · 1 peer · all on time · first "
        f"{ts(t - 2 * DAY)} · ✅ peer replies 1/1 · ✅ First reply · ✅ Peer reply · "
        "grade **10/10**",
        f"**bob** — 2 replies (1 substantive) · 9 words · 1 question · 1 peer · all on time · "
        f"first {ts(t - 2 * DAY + HOUR)} · ✅ peer replies 1/1 · ❌ First reply · ✅ Peer reply · "
        "grade **10/10**",
        f"**carol** — 1 reply · 20 words · 1 question · 0 peer · 1 late · first "
        f"{ts(t - 30 * dt.timedelta(minutes=1))} · ❌ peer replies 0/1 · ❌ First reply · "
        "⏳ Peer reply · grade **10/10**",
        f"**dave** — 1 reply · 40 words · 1 question · 0 peer · all on time · first "
        f"{ts(t - 12 * HOUR)} · ❌ peer replies 0/1 · ❌ First reply · ⏳ Peer reply · "
        "grade **0/10**",
        f"**visitor** — 1 reply · 7 words · 1 question · 0 peer · all on time · first "
        f"{ts(t - DAY - HOUR)} · ❌ peer replies 0/1 · ✅ First reply · ⏳ Peer reply · "
        "grade **10/10** · (not in the student role)",
        f"{eve} — no reply yet · grade **0/10**",
        # Only the teacher sees who is left alone: replied, and no classmate answered.
        "Nobody has answered yet, a reply from you or a classmate would bring them into the "
        "discussion: **carol**, **dave**",
    ]
    assert "@everyone" not in shown.content

    # One lesson: dave replied only to the other one, so here he has not replied.
    seed_lines = lines_of(seed_only.final().content)
    assert seed_lines[0] == ("**Participation in History 101 · “Stalin’s Crimes and Russia’s "
                             "Future”** · 4 replied, 2 not yet")
    assert seed_lines[-3:-1] == [f"{eve} — no reply yet · grade **0/10**",
                                 "**dave** — no reply yet · grade **0/10**"]
    assert seed_lines[1].endswith(" · grade **10/10**")
    assert seed_lines[-1].endswith(" into the discussion: **carol**")
    second_lines = lines_of(second.final().content)
    assert second_lines[0] == (f"**Participation in History 101 · “{SECOND_TITLE}”** · "
                               "1 replied, 4 not yet")
    assert second_lines[1].startswith("**dave** — 1 reply · 40 words")
    # Due in three days: a score so far, not yet a grade.
    assert second_lines[1].endswith(" · grade **10/10** so far")
    assert second_lines[-1].endswith(" into the discussion: **dave**")
    assert d.second.lesson == SECOND


async def test_report_for_one_student_lists_their_lessons(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    t = now()
    settings = room.settings(emulator, tmp_path, grading=grading(t))
    async with start_bot(settings) as bot:
        assert bot.repository is not None
        await record_discussion(bot.repository, emulator, room, t)
        alice = await invoke(emulator, room, room.teacher_id, "participation", "report",
                             student=room.students["alice"])
        eve = await invoke(emulator, room, room.teacher_id, "participation", "report",
                           student=room.students["eve"])
    assert lines_of(alice.final().content) == [
        "**Participation of** **alice** **in History 101**",
        f"2 replies · 20 words · 2 questions · 1 peer · all on time · first {ts(t - 2 * DAY)} · "
        "✅ peer replies 1/1 · ✅ First reply · ✅ Peer reply",
        # Worked out by hand: two substantive answers on time (one required); the second
        # lesson is due in three days, so it is open and not counted.
        "**Total: 10/10 over 1 graded lesson, 1 still open**",
        "**Per lesson**",
        "• **Stalin’s Crimes and Russia’s Future**: 10/10 — answered 2 questions (5 words or "
        "more; 1 required) ✔ 10/10, on time",
        f"• **{SECOND_TITLE}**: 0/10 so far (not counted until it is due) — no reply · due "
        f"{ts(t + 3 * DAY)}",
    ]
    assert lines_of(eve.final().content) == [
        "**\\*\\*Eve\\*\\* @\u200beveryone** has not replied in any History 101 discussion yet.",
        "**Total: 0/10 over 1 graded lesson, 1 still open**",
        "**Per lesson**",
        "• **Stalin’s Crimes and Russia’s Future**: 0/10 — no reply",
        f"• **{SECOND_TITLE}**: 0/10 so far (not counted until it is due) — no reply · due "
        f"{ts(t + 3 * DAY)}",
    ]


async def test_a_long_report_pages_with_buttons_for_the_teacher_only(
    emulator: DiscordEmulator, tmp_path: Path, start_bot: StartBot
) -> None:
    names = {f"student-{i:02d}-with-a-rather-long-name": None for i in range(60)}
    room = build_classroom(emulator, names)
    t = now()
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        assert bot.repository is not None
        post, q = await post_lesson(bot.repository, emulator, room, scheduled_at=t - DAY,
                                    due_at=t + DAY)
        await bot.repository.replies.record([
            reply(post, q, 0, uid, name, t - HOUR, 10 + i)
            for i, (name, uid) in enumerate(room.students.items()) if i % 2 == 0])
        result = await invoke(emulator, room, room.teacher_id, "participation", "report")
        first = result.final()
        pages = int(re.search(r"\(page 1/(\d+)\)", first.content).group(1))  # type: ignore[union-attr]
        assert pages >= 2
        controls = buttons(first)
        assert controls["Previous"].get("disabled") is True
        assert not controls["Next"].get("disabled")

        seen = [first.content]
        for _ in range(pages - 1):
            click = await emulator.click_button(room.guild_id, room.channel_id, room.teacher_id,
                                                first.id, controls["Next"]["custom_id"])
            seen.append(click.final().content)
        last = emulator.ephemeral_messages[first.id].payload
        assert all(len(page) <= 2000 for page in seen)
        assert [re.search(r"\(page (\d+)/", p).group(1) for p in seen] == [  # type: ignore[union-attr]
            str(i) for i in range(1, pages + 1)]
        lines = [line for page in seen for line in page.split("\n")[1:]]
        # Under the students: the 30 who replied and whom nobody answered (teacher only).
        assert lines[-1].startswith("Nobody has answered yet (30 students), a reply from you")
        listed = lines[:-1]
        assert len(listed) == 60 and len(set(listed)) == 60
        assert sum("no reply yet" in line for line in listed) == 30
        assert all("no reply yet" in line for line in listed[30:])  # missing ones last
        next_button = next(b for row in last["components"] for b in row["components"]
                           if b["label"] == "Next")
        assert next_button.get("disabled") is True

        # Anyone else who gets hold of the buttons is told they are not theirs.
        other = await emulator.click_button(room.guild_id, room.channel_id,
                                            room.students["student-00-with-a-rather-long-name"],
                                            first.id, controls["Previous"]["custom_id"])
        assert other.content == NOT_YOURS and other.ephemeral
        assert emulator.ephemeral_messages[first.id].payload["content"] == seen[-1]


async def test_charts_are_pngs_per_lesson_for_the_course_and_per_student_for_a_lesson(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    t = now()
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        assert bot.repository is not None
        await record_discussion(bot.repository, emulator, room, t)
        course = await invoke(emulator, room, room.teacher_id, "participation", "report",
                              chart=True)
        lesson = await invoke(emulator, room, room.teacher_id, "participation", "report",
                              lesson=SEED, chart=True)
    sizes = []
    for result in (course, lesson):
        [attachment] = result.final().attachments
        assert attachment["filename"] == "participation.png"
        with Image.open(io.BytesIO(attachment["content"])) as image:
            image.load()
            assert image.format == "PNG"
            sizes.append(image.size)
    # Two lessons make a short chart; six students a taller one.
    assert sizes[0][0] == sizes[1][0] == 800
    assert sizes[1][1] > sizes[0][1]


# --- /participation export -------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_export_attaches_a_gradebook_csv_and_is_audited(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    t = now()
    async with start_bot(room.settings(emulator, tmp_path, grading=grading(t))) as bot:
        assert bot.repository is not None
        await record_discussion(bot.repository, emulator, room, t)
        result = await invoke(emulator, room, room.teacher_id, "participation", "export")
        lesson = await invoke(emulator, room, room.teacher_id, "participation", "export",
                              lesson=SECOND)
        workbook = await invoke(emulator, room, room.teacher_id, "participation", "export",
                                format="xlsx")
        audit = await audit_log(bot.repository, COURSE, action="export")

    shown = result.final()
    assert shown.ephemeral
    assert "set the user_id column to Text" in shown.content
    [attachment] = shown.attachments
    assert attachment["filename"] == f"{COURSE}-course-participation.csv"
    rows = read_csv(attachment["content"])
    assert list(rows[0]) == [*CSV_COLUMNS, "checkpoint: First reply", "checkpoint: Peer reply",
                             *GRADE_COLUMNS, *IDENTITY_COLUMNS]
    table = {row["display_name"]: row for row in rows}
    assert list(table) == ["alice", "bob", "carol", "dave", "visitor", EVE_NICK]
    alice, bob, carol = table["alice"], table["bob"], table["carol"]
    assert alice["user_id"] == str(room.students["alice"])
    assert (alice["replies"], alice["substantive_replies"], alice["words"]) == ("2", "2", "20")
    assert (alice["questions_answered"], alice["peer_replies"]) == ("2", "1")
    assert alice["first_reply_utc"] == (t - 2 * DAY).isoformat().replace("+00:00", "Z")
    assert (bob["substantive_replies"], bob["checkpoint: First reply"]) == ("1", "not met")
    assert (carol["late_replies"], carol["on_time_replies"]) == ("1", "0")
    assert (carol["required_peer_replies_met"], carol["checkpoint: Peer reply"]) == ("no", "open")
    assert table["visitor"]["status"] == "off-roster"
    assert (table[EVE_NICK]["status"], table[EVE_NICK]["replies"]) == ("missing", "0")
    # The scores with their reasons, as /mystats words them (the second lesson is still open).
    assert (carol["grade"], carol["points_possible"]) == ("10", "10")
    assert carol["grade_explained"].split("\n") == [
        "Stalin’s Crimes and Russia’s Future: 10/10 — answered 1 of 1 question required "
        "(5 words or more) ✔ 10/10, an answer 30 min late: full credit",
        f"{SECOND_TITLE}: 0/10 so far (not counted until it is due) — no reply",
        "Total: 10/10 over 1 graded lesson, 1 still open",
    ]
    assert (table["dave"]["grade"], table[EVE_NICK]["grade"]) == ("0", "0")

    # The workbook: ids as text, the same grades, a sheet per lesson with the reasons.
    [sheet_file] = workbook.final().attachments
    assert sheet_file["filename"] == f"{COURSE}-course-participation.xlsx"
    book = load_workbook(io.BytesIO(sheet_file["content"]))
    assert book.sheetnames == ["Totals", "Stalin’s Crimes and Russia’s Fu", SECOND_TITLE]
    totals = {row[1]: row for row in book["Totals"].iter_rows(min_row=2, values_only=True)}
    assert totals["carol"][:4] == (str(room.students["carol"]), "carol", 10, 10)
    assert "Ids are stored as text" in workbook.final().content
    only_second = {row["display_name"]: row["status"] for row in
                   read_csv(lesson.final().attachments[0]["content"])}
    assert only_second["dave"] == "replied" and only_second["alice"] == "missing"
    assert [(e.actor_id, e.detail) for e in audit] == [
        (room.teacher_id, "participation XLSX of the course: 6 rows"),
        (room.teacher_id, f"participation CSV of {SECOND}: 5 rows"),
        (room.teacher_id, "participation CSV of the course: 6 rows"),
    ]


# --- students and teacher commands -----------------------------------------------------------


async def test_a_student_gets_one_sentence_from_every_teacher_command(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    alice = room.students["alice"]
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        assert bot.repository is not None
        await record_discussion(bot.repository, emulator, room, now())
        # Discord hides the teacher commands from students...
        with pytest.raises(ActionRejected):
            await invoke(emulator, room, alice, "participation", "report")
        # ...but a server admin may show them to everyone: the bot still refuses.
        for name in ("participation", "remind", "forget"):
            emulator.allow_command(room.guild_id, name, user_id=alice)
        answers = [
            await invoke(emulator, room, alice, "participation", "report"),
            await invoke(emulator, room, alice, "participation", "report", chart=True),
            await invoke(emulator, room, alice, "participation", "export"),
            await invoke(emulator, room, alice, "remind"),
            await invoke(emulator, room, alice, "forget", student=room.students["bob"]),
        ]
        assert len(await bot.repository.reports.summary(COURSE)) == 5  # nothing was deleted
        assert await reminded(bot.repository, 1) == set()
    for answer in answers:
        shown = answer.final()
        assert (shown.content, shown.ephemeral) == (NOT_TEACHER, True)
        assert not shown.attachments and not shown.buttons()
    assert emulator.calls_to("POST", r"^/channels/\d+/messages$") == []  # nobody was pinged


# --- /remind and the automatic reminder ------------------------------------------------------


def reminder_calls(emulator: DiscordEmulator, channel_id: int) -> list[Any]:
    return [c for c in emulator.calls_to("POST", rf"^/channels/{channel_id}/messages$")
            if c.status == 200]


def mentioned(call: Any) -> list[int]:
    return sorted(int(u) for u in re.findall(r"<@(\d+)>", call.json["content"]))


def assert_pings_exactly(call: Any, user_ids: list[int]) -> None:
    """The message mentions these users and its allowed mentions let exactly them ping."""
    assert mentioned(call) == sorted(user_ids)
    allowed = call.json["allowed_mentions"]
    assert sorted(int(u) for u in allowed["users"]) == sorted(user_ids)
    assert allowed["parse"] == []  # no @everyone, no roles, no other user
    assert not allowed.get("replied_user")


async def test_remind_pings_only_students_without_a_reply_once(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    s = room.students
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        repo = bot.repository
        assert repo is not None
        d = await record_discussion(repo, emulator, room, now())
        # Eve turns reminders off; dave has replied only to the other lesson.
        off = await invoke(emulator, room, s["eve"], "reminders", "off")
        assert off.content.startswith("Done: I won't ping you with reminders in History 101.")
        first = await invoke(emulator, room, room.teacher_id, "remind", lesson=SEED)
        again = await invoke(emulator, room, room.teacher_id, "remind", lesson=SEED)
        # Glasnost: everyone but dave; then a new student joins the class and is reminded.
        latest = await invoke(emulator, room, room.teacher_id, "remind")
        newcomer = emulator.add_member(room.guild_id, "frank", roles=[room.student_role_id])
        await emulator.wait_for(lambda: bot.get_guild(room.guild_id).get_member(  # type: ignore[union-attr]
            newcomer.id) is not None)
        late = await invoke(emulator, room, room.teacher_id, "remind", lesson=SECOND)
        audit = await audit_log(repo, COURSE, action="remind")

    [call] = reminder_calls(emulator, d.first_threads[0])
    assert_pings_exactly(call, [s["dave"]])
    assert "you have not replied to “Stalin’s Crimes and Russia’s Future” yet" in (
        call.json["content"])
    assert f"<#{d.first_threads[0]}> <#{d.first_threads[1]}>" in call.json["content"]
    assert first.final().content == (
        "Reminded 1 student(s) about “Stalin’s Crimes and Russia’s Future” in "
        f"<#{d.first_threads[0]}> (3 already replied, 1 turned reminders off). Each student "
        "is reminded once per lesson.")
    assert again.final().content == ("Nobody to remind about “Stalin’s Crimes and Russia’s "
                                     "Future” (3 already replied, 1 were reminded before, 1 "
                                     "turned reminders off).")

    first_glasnost, second_glasnost = reminder_calls(emulator, d.second_threads[0])
    assert_pings_exactly(first_glasnost, [s["alice"], s["bob"], s["carol"]])
    assert latest.final().content.startswith(f"Reminded 3 student(s) about “{SECOND_TITLE}”")
    assert_pings_exactly(second_glasnost, [newcomer.id])
    assert late.final().content.startswith(f"Reminded 1 student(s) about “{SECOND_TITLE}”")
    assert [e.detail for e in audit] == [f"{SECOND}: 1 student(s) reminded",
                                         f"{SECOND}: 3 student(s) reminded",
                                         f"{SEED}: 1 student(s) reminded"]
    # Nothing went to the class channel itself.
    assert reminder_calls(emulator, room.channel_id) == []


async def test_remind_explains_what_is_missing(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        assert bot.repository is not None
        nothing = await invoke(emulator, room, room.teacher_id, "remind")
        await post_lesson(bot.repository, emulator, room, scheduled_at=now() - DAY,
                          due_at=now() + DAY)
        unposted = await invoke(emulator, room, room.teacher_id, "remind", lesson=SECOND)
    async with start_bot(room.settings(emulator, tmp_path, student_role_id=None)):
        no_role = await invoke(emulator, room, room.teacher_id, "remind")
    assert nothing.final().content == ("No lesson has been posted in this course yet, so there "
                                       "is nothing to remind anyone about.")
    assert unposted.final().content == (f"“{SECOND_TITLE}” has not been posted yet, so nobody "
                                        "could reply to it.")
    assert no_role.final().content.startswith("I don't know who the students are: set "
                                              "`student_role_id` for this course")
    assert emulator.calls_to("POST", r"^/channels/\d+/messages$") == []


async def test_automatic_reminder_before_the_due_time(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    s = room.students
    settings = room.settings(emulator, tmp_path, reminders={"hours_before_due": 2})
    t = now()
    # A lesson due in an hour was posted while the bot was off: its reminder is overdue.
    engine = create_engine(settings.database.url)
    await upgrade_engine(engine)
    repo = Repository(create_sessionmaker(engine))
    overdue, q = await post_lesson(repo, emulator, room, scheduled_at=t - DAY, due_at=t + HOUR)
    await repo.replies.record([reply(overdue, q, 0, s["alice"], "alice", t - HOUR, 10)])
    await engine.dispose()

    async with start_bot(settings) as bot:
        assert bot.repository is not None
        await emulator.wait_for(lambda: len(reminder_calls(emulator, q[0])) == 1)
        [call] = reminder_calls(emulator, q[0])
        assert_pings_exactly(call, [s["bob"], s["carol"], s["dave"], s["eve"]])

        # A lesson posted now, due in 90 minutes: the posting cog's event wakes the timer.
        soon, g = await post_lesson(bot.repository, emulator, room, lesson=SECOND,
                                    scheduled_at=t, due_at=t + 90 * dt.timedelta(minutes=1))
        bot.dispatch("seminar_lesson_posted", soon)
        await emulator.wait_for(lambda: len(reminder_calls(emulator, g[0])) == 1)
        assert_pings_exactly(reminder_calls(emulator, g[0])[0], list(s.values()))

        # One due in a week: nothing yet, and the timer sleeps until six days, 22 hours on.
        later, _ = await post_lesson(bot.repository, emulator, room, scheduled_at=t + HOUR,
                                     due_at=t + 7 * DAY)
        bot.dispatch("seminar_lesson_posted", later)
        cog: Any = bot.get_cog("RemindersCog")
        assert await cog.run_due_reminders(now()) == t + 7 * DAY - 2 * HOUR
        repo = bot.repository

        async def both_logged() -> list[Any]:
            found = await audit_log(repo, COURSE, action="remind")
            return found if len(found) == 2 else []

        audit = await until(both_logged)  # written just after each reminder is sent
    assert len(reminder_calls(emulator, q[0])) == 1  # never twice
    assert {(e.actor_id, e.detail) for e in audit} == {
        (None, f"{SEED}: 4 student(s) reminded"), (None, f"{SECOND}: 5 student(s) reminded")}


async def test_a_student_with_an_extension_is_reminded_before_their_own_due_time(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    s = room.students
    settings = room.settings(emulator, tmp_path, reminders={"hours_before_due": 2})
    t = now()
    engine = create_engine(settings.database.url)
    await upgrade_engine(engine)
    repo = Repository(create_sessionmaker(engine))
    lesson, q = await post_lesson(repo, emulator, room, scheduled_at=t - DAY, due_at=t + HOUR)
    await repo.replies.record([reply(lesson, q, 0, s["alice"], "alice", t - HOUR, 10)])
    # Eve's extension ends in 90 minutes (her reminder is overdue too), Dave's in ten hours.
    await repo.extensions.grant(COURSE, SEED, s["eve"], t + 90 * MINUTE, granted_by=None)
    await repo.extensions.grant(COURSE, SEED, s["dave"], t + 10 * HOUR, granted_by=None)
    await engine.dispose()

    async with start_bot(settings) as bot:
        await emulator.wait_for(lambda: len(reminder_calls(emulator, q[0])) == 2)
        cog: Any = bot.get_cog("RemindersCog")
        # Nothing else is due until Dave's reminder, two hours before his own due time.
        assert await cog.run_due_reminders(now()) == t + 8 * HOUR
    class_call, eve_call = reminder_calls(emulator, q[0])
    assert_pings_exactly(class_call, [s["bob"], s["carol"]])
    assert f"Due <t:{int((t + HOUR).timestamp())}:F>" in class_call.json["content"]
    assert_pings_exactly(eve_call, [s["eve"]])
    assert f"Due <t:{int((t + 90 * MINUTE).timestamp())}:F>" in eve_call.json["content"]


# --- /forget and retention -------------------------------------------------------------------


async def test_forget_needs_the_teachers_confirmation_then_erases_the_student(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    alice = room.students["alice"]
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        repo = bot.repository
        assert repo is not None
        await record_discussion(repo, emulator, room, now())
        asked = await invoke(emulator, room, room.teacher_id, "forget", student=alice)
        shown = asked.final()
        assert shown.ephemeral
        assert shown.content.startswith(f"Delete every record of **alice** (`{alice}`) in "
                                        "History 101?")
        choice = buttons(shown)
        assert set(choice) == {"Delete their records", "Cancel"}
        assert len(await replies_of(repo, COURSE, alice)) == 2  # not yet

        # Someone else pressing the button changes nothing.
        other = await emulator.click_button(room.guild_id, room.channel_id, room.students["bob"],
                                            shown.id, choice["Delete their records"]["custom_id"])
        assert other.content == NOT_YOURS
        assert len(await replies_of(repo, COURSE, alice)) == 2

        cancel = await emulator.click_button(room.guild_id, room.channel_id, room.teacher_id,
                                             shown.id, choice["Cancel"]["custom_id"])
        assert cancel.final().content == "Cancelled: nothing was deleted."
        assert len(await replies_of(repo, COURSE, alice)) == 2

        again = (await invoke(emulator, room, room.teacher_id, "forget", student=alice)).final()
        done = await emulator.click_button(room.guild_id, room.channel_id, room.teacher_id,
                                           again.id,
                                           buttons(again)["Delete their records"]["custom_id"])
        assert await replies_of(repo, COURSE, alice) == []
        report = await invoke(emulator, room, room.teacher_id, "participation", "report")
        audit = await audit_log(repo, COURSE, action="forget")
    assert done.final().content == (
        f"Deleted the records of **alice** (`{alice}`): 2 replies, their reminder marks and "
        "settings. This was written to the audit log.")
    assert done.final().buttons() == []
    assert "**alice** — no reply yet" in report.final().content
    assert [(e.actor_id, e.detail) for e in audit] == [
        (room.teacher_id, f"student {alice}: 2 replies deleted")]


async def test_replies_older_than_the_retention_are_purged_at_start_and_logged(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot
) -> None:
    settings = room.settings(emulator, tmp_path, retention_days=30)
    t = now()
    engine = create_engine(settings.database.url)
    await upgrade_engine(engine)
    repo = Repository(create_sessionmaker(engine))
    old, q = await post_lesson(repo, emulator, room, scheduled_at=t - 40 * DAY, due_at=None)
    alice = room.students["alice"]
    await repo.replies.record([reply(old, q, 0, alice, "alice", t - 39 * DAY, 10),
                               reply(old, q, 0, alice, "alice", t - 10 * DAY, 10)])
    await engine.dispose()

    async with start_bot(settings) as bot:
        assert bot.repository is not None
        cog: Any = bot.get_cog("TeacherCog")
        await emulator.wait_for(lambda: cog.last_purge is not None)
        left = await bot.repository.replies.matching(COURSE, include_deleted=True)
        [entry] = await audit_log(bot.repository, COURSE, action="purge")
    assert [r.created_at for r in left] == [t - 10 * DAY]
    assert entry.actor_id is None
    assert entry.detail.startswith("1 replies older than 30 days (before ")


# --- seminar export ---------------------------------------------------------------------------


async def test_seminar_export_writes_the_gradebook_and_one_students_data(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = now()
    config = room.write_config(emulator, tmp_path, grading=grading(t))
    settings = room.settings(emulator, tmp_path)
    engine = create_engine(settings.database.url)
    await upgrade_engine(engine)
    repo = Repository(create_sessionmaker(engine))
    await record_discussion(repo, emulator, room, t)
    await repo.replies.mark_deleted(  # a deleted reply still belongs to the student's own data
        [(await replies_of(repo, COURSE, room.students["bob"]))[0].message_id], t)
    await repo.reminders.set_opt_out(COURSE, room.students["bob"], True, now=t)
    await engine.dispose()

    out = tmp_path / "gradebook.csv"
    assert await export(["--config", str(config), "export", "--course", COURSE,
                         "-o", str(out)]) == 0
    assert f"wrote {out}: 5 student(s)" in capsys.readouterr().out
    rows = {row["user_id"]: row for row in read_csv(out.read_bytes())}
    # Offline there is no member list: everyone who replied in the course is the class.
    assert set(rows) == {str(u) for u in [*room.students.values(), room.outsider_id]} - {
        str(room.students["eve"])}
    alice = rows[str(room.students["alice"])]
    assert (alice["replies"], alice["words"], alice["checkpoint: First reply"]) == (
        "2", "20", "met")
    assert rows[str(room.students["bob"])]["replies"] == "1"  # the deleted one is not counted

    lesson_out = tmp_path / "glasnost.csv"
    assert await export(["--config", str(config), "export", "--course", COURSE, "--lesson", SECOND,
                    "-o", str(lesson_out)]) == 0
    statuses = {row["display_name"]: row["status"] for row in read_csv(lesson_out.read_bytes())}
    assert statuses["dave"] == "replied" and statuses["alice"] == "missing"
    capsys.readouterr()

    # A lesson that was never posted (a typo, say) is named, and no empty file is written.
    typo = tmp_path / "typo.csv"
    assert await export(["export", "--course", COURSE, "--lesson", "no-such-lesson",
                         "-o", str(typo), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"lesson 'no-such-lesson' has not been posted in course '{COURSE}'" in err
    assert SECOND in err and not typo.exists()

    mine = tmp_path / "bob.csv"
    bob = room.students["bob"]
    assert await export(["--config", str(config), "export", "--course", COURSE, "--student",
                    str(bob), "-o", str(mine)]) == 0
    assert f"2 recorded replies of student {bob}" in capsys.readouterr().out
    exported = read_csv(mine.read_bytes())
    records = [r for r in exported if r["record"] == "replies"]
    assert {r["author_id"] for r in records} == {str(bob)}
    assert [r["word_count"] for r in records] == ["3", "6"]
    assert records[0]["deleted_at"] != "" and records[1]["deleted_at"] == ""
    assert records[1]["reply_to_author_id"] == str(room.students["alice"])
    # The rest of what is recorded about bob comes too: here, that he turned reminders off,
    # and the counts kept for grading his one lesson.
    assert [(r["record"], r["user_id"] or r["author_id"]) for r in exported
            if r["record"] != "replies"] == [("reminder_opt_outs", str(bob)),
                                            ("lesson_work", str(bob))]


async def export(argv: list[str]) -> int:
    """Run ``seminar ...`` as from a shell (in a thread: the CLI runs its own event loop)."""
    return await asyncio.to_thread(seminar, argv)


def test_seminar_export_says_what_is_wrong(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = room.write_config(emulator, tmp_path)
    out = str(tmp_path / "x.csv")
    assert seminar(["--config", str(config), "export", "--course", "nope", "-o", out]) == 1
    assert "no course named 'nope'" in capsys.readouterr().err
    assert seminar(["--config", str(config), "export", "--course", COURSE, "-o", out]) == 1
    assert "there is no database at" in capsys.readouterr().err
    assert seminar(["--config", str(config), "export", "--course", COURSE, "--student", "7",
                    "--lesson", SEED, "-o", out]) == 1
    assert "leave out --lesson" in capsys.readouterr().err
    for not_an_id in ("@bob", "99999999999999999999999", "０１２"):  # too large, fullwidth
        with pytest.raises(SystemExit):
            seminar(["--config", str(config), "export", "--course", COURSE, "--student",
                     not_an_id, "-o", out])
        assert "is not a Discord user id" in capsys.readouterr().err
    assert not Path(out).exists()
