"""A class roster exported from the school's LMS -> the students it lists.

Pure: no discord.py, no SQLAlchemy. Two kinds of file are read, recognised by their header:

- Canvas's gradebook export: ``Student, ID, SIS User ID, SIS Login ID, Section`` and then one
  column per assignment; its ``Points Possible`` row (and a muted row of dashes) is not a
  student, and neither is Canvas's ``Student, Test``.
- A plain CSV with a name, a student id, and a login or an e-mail, under common headings
  (``name``, ``student id``, ``login``, ``email``...): see :data:`HEADINGS`.

Commas, semicolons (a spreadsheet set to a European locale) and tabs all separate columns;
the file is UTF-8 (a byte-order mark allowed). A file with none of the recognised columns,
or whose students cannot be told apart, is refused with a sentence saying what to fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from bot.core.problems import Problems
from bot.core.render import escape_for_discord

Field = Literal["name", "lms_id", "sis_id", "login", "email", "section"]

#: The headings recognised, by field, compared without case, spaces, dots, dashes or
#: underscores. Canvas's own first.
HEADINGS: dict[Field, tuple[str, ...]] = {
    "name": ("student", "name", "full name", "student name", "display name", "sortable name",
             "last name, first name", "nom", "nombre"),
    "lms_id": ("id", "canvas id", "user id", "canvas user id"),
    "sis_id": ("sis user id", "student id", "student number", "sis id", "id number",
               "idnumber", "matriculation number", "student no"),
    "login": ("sis login id", "login", "login id", "username", "user name", "user login"),
    "email": ("email", "e mail", "email address", "e mail address", "mail"),
    "section": ("section", "sections", "class", "group", "course section"),
}
#: A key names the column it came from, so an LMS id can never meet a login or an e-mail.
KEY_PREFIX: dict[Field, str] = {"sis_id": "sis", "lms_id": "id", "login": "login",
                                "email": "email", "name": "name", "section": "section"}
#: Rows of a Canvas export that are not students.
NOT_STUDENTS = ("points possible", "student, test", "test student")
MAX_ROSTER_ROWS = 20_000


class StudentLike(Protocol):
    """A roster student's identifying fields (a parsed row, or one stored)."""

    @property
    def sis_id(self) -> str: ...
    @property
    def login(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def lms_id(self) -> str: ...


StudentT = TypeVar("StudentT", bound=StudentLike)


class RosterError(Problems):
    """The roster file cannot be used; ``problems`` says what to fix."""


@dataclass(frozen=True, slots=True)
class RosterStudent:
    """One student of the roster. ``key`` identifies them from one import to the next."""

    key: str
    name: str
    lms_id: str
    sis_id: str
    login: str
    email: str
    section: str


@dataclass(frozen=True, slots=True)
class Roster:
    """The students of a roster file, and which of its columns were read as what."""

    students: tuple[RosterStudent, ...]
    columns: dict[Field, str]
    kind: Literal["Canvas gradebook export", "CSV"]


def _heading(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    return re.sub(r"[\s._\-]+", " ", folded).strip()


def _recognise(header: list[str]) -> dict[Field, int]:
    """Each field's column: the first heading that names it."""
    found: dict[Field, int] = {}
    for index, cell in enumerate(header):
        heading = _heading(cell)
        for field, names in HEADINGS.items():
            if field not in found and heading in names:
                found[field] = index
                break
    return found


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
    separator = max(counts, key=lambda sep: counts[sep])

    class Separated(csv.excel):
        delimiter = separator

    return Separated if counts[separator] else csv.excel


def parse_roster(text: str, source: str = "roster") -> Roster:
    """The students of a roster file's text; :class:`RosterError` says what is wrong.

    A student's ``key`` is their SIS user id, else their LMS id, else their login or e-mail
    (``sis:S-1``, ``id:1001``...): what stays the same when the file is exported again. Two
    rows with one key are refused.
    """
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), _dialect(text))
            if any(cell.strip() for cell in row)]
    if not rows:
        raise RosterError([f"{source}: the file is empty: export the roster from your LMS "
                           "(in Canvas: Grades > Export > Export Entire Gradebook)"])
    header = rows[0]
    columns = _recognise(header)
    identifying = [f for f in ("sis_id", "lms_id", "login", "email") if f in columns]
    if "name" not in columns or not identifying:
        wanted = ("a name (Student, Name), and a student id (ID, SIS User ID, Student ID) "
                  "or a login (SIS Login ID, Username, Email)")
        seen = ", ".join(cell.strip() for cell in header[:8] if cell.strip()) or "none"
        raise RosterError([f"{source}: no roster columns recognised: the file needs {wanted} "
                           f"in its first row (its first row has: {seen})"])
    kind: Literal["Canvas gradebook export", "CSV"] = (
        "Canvas gradebook export"
        if {"name", "lms_id", "sis_id", "login"} <= columns.keys()
        and _heading(header[columns["name"]]) == "student" else "CSV")
    if len(rows) - 1 > MAX_ROSTER_ROWS:
        raise RosterError([f"{source}: {len(rows) - 1:,} rows; a class roster has at most "
                           f"{MAX_ROSTER_ROWS:,}: is it the right file?"])

    def cell(row: list[str], field: Field) -> str:
        index = columns.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""

    students: list[RosterStudent] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for line, row in enumerate(rows[1:], 2):
        name = cell(row, "name")
        if _heading(name) in NOT_STUDENTS or not name.strip("-"):
            continue
        found = next((f for f in identifying if cell(row, f)), None)
        key = f"{KEY_PREFIX[found]}:{cell(row, found)}" if found is not None else ""
        if not key:
            problems.append(f"{source}:{line}: {name[:60]} has no "
                            f"{' or '.join(header[columns[f]] for f in identifying)}: "
                            "fill it in, or remove the row")
            continue
        if key in first_line:
            problems.append(f"{source}:{line}: {cell(row, found or 'name')} is also the "
                            f"student on line "
                            f"{first_line[key]}: each student once")
            continue
        first_line[key] = line
        students.append(RosterStudent(key, name, cell(row, "lms_id"), cell(row, "sis_id"),
                                      cell(row, "login"), cell(row, "email"),
                                      cell(row, "section")))
    if problems:
        raise RosterError(problems)
    if not students:
        raise RosterError([f"{source}: the roster lists no student (only its header)"])
    return Roster(tuple(students), {f: header[i].strip() for f, i in columns.items()}, kind)


#: The fields a student may type to find themself on the roster (``/link``).
LINK_FIELDS: tuple[Field, ...] = ("sis_id", "login", "email", "lms_id")
MAX_TYPED_ID = 100


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def matching(students: Iterable[StudentT], typed: str) -> list[StudentT]:
    """The roster students whose student id, login, e-mail or LMS id is ``typed``.

    Compared without case or surrounding spaces, never guessed: no partial match.
    """
    wanted = _folded(typed)
    if not wanted:
        return []
    return [s for s in students
            if any(wanted == _folded(getattr(s, field)) for field in LINK_FIELDS
                   if getattr(s, field))]


class StoredStudent(StudentLike, Protocol):
    """A roster student as stored: also their key, name, member and whether they left."""

    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def left_at(self) -> dt.datetime | None: ...


StoredT = TypeVar("StoredT", bound=StoredStudent)


def _label(student: StoredStudent) -> str:
    return f"{student.name} · {student.sis_id or student.login or student.email or student.key}"


def choices(students: Iterable[StoredT], typed: str) -> list[tuple[StoredT, str]]:
    """Roster students for a teacher's autocomplete: those whose name or ids contain
    ``typed`` (all when empty), names starting with it first; each with its label."""
    wanted = _folded(typed)
    found = [(s, _label(s)) for s in students
             if not wanted or wanted in _folded(_label(s)) or wanted in _folded(s.key)]
    found.sort(key=lambda pair: (not _folded(pair[0].name).startswith(wanted),
                                 _folded(pair[0].name)))
    return found


def overview_pages(course_name: str, students: Sequence[StoredStudent],
                   members: Mapping[int, str], *, limit: int = 2000) -> list[str]:
    """``/roster show``: counts, members not linked, roster students without a member, and
    every link (so that a wrong one stands out); in pages of at most ``limit`` characters."""
    linked = {s.user_id: s for s in students if s.user_id is not None}
    present = [s for s in students if s.left_at is None]
    left = len(students) - len(present)
    lines = [f"**Roster of {escape_for_discord(course_name, max_length=100)}**: "
             f"{len(present)} student(s), {sum(1 for s in present if s.user_id)} linked"
             + (f", {left} left the course (kept with their records)" if left else "") + "."]
    if not students:
        lines.append("No roster yet: export the class list from your LMS and run "
                     "`seminar roster import FILE --course KEY`.")
    unlinked = sorted((name, user) for user, name in members.items() if user not in linked)
    if unlinked:
        lines.append(f"**Members with the student role not linked ({len(unlinked)})** — ask "
                     "them to `/link`, or use `/roster link`:")
        lines += [f"• {escape_for_discord(name)} (<@{user}>)" for name, user in unlinked]
    waiting = [s for s in present if s.user_id is None]
    if waiting:
        lines.append(f"**Roster students without a member ({len(waiting)})**:")
        lines += [f"• {escape_for_discord(_label(s), max_length=80)}" for s in waiting]
    if linked:
        lines.append(f"**Linked ({len(linked)})**:")
        lines += [f"• {escape_for_discord(s.name)} → <@{user}>"
                  + (" (left the course)" if s.left_at is not None else "")
                  for user, s in sorted(linked.items(), key=lambda p: _folded(p[1].name))]
    pages: list[str] = []
    page = ""
    for line in lines:
        if page and len(page) + 1 + len(line) > limit:
            pages.append(page)
            page = ""
        page = f"{page}\n{line}" if page else line[:limit]
    return [*pages, page]
