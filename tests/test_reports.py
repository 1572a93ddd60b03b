"""The pure participation reports: numbers, gradebook CSV, chart PNG and Discord text pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import replace
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.core.charts import chart_png
from bot.core.config import Checkpoint, GradingSettings
from bot.core.reports import (
    CSV_COLUMNS,
    GRADE_COLUMNS,
    IDENTITY_COLUMNS,
    CheckpointDeadline,
    LessonLine,
    ReminderOutcome,
    StudentStats,
    StudentSummary,
    checkpoint_deadlines,
    escape_for_discord,
    left_alone,
    left_alone_line,
    records_csv,
    reminder_at,
    reminder_summary,
    reminder_texts,
    stats_text,
    student_stats,
    students_to_remind,
    summarise,
    table_pages,
    to_csv,
)
from storage.records import CutoffCounts, LessonTotal
from storage.records import StudentTotals as Totals

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# DST starts in New York on 2026-03-08: local noon that day is 16:00 UTC, not 17:00.
GRADING = GradingSettings(
    min_words=10,
    required_peer_replies=1,
    checkpoints=[
        Checkpoint(name="First reply", by=dt.datetime(2026, 3, 8, 12, 0), replies=1),  # noqa: DTZ001
        Checkpoint(name="Peer reply", by=dt.datetime(2026, 3, 10, 23, 59), peer_replies=1),  # noqa: DTZ001
    ],
)
ROSTER = {1: "Alice", 2: "bob", 3: "Élodie", 4: "Zed"}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


FIRST_REPLY, PEER_REPLY = checkpoint_deadlines(GRADING, NEW_YORK)
DEADLINES = [FIRST_REPLY, PEER_REPLY]


def totals(author: int, name: str, replies: int, substantive: int, words: int, questions: int,
           peer: int, substantive_peer: int, late: int, first: dt.datetime,
           before: tuple[tuple[int, int], ...] = ()) -> Totals:
    """A row as the SQL summary returns it (the real storage type).

    ``before``: (substantive replies, substantive peer replies) before each of DEADLINES.
    """
    counts = tuple(CutoffCounts(d.cutoff, *c) for d, c in zip(DEADLINES, before, strict=False))
    return Totals(author_id=author, author_name=name, replies=replies,
                  substantive_replies=substantive, words=words, questions_answered=questions,
                  peer_replies=peer, late_replies=late, first_reply_at=first,
                  substantive_peer_replies=substantive_peer, before=counts)


# The course's totals: Alice replied at exactly the first checkpoint's minute, bob half an
# hour after local noon (EDT), Élodie a minute early; a teacher joined in. ``before``: what
# the SQL summary counts before each checkpoint's cutoff (bob: nothing by the first).
ALICE = totals(1, "Alice", 3, 2, 55, 2, 2, 1, 1, at(8, 16), before=((1, 0), (2, 1)))
BOB = totals(2, "bob", 2, 1, 15, 2, 1, 1, 0, at(8, 16, 30), before=((0, 0), (1, 1)))
ELODIE = totals(3, "Élodie", 1, 1, 10, 1, 0, 0, 0, at(8, 15, 59), before=((1, 0), (1, 0)))
TOM = totals(99, "Teacher Tom", 1, 1, 50, 1, 0, 0, 0, at(8, 14), before=((1, 0), (1, 0)))
TOTALS = [ALICE, BOB, ELODIE, TOM]


def report(**kwargs: object) -> list[StudentSummary]:
    return summarise(TOTALS, ROSTER, GRADING, DEADLINES, **kwargs)  # type: ignore[arg-type]


def by_id(summaries: list[StudentSummary]) -> dict[int, StudentSummary]:
    return {s.user_id: s for s in summaries}


# --- numbers ---------------------------------------------------------------------------------


def test_summary_carries_the_sql_numbers_and_grades_them() -> None:
    people = by_id(report())
    alice = people[1]
    assert (alice.replies, alice.substantive_replies, alice.words) == (3, 2, 55)
    assert (alice.questions_answered, alice.peer_replies, alice.substantive_peer_replies) == (
        2, 2, 1)
    assert (alice.late_replies, alice.on_time_replies) == (1, 2)
    assert alice.first_reply_at == at(8, 16)
    assert alice.status == "replied"
    assert alice.required_peer_replies_met
    assert not people[3].required_peer_replies_met  # Élodie: no substantive peer reply
    assert people[4].required_peer_replies == 1 and not people[4].required_peer_replies_met


def test_checkpoints_around_the_deadline_in_a_dst_zone() -> None:
    states = {uid: [c.state for c in s.checkpoints] for uid, s in by_id(report()).items()}
    assert states[1] == ["met", "met"]
    assert states[2] == ["not met", "met"]  # 12:30 EDT is after 12:00 EDT
    assert states[3] == ["met", "not met"]  # on time, but no peer reply
    assert states[4] == ["not met", "not met"]
    assert FIRST_REPLY.due_at == at(8, 16)
    # The whole minute of "by" counts: the SQL is asked for replies before 16:01.
    assert FIRST_REPLY.cutoff == at(8, 16, 1)
    assert PEER_REPLY.cutoff == dt.datetime(2026, 3, 11, 4, 0, tzinfo=UTC)


def test_short_replies_do_not_meet_a_checkpoint() -> None:
    # Replies before the cutoff, but none substantive (the SQL counted them with min_words).
    deadline = CheckpointDeadline(GRADING.checkpoints[0], at(8, 16))
    short = replace(totals(1, "Alice", 2, 0, 8, 1, 1, 0, 0, at(8, 15)),
                    before=(CutoffCounts(deadline.cutoff, 0, 0),))
    [alice] = summarise([short], {1: "Alice"}, GRADING, [deadline])
    assert [c.state for c in alice.checkpoints] == ["not met"]
    assert (alice.replies, alice.substantive_replies) == (2, 0)


def test_totals_counted_for_other_cutoffs_are_refused_not_graded() -> None:
    # ALICE was counted before both deadlines: graded against the second alone, her first
    # checkpoint's counts would be read as the second's.
    with pytest.raises(ValueError, match="totals of 1 were counted before"):
        summarise([ALICE], ROSTER, GRADING, [PEER_REPLY])
    with pytest.raises(ValueError, match="totals of 2 were counted before"):
        student_stats(2, "bob", BOB, GRADING, [PEER_REPLY, FIRST_REPLY])


def test_checkpoint_still_ahead_is_open() -> None:
    people = by_id(report(now=at(9, 0)))
    assert [c.state for c in people[3].checkpoints] == ["met", "open"]
    assert [c.state for c in people[4].checkpoints] == ["not met", "open"]
    # Until the end of the deadline's minute, a missing first reply is still open.
    assert [c.state for c in by_id(report(now=at(8, 16, 0, 30)))[4].checkpoints] == [
        "open", "open"]


def test_local_times_that_dst_skips_or_repeats() -> None:
    grading = GradingSettings(checkpoints=[
        Checkpoint(name="x", by=dt.datetime(2026, 3, 8, 2, 30)),  # noqa: DTZ001
        Checkpoint(name="y", by=dt.datetime(2026, 11, 1, 1, 30)),  # noqa: DTZ001
    ])
    skipped, repeated = checkpoint_deadlines(grading, NEW_YORK)
    assert skipped.due_at == at(8, 7, 30)  # 03:30 EDT
    assert repeated.due_at == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_missing_students_listed_last_and_order_ignores_case_and_accents() -> None:
    summaries = report()
    assert [s.display_name for s in summaries] == ["Alice", "bob", "Élodie", "Teacher Tom", "Zed"]
    assert [s.status for s in summaries] == ["replied"] * 3 + ["off-roster", "missing"]
    zed = summaries[-1]
    assert (zed.replies, zed.words, zed.first_reply_at) == (0, 0, None)


def test_a_lesson_scope_lists_roster_students_without_a_reply_to_it() -> None:
    # The SQL summary of one lesson: only bob replied to it.
    lesson = [totals(2, "bob", 1, 0, 3, 1, 0, 0, 0, at(8, 16, 40))]
    people = by_id(summarise(lesson, ROSTER, GRADING))
    assert [people[u].status for u in (1, 2, 3, 4)] == ["missing", "replied", "missing",
                                                        "missing"]
    assert (people[2].replies, people[2].words) == (1, 3)
    assert 99 not in people


def test_without_a_roster_nobody_is_missing() -> None:
    summaries = summarise(TOTALS, None, GRADING, DEADLINES)
    assert [s.user_id for s in summaries] == [1, 2, 3, 99]
    assert {s.status for s in summaries} == {"replied"}


def test_roster_name_wins_over_the_name_at_reply_time() -> None:
    rows = [totals(5, "old nick", 1, 0, 4, 1, 0, 0, 0, at(8, 1))]
    assert summarise(rows, {5: "New Nick"}, GRADING)[0].display_name == "New Nick"
    assert summarise(rows, None, GRADING)[0].display_name == "old nick"


def test_student_stats_show_only_that_student() -> None:
    lessons = [LessonTotal("l1", at(1, 9), 1, 1, 12), LessonTotal("l2", at(2, 9), 1, 1, 3),
               LessonTotal("l3", at(3, 9), 0, 0, 0)]
    stats = student_stats(2, "bob", BOB, GRADING, DEADLINES, lessons)
    mine = stats.summary
    assert (mine.user_id, mine.display_name, mine.replies, mine.words) == (2, "bob", 2, 15)
    assert [c.state for c in mine.checkpoints] == ["not met", "met"]
    assert stats.lessons == (LessonLine("l1", 1, 12), LessonLine("l2", 1, 3),
                             LessonLine("l3", 0, 0))
    with pytest.raises(ValueError, match="totals of 1 given for student 2"):
        student_stats(2, "bob", ALICE, GRADING)


def test_mystats_text_shows_own_numbers_lessons_and_rules() -> None:
    lessons = [LessonTotal("rome", at(1, 9), 2, 1, 40), LessonTotal("greece", at(2, 9), 0, 0, 0)]
    alice = replace(ALICE, before=ALICE.before[:1])  # counted for the first checkpoint only
    stats = student_stats(1, "Alice", alice, GRADING, [FIRST_REPLY], lessons)
    text = stats_text(stats, "History **101**", {"rome": "Rome _and_ Empire"})
    assert text.split("\n") == [
        "**Your participation in History \\*\\*101\\*\\***",
        "3 replies (2 substantive) · 55 words · 2 questions · 2 peer · 1 late · "
        f"first <t:{int(at(8, 16).timestamp())}:f> · ✅ peer replies 1/1 · ✅ First reply",
        "**Per lesson**",
        "• Rome \\_and\\_ Empire — 2 replies, 40 words",
        "• greece — no reply yet",
    ]


def test_mystats_for_someone_who_has_not_replied_is_one_friendly_sentence() -> None:
    stats = student_stats(4, "Zed", None, GRADING, [FIRST_REPLY])
    assert stats.summary.status == "missing"
    assert (stats.summary.display_name, stats.summary.replies) == ("Zed", 0)
    text = stats_text(stats, "History 101")
    assert text == ("You have not replied in any History 101 discussion yet. Open a question "
                    "thread under the latest lesson and add your thoughts: every reply counts "
                    "here.")


def test_mystats_with_many_lessons_fits_one_message() -> None:
    lessons = [LessonTotal(f"lesson-{i}", at(1, 9), i % 3, 1, 7 * i) for i in range(200)]
    stats = student_stats(1, "Alice", ALICE, GRADING, DEADLINES, lessons)
    text = stats_text(stats, "History 101")
    assert len(text) <= 2000
    assert text.endswith("more lessons")
    shown = text.count("\n• ")
    assert f"… and {200 - shown} more lessons" in text


# --- reminders -------------------------------------------------------------------------------


def test_who_is_reminded() -> None:
    assert students_to_remind([1, 2, 3, 4, 5], replied=[2, 9], opted_out=[4]) == [1, 3, 5]


def test_reminder_mentions_each_student_once_within_the_limit() -> None:
    due = at(12, 3, 59)
    ids = [100_000_000_000_000_000 + i for i in range(300)]
    messages = reminder_texts(ids, "Rome **now** @everyone", due, [11, 12])
    assert len(messages) > 1
    assert all(len(text) <= 2000 for text, _ in messages)
    assert [u for _, mentioned in messages for u in mentioned] == ids
    for text, mentioned in messages:
        assert re.findall(r"<@(\d+)>", text) == [str(u) for u in mentioned]
        assert "@everyone" not in text
        assert f"<t:{int(due.timestamp())}:R>" in text
        assert "<#11> <#12>" in text and "/reminders off" in text
    [(one, who)] = reminder_texts([7], "Rome", None)
    assert one == ("Reminder: <@7> — you have not replied to “Rome” yet. "
                   "(Use /reminders off to stop these.)")
    assert who == (7,)
    assert reminder_texts([], "Rome", None) == []


# --- CSV -------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_columns_and_values() -> None:
    data = to_csv(report(), GRADING)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = read_csv(data)
    assert rows[0] == [*CSV_COLUMNS, "checkpoint: First reply", "checkpoint: Peer reply",
                       *GRADE_COLUMNS, *IDENTITY_COLUMNS]
    table = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(table) == ["1", "2", "3", "99", "4"]
    alice = table["1"]
    assert alice["display_name"] == "Alice"
    assert (alice["replies"], alice["substantive_replies"], alice["words"]) == ("3", "2", "55")
    assert (alice["late_replies"], alice["on_time_replies"]) == ("1", "2")
    assert alice["first_reply_utc"] == "2026-03-08T16:00:00Z"
    assert table["2"]["checkpoint: First reply"] == "not met"
    assert table["3"]["required_peer_replies_met"] == "no"
    assert table["3"]["checkpoint: Peer reply"] == "not met"
    assert table["3"]["display_name"] == "Élodie"
    assert (table["4"]["status"], table["4"]["first_reply_utc"]) == ("missing", "")
    assert table["99"]["status"] == "off-roster"


def test_csv_names_round_trip_and_formulas_are_neutralised() -> None:
    names = {
        123456789012345678: 'Doe, "Jay"\nJr.',
        2: "=HYPERLINK(\"http://x\",\"y\")",
        3: "+1",
        4: "-2",
        5: "@SUM(A1)",
        6: "Zoë Åström 李",
    }
    data = to_csv(summarise([], names, GradingSettings()), GradingSettings())
    rows = read_csv(data)
    got = {row[0]: row[1] for row in rows[1:]}
    assert got["123456789012345678"] == 'Doe, "Jay"\nJr.'
    assert got["2"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert (got["3"], got["4"], got["5"]) == ("'+1", "'-2", "'@SUM(A1)")
    assert got["6"] == "Zoë Åström 李"
    assert b'"123456789012345678"' in data  # written as quoted text, every digit kept


def test_csv_header_is_stable_without_students_and_checkpoint_names_are_safe() -> None:
    grading = GradingSettings(checkpoints=[
        Checkpoint(name="=cmd", by=dt.datetime(2026, 1, 1)),  # noqa: DTZ001
        Checkpoint(name="=cmd", by=dt.datetime(2026, 2, 1)),  # noqa: DTZ001
    ])
    rows = read_csv(to_csv([], grading))
    assert rows == [[*CSV_COLUMNS, "checkpoint: =cmd", "checkpoint: =cmd (2)", *GRADE_COLUMNS,
                     *IDENTITY_COLUMNS]]


def test_records_csv_keeps_ids_times_and_text_safe() -> None:
    data = records_csv(["message_id", "created_at", "deleted_at", "late", "text"],
                       [[123456789012345678, at(8, 16, 0, 5), None, True, "=1+1"]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert read_csv(data) == [["message_id", "created_at", "deleted_at", "late", "text"],
                              ["123456789012345678", "2026-03-08T16:00:05Z", "", "yes", "'=1+1"]]


# --- chart -----------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


def test_chart_is_a_png_that_grows_with_the_class() -> None:
    summaries = report()
    small = png_size(chart_png(summaries, "Replies per student"))
    class_of_60 = {i: f"Student {i}" for i in range(60)}
    big = png_size(chart_png(summarise([], class_of_60, GRADING), "Everyone"))
    assert small[0] == big[0] == 800
    assert big[1] > small[1] * 3


def test_chart_caps_the_number_of_bars() -> None:
    counts = {f"lesson-{i}": i for i in range(200)}
    assert png_size(chart_png(counts, "Per lesson", max_bars=20)) == png_size(
        chart_png(dict(list(counts.items())[:20]), "Per lesson"))


def test_chart_draws_awkward_names_and_nothing_at_all() -> None:
    awkward = {"$unbalanced": 3, "$x^2$ math": 1, "**bold** 🎉 名前": 2,
               "a very long display name that goes on and on": 5, "line\nbreak": 0}
    width, height = png_size(chart_png(awkward, "Odd $ names"))
    assert (width, height) == (800, 270)
    assert png_size(chart_png({}, "Empty")) == (800, 250)


# --- text pages ------------------------------------------------------------------------------


def test_escape_keeps_markdown_and_mentions_inert() -> None:
    assert escape_for_discord("**x**") == r"\*\*x\*\*"
    assert escape_for_discord("@everyone") == "@\u200beveryone"
    assert escape_for_discord("<@123> `code` ||s|| [l](u)") == (
        "\\<@\u200b123\\> \\`code\\` \\|\\|s\\|\\| \\[l\\](u)")
    assert escape_for_discord("two\nlines\u202eevil") == "two linesevil"
    assert escape_for_discord("x" * 40) == "x" * 31 + "…"


def test_pages_fit_the_limit_and_list_every_student_once() -> None:
    nasty = ["**bold**", "@everyone", "`tick`", "__u__", "line\nbreak", "Zoë", "> quote"]
    roster = {i: f"{nasty[i % len(nasty)]} {i} " + "w" * (i % 30) for i in range(1, 151)}
    rows = [totals(i, roster[i], 1, 1, 5 * i, 1, i % 2, i % 2, 0, at(8, 10))
            for i in range(1, 151, 2)]
    summaries = summarise(rows, roster, GRADING)
    pages = table_pages(summaries, title="Participation: l1", max_chars=2000)
    assert len(pages) > 1
    assert all(len(page) <= 2000 for page in pages)
    assert pages[0].startswith(f"Participation: l1 (page 1/{len(pages)})")
    lines = [line for page in pages for line in page.split("\n")[1:]]
    assert len(lines) == 150
    for summary, line in zip(summaries, lines, strict=True):
        assert line.startswith(f"**{escape_for_discord(summary.display_name)}** — ")
    text = "\n".join(pages)
    assert "@everyone" not in text
    assert "no reply yet" in lines[-1]


def test_summary_line_shows_the_numbers_a_teacher_reads() -> None:
    summaries = report()
    [page] = table_pages(summaries, title="Participation")
    alice_line = page.split("\n")[1]
    assert alice_line == (
        "**Alice** — 3 replies (2 substantive) · 55 words · 2 questions · 2 peer · 1 late · "
        f"first <t:{int(at(8, 16).timestamp())}:f> · ✅ peer replies 1/1 · ✅ First reply · "
        "✅ Peer reply"
    )
    assert "**Teacher Tom**" in page and "(not in the student role)" in page
    assert re.search(r"^\*\*Zed\*\* — no reply yet$", page, re.MULTILINE)


def test_pages_with_no_students_and_a_too_small_limit() -> None:
    assert table_pages([], title="Participation") == [
        "Participation\nNo students and no replies yet."]
    with pytest.raises(ValueError, match="at least 200"):
        table_pages([], max_chars=50)


def test_the_teacher_is_told_what_a_reminder_did() -> None:
    nobody = ReminderOutcome(replied=3, opted_out=1)
    assert reminder_summary("Rome *falls*", nobody) == (
        "Nobody to remind about “Rome \\*falls\\*” (3 already replied, 1 turned reminders off).")
    some = ReminderOutcome(reminded=[7, 8], reminded_before=2, channel_id=55)
    assert reminder_summary("Rome", some) == (
        "Reminded 2 student(s) about “Rome” in <#55> (2 were reminded before). Each student "
        "is reminded once per lesson.")


def test_the_automatic_reminder_goes_hours_before_the_due_time_and_waits_after_a_failure() -> None:
    due = dt.datetime(2026, 9, 14, 23, 59, tzinfo=dt.UTC)
    assert reminder_at(due, 24) == dt.datetime(2026, 9, 13, 23, 59, tzinfo=dt.UTC)
    assert reminder_at(due, 1.5) == dt.datetime(2026, 9, 14, 22, 29, tzinfo=dt.UTC)
    retry = dt.datetime(2026, 9, 14, 0, 5, tzinfo=dt.UTC)
    assert reminder_at(due, 24, not_before=retry) == retry
    assert reminder_at(due, 1.5, not_before=retry) == dt.datetime(2026, 9, 14, 22, 29,
                                                                  tzinfo=dt.UTC)



def test_the_teacher_sees_who_replied_and_has_not_been_answered() -> None:
    summaries = report()
    # Tom is off the roster, Zed never replied: neither is "left alone".
    assert left_alone(summaries, answered={1}) == ["bob", "Élodie"]
    assert left_alone(summaries, answered={1, 2, 3}) == []
    assert left_alone_line([]) is None
    line = left_alone_line(["bob", "*Élodie*"])
    assert line == ("Nobody has answered yet, a reply from you or a classmate would bring them "
                    "into the discussion: **bob**, **\\*Élodie\\***")
    many = left_alone_line([f"s{i}" for i in range(30)])
    assert many is not None and many.startswith("Nobody has answered yet (30 students), ")
    # The line comes last, after every student, on the last page.
    pages = table_pages(summaries, title="Participation", max_chars=300, footer=line)
    assert len(pages) > 1
    assert pages[-1].endswith(line) and not any(line in page for page in pages[:-1])


def test_mystats_with_many_graded_lessons_keeps_the_latest_and_says_how_many_are_left_out(
) -> None:

    from bot.core.grading import CourseGrade, LessonScore

    due = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    scores = tuple(
        LessonScore(f"l{i:02d}", f"Lesson {i:02d} " + "x" * 60, Decimal(i % 10), Decimal(10),
                    ("answered 1 of 1 question required ✔ 10/10", "on time"), due)
        for i in range(40))
    summary = StudentSummary(7, "Ann", "replied", replies=40,
                             grade=CourseGrade(7, scores))
    text = stats_text(StudentStats(summary), "Biology")
    lines = text.split("\n")
    assert len(text) <= 2000
    assert lines[2].startswith("**Total: ")
    left_out = int(lines[4].split()[1])
    assert lines[4] == f"… {left_out} earlier lessons not listed"
    shown = [line for line in lines[5:]]
    assert len(shown) == 40 - left_out and shown[-1].startswith("• **Lesson 39 ")
    assert [line.split()[2] for line in shown] == [f"{i:02d}" for i in range(left_out, 40)]


def test_the_workbook_keeps_ids_as_text_names_as_written_and_a_sheet_per_lesson() -> None:
    import io as io_

    from openpyxl import load_workbook

    from bot.core.grading import CourseGrade, LessonScore
    from bot.core.reports import to_xlsx

    due = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    rome = LessonScore("rome", "Rome: the [first] day?", Decimal("7.5"), Decimal(10),
                       ("answered 1 of 2 questions required 7.5/10", "on time"), due)
    greece = LessonScore("greece", "Greece", Decimal(0), Decimal(10), ("no reply",), due,
                         state="open")
    big_id = 123456789012345678
    summaries = [
        StudentSummary(big_id, "=HYPERLINK(\"http://x\")", "replied", replies=2, words=40,
                       grade=CourseGrade(big_id, (rome, greece))),
        StudentSummary(7, "Zoë", "missing", grade=CourseGrade(7, (
            LessonScore("rome", "Rome: the [first] day?", Decimal(0), Decimal(10),
                        ("no reply",), due), greece))),
    ]
    book = load_workbook(io_.BytesIO(to_xlsx(summaries)))
    assert book.sheetnames == ["Totals", "Rome the first day", "Greece"]
    totals = [[c.value for c in row] for row in book["Totals"].iter_rows()]
    assert totals[0][:5] == ["user_id", "display_name", "grade", "points_possible", "status"]
    assert totals[1][:5] == [str(big_id), "=HYPERLINK(\"http://x\")", 7.5, 10, "replied"]
    assert book["Totals"]["A2"].data_type == "s" and book["Totals"]["B2"].data_type == "s"
    assert totals[2][:5] == ["7", "Zoë", 0, 10, "missing"]
    rome_rows = [[c.value for c in row] for row in book["Rome the first day"].iter_rows()]
    assert rome_rows[1] == [str(big_id), "=HYPERLINK(\"http://x\")", 7.5, 10, "yes",
                            "answered 1 of 2 questions required 7.5/10, on time"]
    assert [[c.value for c in row] for row in book["Greece"].iter_rows()][2][4] == (
        "not yet due")
