"""Graded students -> the files a school's LMS imports as they are.

Pure: no discord.py, no SQLAlchemy. Each format is written from its published description:

- **Canvas** gradebook import CSV: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one
  column per assignment, and a ``Points Possible`` row under the header. Canvas finds each
  student by ``ID`` (its user id), then the SIS ids, then the name; it matches a column to an
  assignment by the id in ``Title (123)`` or else by its exact title, and creates the
  assignment the first time. So a column title never ends in ``(digits)``, never contains a
  heading Canvas reads as a computed column (``Final Score``...), and stays the same from one
  export to the next: importing twice updates the same assignment.
- **Moodle** grade import CSV: one column identifying the user (``Email address``,
  ``Username`` or ``ID number``, the teacher's pick), then one column per grade item; on
  import the teacher maps the first to the same user field and each other to its grade item.
- **OneRoster 1.1** CSV (a zip): ``manifest.csv``, ``categories.csv``, ``lineItems.csv`` and
  ``results.csv``, in *delta* mode (``status`` and ``dateLastModified`` filled in), so that an
  import adds or updates these line items and results and deletes nothing else. Source ids are
  stable (``seminar-COURSE-LESSON``...): importing twice updates the same rows.

Only students on the course's roster, linked to their Discord account and carrying the id the
format needs, go into an import file; everyone else is listed by :func:`unmatched_csv` with
the reason, never silently dropped. A grade item is a lesson (its score) or the course total.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.core.grading import CourseGrade, number
from bot.core.render import one_line
from bot.core.reports import csv_safe
from bot.core.roster import RosterStudent

Items = Literal["total", "lessons"]
MoodleKey = Literal["email", "username", "idnumber"]

#: The gradebook's file formats, by the name a teacher picks, with what each is.
FORMATS: dict[str, str] = {
    "csv": "CSV: one row per student, every count and the reasons",
    "xlsx": "Excel workbook: totals, a sheet per lesson with the reasons",
    "canvas": "Canvas gradebook import (CSV)",
    "moodle": "Moodle grade import (CSV)",
    "oneroster": "OneRoster 1.1 results (a zip of CSV files)",
}
#: The formats an LMS imports: they carry the roster's students.
LMS_FORMATS = ("canvas", "moodle", "oneroster")
ITEMS: tuple[Items, ...] = ("total", "lessons")
MOODLE_KEYS: tuple[MoodleKey, ...] = ("email", "username", "idnumber")

#: Canvas's student columns, in the order its importer reads them.
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
#: Headings Canvas's importer takes for computed columns wherever they appear in a title.
CANVAS_COMPUTED = ("Current Score", "Current Points", "Current Grade", "Final Score",
                   "Final Points", "Final Grade", "Override Score", "Override Grade",
                   "Override Status")
CANVAS_TITLE_LIMIT = 255
#: Moodle's user field headings (as its own export names them), by the teacher's pick.
MOODLE_HEADINGS: dict[MoodleKey, str] = {
    "email": "Email address", "username": "Username", "idnumber": "ID number"}
_MOODLE_FIELDS: dict[MoodleKey, str] = {"email": "email", "username": "login",
                                        "idnumber": "sis_id"}
_MOODLE_WORDS: dict[MoodleKey, str] = {"email": "e-mail", "username": "login",
                                       "idnumber": "student id"}

ONEROSTER_MANIFEST_FILES = ("academicSessions", "categories", "classes", "classResources",
                            "courses", "courseResources", "demographics", "enrollments",
                            "lineItems", "orgs", "resources", "results", "users")
ONEROSTER_WRITTEN = ("categories", "lineItems", "results")
ONEROSTER_CATEGORY_COLUMNS = ("sourcedId", "status", "dateLastModified", "title")
ONEROSTER_LINE_ITEM_COLUMNS = ("sourcedId", "status", "dateLastModified", "title",
                               "description", "assignDate", "dueDate", "classSourcedId",
                               "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
                               "resultValueMax")
ONEROSTER_RESULT_COLUMNS = ("sourcedId", "status", "dateLastModified", "lineItemSourcedId",
                            "studentSourcedId", "scoreStatus", "score", "scoreDate", "comment")
UNMATCHED_COLUMNS = ("user_id", "username", "display_name", "grade", "points_possible",
                     "reason")


class ExportProblem(ValueError):
    """The export cannot be made as asked; the message says what to do."""


@dataclass(frozen=True, slots=True)
class GradeItem:
    """A column of the gradebook: one lesson (``lesson`` is its slug) or the total (``None``)."""

    lesson: str | None
    title: str
    possible: Decimal
    assigned: dt.datetime | None = None
    due: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One student to export: their Discord account, their roster row (if linked), their grade."""

    user_id: int
    display_name: str
    username: str
    roster: RosterStudent | None
    grade: CourseGrade | None


@dataclass(frozen=True, slots=True)
class PostedItem:
    """A posted lesson as the exports name and date it."""

    lesson: str
    title: str
    assigned: dt.datetime | None
    due: dt.datetime | None


def column_title(text: str) -> str:
    """A grade item's title that Canvas (and the others) read as a plain new title.

    One line; no ``(digits)`` at the end (Canvas reads it as an assignment id), no computed
    column heading inside it; at most 255 characters.
    """
    title = one_line(text)
    title = re.sub(r"\s*\((\d+)\)\s*$", r" [\1]", title)
    for heading in CANVAS_COMPUTED:
        title = title.replace(heading, heading.lower())
    return title[:CANVAS_TITLE_LIMIT].strip() or "Lesson"


def grade_items(posted: Sequence[PostedItem], entries: Sequence[Entry], items: Items,
                title: str) -> list[GradeItem]:
    """The grade items of an export: the course total, or each lesson graded for someone.

    A lesson not yet due for anyone is left out (nothing to import yet); the total is out of
    the most any student's graded lessons are worth.
    """
    grades = [e.grade for e in entries if e.grade is not None]
    if items == "total":
        possible = max((g.possible for g in grades), default=Decimal(0))
        first = min((p.assigned for p in posted if p.assigned), default=None)
        last = max((p.due for p in posted if p.due), default=None)
        return [GradeItem(None, column_title(title), possible, first, last)]
    graded: dict[str, Decimal] = {}
    for grade in grades:
        for score in grade.lessons:
            if score.state != "open":
                graded[score.lesson] = max(graded.get(score.lesson, Decimal(0)), score.possible)
    out: list[GradeItem] = []
    taken: set[str] = set()
    for p in posted:
        if p.lesson not in graded:
            continue
        name, n = column_title(f"{title}: {p.title}"), 2
        while name.casefold() in taken:  # two lessons with one title stay two columns
            name, n = column_title(f"{title}: {p.title} – {n}"), n + 1
        taken.add(name.casefold())
        out.append(GradeItem(p.lesson, name, graded[p.lesson], p.assigned, p.due))
    return out


def points(entry: Entry, item: GradeItem) -> Decimal | None:
    """The entry's points for an item: None when there is nothing to import (not yet due)."""
    grade = entry.grade
    if grade is None:
        return None
    if item.lesson is None:
        return grade.total
    for score in grade.lessons:
        if score.lesson == item.lesson:
            return None if score.state == "open" else score.points
    return None


def _comment(entry: Entry, item: GradeItem) -> str:
    """Why the entry has its points for an item, in plain words (a OneRoster comment)."""
    grade = entry.grade
    if grade is None:
        return ""
    if item.lesson is None:
        return grade.summary()
    return next((score.line() for score in grade.lessons if score.lesson == item.lesson), "")


# --- who goes where --------------------------------------------------------------------------


def split(entries: Iterable[Entry], needs: str | None = None,
          what: str = "") -> tuple[list[Entry], list[tuple[Entry, str]]]:
    """The entries an import file can carry, and the others with the reason.

    ``needs`` names the roster field the format identifies students by (None: any roster row
    will do); ``what`` says it in words for the reason.
    """
    kept: list[Entry] = []
    left: list[tuple[Entry, str]] = []
    for entry in entries:
        if entry.roster is None:
            left.append((entry, "not linked to a student of the roster"))
        elif needs is not None and not getattr(entry.roster, needs):
            left.append((entry, f"the roster has no {what} for {entry.roster.name}"))
        else:
            kept.append(entry)
    return kept, left


def _csv(rows: Iterable[Sequence[object]], *, bom: bool = True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def unmatched_csv(left: Sequence[tuple[Entry, str]]) -> bytes:
    """The members an import file leaves out, with their grade and why (for the teacher)."""
    rows: list[Sequence[object]] = [UNMATCHED_COLUMNS]
    for entry, reason in left:
        grade = entry.grade
        rows.append([str(entry.user_id), csv_safe(entry.username), csv_safe(entry.display_name),
                     number(grade.total) if grade else "",
                     number(grade.possible) if grade else "", reason])
    return _csv(rows)


# --- Canvas -----------------------------------------------------------------------------------


def canvas_csv(entries: Sequence[Entry], items: Sequence[GradeItem]) -> bytes:
    """Canvas's gradebook import file: student columns, one column per item, Points Possible.

    Pass only entries with a roster row (:func:`split`).
    """
    rows: list[Sequence[object]] = [
        [*CANVAS_STUDENT_COLUMNS, *(item.title for item in items)],
        [CANVAS_POINTS_ROW, "", "", "", "", *(number(item.possible) for item in items)],
    ]
    for entry in entries:
        student = entry.roster
        assert student is not None
        scores = [points(entry, item) for item in items]
        rows.append([csv_safe(student.name), student.lms_id, student.sis_id, student.login,
                     csv_safe(student.section),
                     *("" if s is None else number(s) for s in scores)])
    return _csv(rows)


# --- Moodle -----------------------------------------------------------------------------------


def moodle_field(key: MoodleKey) -> tuple[str, str]:
    """The roster field a Moodle key is read from, and that field in words."""
    return _MOODLE_FIELDS[key], _MOODLE_WORDS[key]


def moodle_csv(entries: Sequence[Entry], items: Sequence[GradeItem], key: MoodleKey) -> bytes:
    """Moodle's grade import file: the user field, then one column per grade item.

    Pass only entries whose roster row has the field (:func:`split`).
    """
    field, _ = moodle_field(key)
    rows: list[Sequence[object]] = [[MOODLE_HEADINGS[key], *(item.title for item in items)]]
    for entry in entries:
        assert entry.roster is not None
        scores = [points(entry, item) for item in items]
        rows.append([getattr(entry.roster, field),
                     *("" if s is None else number(s) for s in scores)])
    return _csv(rows, bom=False)


# --- OneRoster --------------------------------------------------------------------------------


def _sourced(*parts: str) -> str:
    """A stable sourcedId made of the parts (letters, digits, ``-`` ``_`` ``.`` only)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", part) for part in ("seminar", *parts))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _date(moment: dt.datetime | None, fallback: dt.datetime) -> str:
    return (moment or fallback).astimezone(dt.UTC).date().isoformat()


def oneroster_zip(entries: Sequence[Entry], items: Sequence[GradeItem], *, course_key: str,
                  class_id: str, grading_period_id: str, now: dt.datetime,
                  category_title: str) -> bytes:
    """OneRoster 1.1 CSV files, zipped: the grade items as line items, the scores as results.

    Students are identified by their roster ``SIS User ID`` (the SIS's sourcedId): pass only
    entries that have one (:func:`split`).
    """
    modified = _iso(now)
    category = _sourced(course_key, "category")
    manifest: list[Sequence[object]] = [
        ("propertyName", "value"), ("manifest.version", "1.0"), ("oneroster.version", "1.1")]
    manifest += [(f"file.{name}", "delta" if name in ONEROSTER_WRITTEN else "absent")
                 for name in ONEROSTER_MANIFEST_FILES]
    manifest += [("source.systemName", "Seminar"), ("source.systemCode", course_key)]
    categories = [ONEROSTER_CATEGORY_COLUMNS, (category, "active", modified, category_title)]
    line_items: list[Sequence[object]] = [ONEROSTER_LINE_ITEM_COLUMNS]
    results: list[Sequence[object]] = [ONEROSTER_RESULT_COLUMNS]
    for item in items:
        item_id = _sourced(course_key, item.lesson or "total")
        line_items.append((item_id, "active", modified, item.title, "Discussion participation "
                           "graded by Seminar", _date(item.assigned, now), _date(item.due, now),
                           class_id, category, grading_period_id, "0", number(item.possible)))
        for entry in entries:
            assert entry.roster is not None
            score = points(entry, item)
            if score is None:
                continue
            student = entry.roster.sis_id
            results.append((_sourced(course_key, item.lesson or "total", student), "active",
                            modified, item_id, student, "fully graded", number(score),
                            _date(now, now), _comment(entry, item)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in (("manifest", manifest), ("categories", categories),
                           ("lineItems", line_items), ("results", results)):
            archive.writestr(f"{name}.csv", _csv(rows, bom=False))
    return out.getvalue()
