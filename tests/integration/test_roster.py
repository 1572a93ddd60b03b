"""A class roster with the real bot: imported from the LMS, students linking themselves (one
conflict, one id not on the roster, one linked by the teacher), and every export checked
against its format's published description.

The descriptions, as the tests below read them:

- Canvas's gradebook import: the header ``Student, ID, SIS User ID, SIS Login ID, Section``
  then one column per assignment; a second row whose first cell is ``Points Possible`` with
  each assignment's points; a student found by ``ID``, then the SIS ids; a column matched to
  an existing assignment by the id in ``Title (123)`` or by its exact title, a new one created
  otherwise. So: the same titles on every export, none ending in ``(digits)``.
- Moodle's grade import (CSV): a column with a user field (``Email address``...), then one
  column per grade item; numbers as grades.
- OneRoster 1.1 CSV: a zip with ``manifest.csv`` (``propertyName,value``: ``manifest.version``
  1.0, ``oneroster.version`` 1.1, ``file.NAME`` absent / bulk / delta for each of the 13
  files), ``categories.csv`` (sourcedId, status, dateLastModified, title), ``lineItems.csv``
  (sourcedId, status, dateLastModified, title, description, assignDate, dueDate,
  classSourcedId, categorySourcedId, gradingPeriodSourcedId, resultValueMin, resultValueMax)
  and ``results.csv`` (sourcedId, status, dateLastModified, lineItemSourcedId,
  studentSourcedId, scoreStatus, score, scoreDate, comment); in delta mode ``status`` and
  ``dateLastModified`` are filled in; dates are ``YYYY-MM-DD``, date-times ISO 8601 in UTC;
  ``scoreStatus`` one of exempt, fully graded, not submitted, partially graded, submitted;
  every file named in the manifest as present is in the zip.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.core.config import load_settings
from tests.emulator import DiscordEmulator
from tests.integration.classroom import Classroom, build_classroom, now, post_lesson, reply
from tests.integration.conftest import COURSE, StartBot
from tests.records import audit_log

DAY = dt.timedelta(days=1)
TITLE = "Stalin’s Crimes and Russia’s Future"
ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Email\n"
    "\"Anders, Alice\",101,A1,aanders,History 101 - A,alice@school.example\n"
    "\"Brown, Bob\",102,B2,bbrown,History 101 - A,bob@school.example\n"
    "\"Chen, Carol\",103,C3,cchen,History 101 - B,carol@school.example\n"
    "\"Diaz, Dave\",104,D4,ddiaz,History 101 - B,\n"
    "\"Zhou, Zoe\",105,Z9,zzhou,History 101 - B,zoe@school.example\n"
)
ONEROSTER = {"oneroster_class": "class-hist-101", "oneroster_grading_period": "gp-2026-fall"}
NOT_LINKED_START = "I could not link you with “"
SCORE_STATUSES = {"exempt", "fully graded", "not submitted", "partially graded", "submitted"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture
def room(emulator: DiscordEmulator) -> Classroom:
    return build_classroom(emulator, {name: None for name in
                                      ("alice", "bob", "carol", "dave", "erin")})


def table(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def files(result: Any) -> dict[str, bytes]:
    """The attachments of a command's answer, by the end of their file name."""
    return {a["filename"].rsplit("-", 1)[-1]: a["content"] for a in result.final().attachments}


async def test_students_link_themselves_and_every_export_matches_its_format(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = now()
    s = room.students
    config = room.write_config(emulator, tmp_path, teacher_channel_id=room.other_channel_id,
                               gradebook=ONEROSTER, grading={"questions": 2})
    # Before the roster is imported, /link says so and bothers nobody.
    async with start_bot(load_settings(config)):
        too_early = await emulator.invoke_command(room.guild_id, room.channel_id,
                                                  s["alice"], "link", options={"student_id": "A1"})
    assert "has not imported the class roster yet" in too_early.final().content
    assert emulator.messages(room.other_channel_id) == []
    roster_file = tmp_path / "canvas-export.csv"
    roster_file.write_text(ROSTER, encoding="utf-8")
    assert await asyncio.to_thread(main, ["roster", "import", str(roster_file), "--config",
                                          str(config), "--course", COURSE]) == 0
    assert "5 student(s)" in capsys.readouterr().out
    settings = load_settings(config)

    async def command(user: int, name: str, sub: str | None = None, **options: Any) -> Any:
        return await emulator.invoke_command(room.guild_id, room.channel_id, user, name,
                                             options=options, subcommand=sub)

    async with start_bot(settings) as bot:
        repo = bot.repository
        post, threads = await post_lesson(repo, emulator, room, scheduled_at=t - 3 * DAY,
                                          due_at=t - DAY)
        # Everyone but Erin answered one question on time; Alice and Bob both.
        await repo.replies.record([
            reply(post, threads, q, s[name], name, t - 2 * DAY, 30)
            for name, questions in (("alice", (0, 1)), ("bob", (0, 1)), ("carol", (0,)),
                                    ("dave", (1,)))
            for q in questions])

        # Alice links herself with her SIS id, typed in lower case.
        alice = await command(s["alice"], "link", student_id="a1")
        # Bob types Alice's id: already someone else's. Carol types an id nobody has.
        bob = await command(s["bob"], "link", student_id="A1")
        carol = await command(s["carol"], "link", student_id="carol.chen")
        # Alice cannot move her own link.
        again = await command(s["alice"], "link", student_id="B2")
        # The teacher links Dave by hand, picking him from the roster as she types.
        offered = await emulator.autocomplete(room.guild_id, room.channel_id, room.teacher_id,
                                              "roster", focused="student", value="dia",
                                              subcommand="link")
        # An admin lets Bob see /roster by mistake: its autocomplete still offers him nothing.
        emulator.allow_command(room.guild_id, "roster", user_id=s["bob"])
        to_student = await emulator.autocomplete(room.guild_id, room.channel_id, s["bob"],
                                                 "roster", focused="student", value="",
                                                 subcommand="link")
        dave = await command(room.teacher_id, "roster", "link", member=s["dave"],
                             student=offered[0]["value"])
        shown = await command(room.teacher_id, "roster", "show")
        told = [m["content"] for m in emulator.messages(room.other_channel_id)]

        report = await command(room.teacher_id, "participation", "report")
        exports = {
            name: await command(room.teacher_id, "participation", "export", **options)
            for name, options in {
                "canvas": {"format": "canvas"},
                "canvas again": {"format": "canvas"},
                "canvas lessons": {"format": "canvas", "items": "lessons"},
                "moodle": {"format": "moodle", "match_by": "email"},
                "oneroster": {"format": "oneroster", "items": "lessons"},
                "xlsx": {"format": "xlsx"},
                "csv": {"format": "csv"},
            }.items()}
        unlinked = await command(room.teacher_id, "roster", "unlink", member=s["dave"])
        links = await audit_log(repo, COURSE)

    # --- linking -------------------------------------------------------------------------
    assert alice.final().ephemeral and alice.final().content.startswith("Linked:")
    for answer in (bob, carol):
        text = answer.final().content
        assert answer.final().ephemeral and text.startswith(NOT_LINKED_START)
        # Nothing of anyone's roster row reaches a student who is not linked to it.
        assert not any(word in text for word in ("Anders", "Alice", "alice", "aanders", "101"))
    assert "already linked" in again.final().content
    assert [c["name"] for c in offered] == ["Diaz, Dave · D4"]
    assert to_student == []  # roster data never reaches a student, even by autocomplete
    assert "Linked <@" in dave.final().content and "**Diaz, Dave**" in dave.final().content
    # The conflict and the unknown id went to the teachers' channel, naming who asked.
    assert len(told) == 2
    assert f"<@{s['bob']}>" in told[0] and "already linked to another member" in told[0]
    assert f"<@{s['carol']}>" in told[1] and "not on the roster" in told[1]
    page = shown.final().content
    assert "5 student(s), 2 linked" in page
    assert all(f"<@{s[n]}>" in page.split("**Roster students")[0] for n in ("bob", "carol",
                                                                             "erin"))
    assert all(n in page for n in ("Brown, Bob · B2", "Chen, Carol · C3", "Zhou, Zoe · Z9"))
    assert "Anders, Alice → <@" in page and "Diaz, Dave → <@" in page
    assert [(e.action, e.actor_id) for e in reversed(links) if "link" in e.action] == [
        ("roster link", s["alice"]), ("link request", s["bob"]), ("link request", s["carol"]),
        ("roster link", room.teacher_id), ("roster unlink", room.teacher_id)]
    assert "Unlinked" in unlinked.final().content

    # Reports name linked students as the roster does.
    assert "Anders, Alice" in report.final().content and "Diaz, Dave" in report.final().content

    # --- Canvas ---------------------------------------------------------------------------
    canvas = files(exports["canvas"])
    rows = table(canvas["canvas.csv"])
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "Discussion participation"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2:] == [["Anders, Alice", "101", "A1", "aanders", "History 101 - A", "10"],
                        ["Diaz, Dave", "104", "D4", "ddiaz", "History 101 - B", "5"]]
    # Exported again: the same columns, so Canvas updates the same assignment.
    assert table(files(exports["canvas again"])["canvas.csv"])[0] == rows[0]
    assert not any(re.search(r"\(\d+\)\s*$", title) for title in rows[0][5:])
    lessons = table(files(exports["canvas lessons"])["canvas.csv"])
    assert lessons[0][5:] == [f"Discussion participation: {TITLE}"]
    assert lessons[1][0] == "Points Possible" and lessons[2][5] == "10"
    # Members the file cannot carry are listed beside it, with the reason.
    left = {row["display_name"]: row["reason"] for row in csv.DictReader(io.StringIO(
        canvas["roster.csv"].decode("utf-8-sig"), newline=""))}
    assert left == {name: "not linked to a student of the roster"
                    for name in ("bob", "carol", "erin")}
    assert "not in it" in exports["canvas"].final().content

    # --- Moodle ---------------------------------------------------------------------------
    moodle = files(exports["moodle"])
    assert table(moodle["moodle.csv"]) == [["Email address", "Discussion participation"],
                                          ["alice@school.example", "10"]]
    left = {row["display_name"]: row["reason"] for row in csv.DictReader(io.StringIO(
        moodle["roster.csv"].decode("utf-8-sig"), newline=""))}
    assert left == {"Diaz, Dave": "the roster has no e-mail for Diaz, Dave",
                    **{name: "not linked to a student of the roster"
                       for name in ("bob", "carol", "erin")}}

    # --- OneRoster ------------------------------------------------------------------------
    archive = zipfile.ZipFile(io.BytesIO(files(exports["oneroster"])["oneroster.zip"]))
    manifest = dict(table(archive.read("manifest.csv"))[1:])
    assert table(archive.read("manifest.csv"))[0] == ["propertyName", "value"]
    assert (manifest["manifest.version"], manifest["oneroster.version"]) == ("1.0", "1.1")
    names = ("academicSessions", "categories", "classes", "classResources", "courses",
             "courseResources", "demographics", "enrollments", "lineItems", "orgs", "resources",
             "results", "users")
    assert all(manifest[f"file.{n}"] in ("absent", "bulk", "delta") for n in names)
    present = {f"{n}.csv" for n in names if manifest[f"file.{n}"] != "absent"}
    assert present | {"manifest.csv"} == set(archive.namelist())
    categories = table(archive.read("categories.csv"))
    assert categories[0] == ["sourcedId", "status", "dateLastModified", "title"]
    items = [dict(zip(table(archive.read("lineItems.csv"))[0], row, strict=True))
             for row in table(archive.read("lineItems.csv"))[1:]]
    assert list(items[0]) == ["sourcedId", "status", "dateLastModified", "title", "description",
                              "assignDate", "dueDate", "classSourcedId", "categorySourcedId",
                              "gradingPeriodSourcedId", "resultValueMin", "resultValueMax"]
    [item] = items
    required = ("sourcedId", "title", "assignDate", "dueDate", "classSourcedId",
                "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
                "resultValueMax", "status", "dateLastModified")
    assert all(item[f] for f in required)
    assert (item["classSourcedId"], item["gradingPeriodSourcedId"]) == (
        "class-hist-101", "gp-2026-fall")
    assert item["categorySourcedId"] == categories[1][0]
    assert ISO_DATE.fullmatch(item["assignDate"]) and ISO_DATE.fullmatch(item["dueDate"])
    assert ISO_DATETIME.fullmatch(item["dateLastModified"]) and item["status"] == "active"
    assert item["dueDate"] == (t - DAY).date().isoformat()
    results = [dict(zip(table(archive.read("results.csv"))[0], row, strict=True))
               for row in table(archive.read("results.csv"))[1:]]
    assert list(results[0]) == ["sourcedId", "status", "dateLastModified", "lineItemSourcedId",
                                "studentSourcedId", "scoreStatus", "score", "scoreDate",
                                "comment"]
    assert {r["studentSourcedId"]: r["score"] for r in results} == {"A1": "10", "D4": "5"}
    assert all(r["lineItemSourcedId"] == item["sourcedId"] and r["scoreStatus"] in
               SCORE_STATUSES and ISO_DATE.fullmatch(r["scoreDate"]) and r["sourcedId"]
               for r in results)
    assert len({r["sourcedId"] for r in results}) == len(results)

    # --- the workbook and the CSV -----------------------------------------------------------
    book = load_workbook(io.BytesIO(files(exports["xlsx"])["participation.xlsx"]))
    totals = list(book["Totals"].iter_rows(values_only=True))
    assert [r[1] for r in totals[1:]] == ["Anders, Alice", "Diaz, Dave"]
    assert all(cell.data_type == "s" for cell in book["Totals"]["A"][1:])
    others = [r[1] for r in book["Not on roster"].iter_rows(values_only=True)][1:]
    assert others == ["bob", "carol", "erin"]
    plain = list(csv.DictReader(io.StringIO(
        files(exports["csv"])["participation.csv"].decode("utf-8-sig"), newline="")))
    assert [(r["display_name"], r["username"], r["roster_id"]) for r in plain] == [
        ("Anders, Alice", "alice", "sis:A1"), ("Diaz, Dave", "dave", "sis:D4"),
        ("bob", "bob", ""), ("carol", "carol", ""), ("erin", "erin", "")]


async def test_seminar_export_writes_the_lms_file_and_who_it_leaves_out_offline(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = now()
    s = room.students
    config = room.write_config(emulator, tmp_path)
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text(ROSTER, encoding="utf-8")
    assert await asyncio.to_thread(main, ["roster", "import", str(roster_file), "--config",
                                          str(config), "--course", COURSE]) == 0
    # Nothing is due yet: there is no grade to import, and the export says so.
    capsys.readouterr()
    assert await asyncio.to_thread(main, [
        "export", "--config", str(config), "--course", COURSE, "--format", "canvas",
        "-o", str(tmp_path / "early.csv")]) == 1
    assert "is due yet, so there is no grade to import" in capsys.readouterr().err
    async with start_bot(load_settings(config)) as bot:
        repo = bot.repository
        post, threads = await post_lesson(repo, emulator, room, scheduled_at=t - 3 * DAY,
                                          due_at=t - DAY)
        await repo.replies.record([reply(post, threads, 0, s[name], name, t - 2 * DAY, 30)
                                   for name in ("alice", "erin")])
        await emulator.invoke_command(room.guild_id, room.channel_id, s["alice"], "link",
                                      options={"student_id": "aanders"})
    out = tmp_path / "grades.csv"
    capsys.readouterr()
    assert await asyncio.to_thread(main, [
        "export", "--config", str(config), "--course", COURSE, "--format", "canvas",
        "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert table(out.read_bytes())[2:] == [
        ["Anders, Alice", "101", "A1", "aanders", "History 101 - A", "10"]]
    beside = tmp_path / "grades.not-on-roster.csv"
    assert f"wrote {beside}: 1 member(s)" in printed
    assert "4 student(s) of the roster have not linked" in printed
    assert [row[2] for row in table(beside.read_bytes())] == ["display_name", "erin"]
    # OneRoster needs the class's ids: the sentence says where they go.
    assert await asyncio.to_thread(main, [
        "export", "--config", str(config), "--course", COURSE, "--format", "oneroster",
        "-o", str(tmp_path / "or.zip")]) == 1
    assert "gradebook.oneroster_class" in capsys.readouterr().err
