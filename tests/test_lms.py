"""The LMS import files, unit by unit: titles Canvas reads as plain new titles, who goes into
a file and who is listed beside it, and cells no spreadsheet runs as a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from bot.core import lms
from bot.core.grading import CourseGrade, LessonScore
from bot.core.roster import RosterStudent, choices, matching, overview_pages
from storage.roster import RosterRecord

T = dt.datetime(2026, 9, 7, 12, tzinfo=dt.UTC)
ANN = RosterStudent("sis:S1", "=Ann", "11", "S1", "ann", "ann@school.example", "A")
BEN = RosterStudent("id:12", "Ben", "12", "", "ben", "", "A")


def score(lesson: str, points: str, state: str = "graded") -> LessonScore:
    return LessonScore(lesson, lesson.title(), Decimal(points), Decimal(10), ("on time",), T,
                       state=state)  # type: ignore[arg-type]


def entry(user: int, name: str, roster: RosterStudent | None,
          *scores: LessonScore) -> lms.Entry:
    return lms.Entry(user, name, name.lower(), roster, CourseGrade(user, scores))


POSTED = [lms.PostedItem("rome", "Rome", T, T + dt.timedelta(days=2)),
          lms.PostedItem("athens", "Rome", T, T + dt.timedelta(days=9)),
          lms.PostedItem("sparta", "Sparta", T, None)]


@pytest.mark.parametrize(("title", "expected"), [
    ("Week (12)", "Week [12]"),  # Canvas would read (12) as assignment 12
    ("Week (12) review", "Week (12) review"),
    ("Final Score of the term", "final score of the term"),  # a computed column's heading
    ("Two\nlines", "Two lines"),
    ("", "Lesson"),
    ("x" * 300, "x" * 255),
])
def test_a_column_title_is_one_canvas_reads_as_a_new_plain_title(title: str,
                                                                  expected: str) -> None:
    assert lms.column_title(title) == expected


def test_lessons_with_one_title_stay_two_columns_and_open_lessons_none() -> None:
    entries = [entry(1, "Ann", ANN, score("rome", "7.5"), score("athens", "10"),
                     score("sparta", "0", "open"))]
    items = lms.grade_items(POSTED, entries, "lessons", "Discussion")
    assert [(i.lesson, i.title) for i in items] == [
        ("rome", "Discussion: Rome"), ("athens", "Discussion: Rome – 2")]
    [total] = lms.grade_items(POSTED, entries, "total", "Discussion")
    assert (total.title, total.possible, total.due) == ("Discussion", Decimal(20),
                                                        T + dt.timedelta(days=9))


def test_canvas_rows_keep_names_as_text_and_leave_open_scores_blank() -> None:
    entries = [entry(1, "Ann", ANN, score("rome", "7.5"), score("athens", "0", "open"))]
    items = [lms.GradeItem("rome", "Rome", Decimal(10)), lms.GradeItem("athens", "Athens",
                                                                      Decimal(10))]
    rows = list(csv.reader(io.StringIO(lms.canvas_csv(entries, items).decode("utf-8-sig"))))
    assert rows == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Rome", "Athens"],
                    ["Points Possible", "", "", "", "", "10", "10"],
                    ["'=Ann", "11", "S1", "ann", "A", "7.5", ""]]


def test_members_a_format_cannot_carry_are_listed_with_the_reason() -> None:
    entries = [entry(1, "Ann", ANN, score("rome", "5")), entry(2, "Ben", BEN),
               entry(3, "Visitor", None)]
    kept, left = lms.split(entries, "sis_id", "SIS user id")
    assert [e.user_id for e in kept] == [1]
    assert [(e.user_id, why) for e, why in left] == [
        (2, "the roster has no SIS user id for Ben"),
        (3, "not linked to a student of the roster")]
    rows = list(csv.DictReader(io.StringIO(lms.unmatched_csv(left).decode("utf-8-sig"))))
    assert [(r["user_id"], r["username"], r["grade"], r["reason"]) for r in rows] == [
        ("2", "ben", "0", "the roster has no SIS user id for Ben"),
        ("3", "visitor", "0", "not linked to a student of the roster")]


def test_a_student_is_found_by_an_exact_id_login_or_email_only() -> None:
    roster = [ANN, BEN]
    assert matching(roster, "  S1 ") == [ANN]
    assert matching(roster, "ANN@school.example") == [ANN]
    assert matching(roster, "12") == [BEN]
    assert matching(roster, "an") == [] and matching(roster, "") == []


def test_the_roster_overview_pages_list_everyone_and_stay_within_a_message() -> None:
    students = [_stored(f"sis:S{i}", f"Student {i:03}", user=1000 + i if i % 3 == 0 else None)
                for i in range(120)]
    members = {1000 + i: f"member {i}" for i in range(0, 130, 2)}
    pages = overview_pages("History", students, members, limit=2000)
    assert len(pages) > 1 and all(len(page) <= 2000 for page in pages)
    text = "\n".join(pages)
    assert all(f"Student {i:03}" in text for i in range(120))
    assert "120 student(s), 40 linked" in pages[0]
    # A member linked to the roster is not listed as unlinked.
    assert "member 0 (" not in text and "member 2 (" in text
    assert [label for _, label in choices(students, "student 00")][:2] == [
        "Student 000 · S0", "Student 001 · S1"]


def _stored(key: str, name: str, *, user: int | None) -> RosterRecord:
    return RosterRecord("hist", key, name, "", key.split(":")[1], "", "", "A", user, T, None)
