"""Roster files as the school's LMS exports them -> the students Seminar keeps."""

from __future__ import annotations

import pytest

from bot.core.roster import RosterError, parse_roster

# Canvas's gradebook export: a "Points Possible" row, the test student, an assignment column.
CANVAS = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Essay 1 (1234),Current Score\n"
    "    Points Possible,,,,,10,(read only)\n"
    '"Doe, Jane",1001,S-001,jdoe,Period 2,9,90\n'
    '"Student, Test",9999,,,Period 2,,\n'
    "Lee Min-jun,1002,S-002,mlee,Period 2,,\n"
    "Ana Núñez,1003,,anunez,Period 3,7,70\n"
)


def test_a_canvas_export_gives_its_students_without_the_points_row_or_the_test_student() -> None:
    roster = parse_roster(CANVAS, "grades.csv")
    assert roster.kind == "Canvas gradebook export"
    assert roster.columns == {"name": "Student", "lms_id": "ID", "sis_id": "SIS User ID",
                              "login": "SIS Login ID", "section": "Section"}
    assert [(s.key, s.name, s.lms_id, s.sis_id, s.login, s.section)
            for s in roster.students] == [
        ("sis:S-001", "Doe, Jane", "1001", "S-001", "jdoe", "Period 2"),
        ("sis:S-002", "Lee Min-jun", "1002", "S-002", "mlee", "Period 2"),
        # No SIS id: the LMS's own id identifies her (never confused with an SIS id).
        ("id:1003", "Ana Núñez", "1003", "", "anunez", "Period 3"),
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("Name;Student number;E-mail\nÉlodie Martin;2024-17;e.martin@school.fr\n",
     [("sis:2024-17", "Élodie Martin", "e.martin@school.fr")]),
    ("full_name\tusername\n王小明\twxm\n", [("login:wxm", "王小明", "")]),
    ("Student Name,Email Address\nAmir Haddad,amir@school.org\n\n,\n",
     [("email:amir@school.org", "Amir Haddad", "amir@school.org")]),
])
def test_a_plain_csv_is_read_by_its_headings(text: str,
                                             expected: list[tuple[str, str, str]]) -> None:
    roster = parse_roster(text)
    assert roster.kind == "CSV"
    assert [(s.key, s.name, s.email) for s in roster.students] == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("", "grades.csv: the file is empty: export the roster from your LMS (in Canvas: Grades > "
         "Export > Export Entire Gradebook)"),
    ("First,Last,Grade\nJane,Doe,A\n",
     "grades.csv: no roster columns recognised: the file needs a name (Student, Name), and a "
     "student id (ID, SIS User ID, Student ID) or a login (SIS Login ID, Username, Email) in "
     "its first row (its first row has: First, Last, Grade)"),
    ("Name,Email\n", "grades.csv: the roster lists no student (only its header)"),
])
def test_a_file_that_is_no_roster_is_refused_with_a_sentence(text: str, problem: str) -> None:
    with pytest.raises(RosterError) as raised:
        parse_roster(text, "grades.csv")
    assert raised.value.problems == [problem]


def test_rows_that_cannot_be_told_apart_are_each_named() -> None:
    text = "Name,Login\nJane Doe,jdoe\nJohn Roe,\nJane D.,jdoe\n"
    with pytest.raises(RosterError) as raised:
        parse_roster(text, "r.csv")
    assert raised.value.problems == [
        "r.csv:3: John Roe has no Login: fill it in, or remove the row",
        "r.csv:4: jdoe is also the student on line 2: each student once",
    ]
