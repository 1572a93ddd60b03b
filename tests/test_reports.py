"""The pure participation reports: numbers, gradebook CSV, chart PNG and Discord text pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.config import Checkpoint, GradingSettings
from bot.reports import (
    CSV_COLUMNS,
    ReplyFact,
    StudentSummary,
    chart_png,
    checkpoint_due_utc,
    escape_for_discord,
    replies_by_lesson,
    student_stats,
    summarise,
    table_pages,
    to_csv,
)

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


def fact(author: int, name: str, lesson: str, question: int, when: dt.datetime, words: int,
         *, peer: bool = False, late: bool = False, deleted: bool = False) -> ReplyFact:
    return ReplyFact(author, name, lesson, question, when, words, peer, late, deleted)


FACTS = [
    # Alice: exactly at the first checkpoint, a short late peer reply, a long peer reply,
    # and a deleted reply that must count for nothing.
    fact(1, "Alice", "l1", 0, at(8, 16, 0, 0), 20),
    fact(1, "Alice", "l1", 1, at(9, 10), 5, peer=True, late=True),
    fact(1, "Alice", "l1", 1, at(9, 11), 30, peer=True),
    fact(1, "Alice", "l2", 0, at(7, 10), 100, deleted=True),
    # bob: half an hour after local noon (EDT): late for "First reply".
    fact(2, "bob", "l1", 0, at(8, 16, 30), 12, peer=True),
    fact(2, "bob", "l2", 0, at(8, 16, 40), 3),
    # Élodie: one minute early, exactly the minimum number of words.
    fact(3, "Élodie", "l1", 0, at(8, 15, 59), 10),
    # A teacher who joined in, and someone whose only reply was deleted.
    fact(99, "Teacher Tom", "l1", 0, at(8, 14), 50),
    fact(98, "Gone", "l1", 0, at(8, 14), 50, deleted=True),
]


def by_id(summaries: list[StudentSummary]) -> dict[int, StudentSummary]:
    return {s.user_id: s for s in summaries}


# --- numbers ---------------------------------------------------------------------------------


def test_summary_numbers_match_the_replies() -> None:
    people = by_id(summarise(FACTS, ROSTER, GRADING, NEW_YORK))
    alice = people[1]
    assert (alice.replies, alice.substantive_replies, alice.words) == (3, 2, 55)
    assert (alice.questions_answered, alice.peer_replies, alice.substantive_peer_replies) == (
        2, 2, 1)
    assert (alice.late_replies, alice.on_time_replies) == (1, 2)
    assert alice.first_reply_at == at(8, 16)
    assert alice.status == "replied"
    assert alice.required_peer_replies_met

    bob = people[2]
    assert (bob.replies, bob.substantive_replies, bob.words, bob.questions_answered) == (
        2, 1, 15, 2)
    assert (bob.peer_replies, bob.late_replies) == (1, 0)

    elodie = people[3]
    assert (elodie.replies, elodie.substantive_replies, elodie.words) == (1, 1, 10)
    assert not elodie.required_peer_replies_met


def test_checkpoints_around_the_deadline_in_a_dst_zone() -> None:
    people = by_id(summarise(FACTS, ROSTER, GRADING, NEW_YORK))
    states = {uid: [c.state for c in s.checkpoints] for uid, s in people.items()}
    assert states[1] == ["met", "met"]  # reply at exactly the deadline counts
    assert states[2] == ["not met", "met"]  # 12:30 EDT is after 12:00 EDT
    assert states[3] == ["met", "not met"]  # on time, but no peer reply
    assert states[4] == ["not met", "not met"]
    assert people[1].checkpoints[0].due_at == at(8, 16)


def test_short_replies_do_not_meet_a_checkpoint() -> None:
    grading = GradingSettings(min_words=50, checkpoints=GRADING.checkpoints)
    people = by_id(summarise(FACTS, ROSTER, grading, NEW_YORK))
    assert [c.state for c in people[1].checkpoints] == ["not met", "not met"]
    assert people[1].substantive_replies == 0
    assert people[1].replies == 3


def test_checkpoint_still_ahead_is_open() -> None:
    people = by_id(summarise(FACTS, ROSTER, GRADING, NEW_YORK, now=at(9, 0)))
    assert [c.state for c in people[3].checkpoints] == ["met", "open"]
    assert [c.state for c in people[4].checkpoints] == ["not met", "open"]


def test_local_times_that_dst_skips_or_repeats() -> None:
    skipped = Checkpoint(name="x", by=dt.datetime(2026, 3, 8, 2, 30))  # noqa: DTZ001
    repeated = Checkpoint(name="y", by=dt.datetime(2026, 11, 1, 1, 30))  # noqa: DTZ001
    assert checkpoint_due_utc(skipped, NEW_YORK) == at(8, 7, 30)  # 03:30 EDT
    assert checkpoint_due_utc(repeated, NEW_YORK) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_missing_students_listed_last_and_order_ignores_case_and_accents() -> None:
    summaries = summarise(FACTS, ROSTER, GRADING, NEW_YORK)
    assert [s.display_name for s in summaries] == ["Alice", "bob", "Élodie", "Teacher Tom", "Zed"]
    assert [s.status for s in summaries] == ["replied"] * 3 + ["off-roster", "missing"]
    assert 98 not in by_id(summaries)  # only a deleted reply, not on the roster
    zed = summaries[-1]
    assert (zed.replies, zed.words, zed.first_reply_at) == (0, 0, None)


def test_lesson_filter_counts_only_that_lesson() -> None:
    people = by_id(summarise(FACTS, ROSTER, GRADING, NEW_YORK, lessons=["l2"]))
    assert people[1].status == "missing"  # her only l2 reply was deleted
    assert (people[2].replies, people[2].words) == (1, 3)
    assert people[3].status == "missing"
    assert 99 not in people


def test_without_a_roster_nobody_is_missing() -> None:
    summaries = summarise(FACTS, None, GRADING, NEW_YORK)
    assert [s.user_id for s in summaries] == [1, 2, 3, 99]
    assert {s.status for s in summaries} == {"replied"}


def test_roster_name_wins_over_the_name_at_reply_time() -> None:
    facts = [fact(5, "old nick", "l1", 0, at(8, 1), 4)]
    assert summarise(facts, {5: "New Nick"}, GRADING, NEW_YORK)[0].display_name == "New Nick"


def test_naive_reply_time_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="without a time zone"):
        fact(1, "a", "l1", 0, dt.datetime(2026, 3, 8, 12), 3)  # noqa: DTZ001


def test_student_stats_show_only_that_student() -> None:
    stats = student_stats(FACTS, 2, GRADING, NEW_YORK, lessons=["l1", "l2", "l3"])
    mine = stats.summary
    assert (mine.user_id, mine.display_name, mine.replies, mine.words) == (2, "bob", 2, 15)
    assert [c.state for c in mine.checkpoints] == ["not met", "met"]
    assert stats.replies_by_lesson == (("l1", 1), ("l2", 1), ("l3", 0))


def test_student_stats_for_someone_who_has_not_replied() -> None:
    stats = student_stats(FACTS, 4, GRADING, NEW_YORK, display_name="Zed")
    assert stats.summary.status == "missing"
    assert (stats.summary.display_name, stats.summary.replies) == ("Zed", 0)
    assert stats.replies_by_lesson == ()


def test_replies_by_lesson_skips_deleted() -> None:
    assert replies_by_lesson(FACTS) == {"l1": 6, "l2": 1}
    assert replies_by_lesson(FACTS, ["l2", "l1"]) == {"l2": 1, "l1": 6}


# --- CSV -------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_columns_and_values() -> None:
    data = to_csv(summarise(FACTS, ROSTER, GRADING, NEW_YORK), GRADING)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = read_csv(data)
    assert rows[0] == [*CSV_COLUMNS, "checkpoint: First reply", "checkpoint: Peer reply"]
    table = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(table) == ["1", "2", "3", "99", "4"]
    alice = table["1"]
    assert alice["display_name"] == "Alice"
    assert (alice["replies"], alice["substantive_replies"], alice["words"]) == ("3", "2", "55")
    assert (alice["late_replies"], alice["on_time_replies"]) == ("1", "2")
    assert alice["first_reply_utc"] == "2026-03-08T16:00:00Z"
    assert table["2"]["checkpoint: First reply"] == "not met"
    assert table["3"]["required_peer_replies_met"] == "no"
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
    data = to_csv(summarise([], names, GradingSettings(), NEW_YORK), GradingSettings())
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
    assert rows == [[*CSV_COLUMNS, "checkpoint: =cmd", "checkpoint: =cmd (2)"]]


# --- chart -----------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


def test_chart_is_a_png_that_grows_with_the_class() -> None:
    summaries = summarise(FACTS, ROSTER, GRADING, NEW_YORK)
    small = png_size(chart_png(summaries, "Replies per student"))
    class_of_60 = {i: f"Student {i}" for i in range(60)}
    big = png_size(chart_png(summarise([], class_of_60, GRADING, NEW_YORK), "Everyone"))
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
    facts = [fact(i, roster[i], "l1", 0, at(8, 10), 5 * i, peer=i % 2 == 0) for i in
             range(1, 151, 2)]
    summaries = summarise(facts, roster, GRADING, NEW_YORK)
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
    summaries = summarise(FACTS, ROSTER, GRADING, NEW_YORK)
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


def test_reports_import_neither_discord_nor_sqlalchemy_nor_matplotlib() -> None:
    code = ("import sys, bot.reports; "
            "print(sorted(m for m in ('discord', 'sqlalchemy', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
