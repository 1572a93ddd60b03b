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
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from bot.core.problems import Problems

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
