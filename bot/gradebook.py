"""Read a course's participation from the database and grade it with :mod:`bot.core.reports`.

Shared by the teacher and student cogs and by ``seminar export``, so that Discord and the
command line give the same numbers. Counting is SQL (:meth:`ReportStore.summary`: one query for
the scope, its checkpoints counted in the same pass); grading and formatting are
:mod:`bot.core.reports`. No discord.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import grading, lms, reports
from bot.core.calendar import to_utc
from bot.core.config import CourseSettings, GradingSettings
from bot.core.roster import Roster, RosterError, RosterStudent, parse_roster
from bot.core.yamlfile import FileProblem, read_text
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import current_revision, head_revision, upgrade_engine
from storage.records import LessonWork, ReplyRecord, StudentTotals
from storage.reports import SimpleScores
from storage.repository import Repository
from storage.roster import ImportOutcome, RosterRecord


async def class_list(repo: Repository, course_key: str) -> dict[int, str]:
    """Everyone who ever replied in the course, with the name on their latest reply.

    The roster when the course has no student role (and offline, in ``seminar export``):
    a lesson report then lists students of the course who did not reply to that lesson.
    """
    return _names(await repo.reports.summary(course_key))


def _names(totals: list[StudentTotals]) -> dict[int, str]:
    """Each student of the summary rows with the name on their latest reply."""
    return {t.author_id: t.author_name for t in totals}


async def _grading_inputs(
    repo: Repository, course_key: str, policy: GradingSettings, *, lesson: str | None,
    student: int | None, titles: Mapping[str, str] | None, keep: bool = True,
    summed: SimpleScores | None = None,
) -> tuple[list[grading.GradedLesson], list[LessonWork], dict[int, dict[str, dt.datetime]]]:
    """The posted lessons, the students' work and their extensions, as grading takes them
    (with ``summed``, the rows it scores in SQL are in it, not in the work)."""
    names = titles or {}
    posted = await repo.reports.posted_lessons(course_key)
    lessons = [grading.GradedLesson(p.post_id, p.lesson, names.get(p.lesson, p.lesson),
                                    p.questions, p.due_at)
               for p in posted if lesson is None or p.lesson == lesson]
    work = await repo.reports.work(course_key, min_words=policy.min_words, lesson=lesson,
                                   author_id=student, keep=keep,
                                   times=policy.clumping is not None, summed=summed)
    dues: dict[int, dict[str, dt.datetime]] = {}
    for extension in await repo.extensions.of_course(course_key):
        dues.setdefault(extension.user_id, {})[extension.lesson] = extension.due_at
    return lessons, work, dues


async def grade_totals(
    repo: Repository, course_key: str, policy: GradingSettings, students: Iterable[int], *,
    now: dt.datetime | None = None,
) -> dict[int, tuple[Decimal, Decimal]]:
    """Each student's (total, possible) over the course, without the reasons (a report).

    Without clumping, the graded lessons a student did on time are scored in SQL: summed, or
    lesson by lesson when the policy drops lessons (:func:`grading.quick_scores`); the rest go
    through :mod:`bot.core.grading`.
    """
    summed = None
    if policy.clumping is None:
        question_cents, classmate_cents = grading.part_cents(policy)
        summed = SimpleScores(question_cents, classmate_cents, policy.questions,
                              policy.classmates, now,
                              by_lesson=not grading.quick_scores(policy))
    lessons, work, dues = await _grading_inputs(repo, course_key, policy, lesson=None,
                                                student=None, titles=None, summed=summed)
    if summed is not None and summed.by_lesson:
        return grading.class_totals(students, lessons, work, policy, now=now, dues=dues,
                                    scored=summed.scored)
    return grading.class_totals(students, lessons, work, policy, now=now, dues=dues,
                                summed=summed.sums if summed is not None else None)


async def grades(
    repo: Repository,
    course_key: str,
    policy: GradingSettings,
    students: Iterable[int],
    *,
    lesson: str | None = None,
    student: int | None = None,
    now: dt.datetime | None = None,
    titles: Mapping[str, str] | None = None,
    keep: bool = True,
) -> dict[int, grading.CourseGrade]:
    """Each student's scores under ``policy`` for the course's posted lessons (or one lesson).

    Two queries (:meth:`ReportStore.work` and the posted lessons) and the extensions; the
    scoring is :mod:`bot.core.grading`. ``titles`` names lessons (their slug otherwise).
    ``keep=False`` for a policy that is not the course's (a preview): its counts are not kept.
    """
    lessons, work, dues = await _grading_inputs(repo, course_key, policy, lesson=lesson,
                                                student=student, titles=titles, keep=keep)
    everyone = [student] if student is not None else students
    graded = grading.grade_class(everyone, lessons, work, policy, now=now, dues=dues)
    return {user: grade for user, grade in graded.items() if student in (None, user)}


async def course_report(
    repo: Repository,
    course_key: str,
    course: CourseSettings,
    roster: Mapping[int, str] | None,
    *,
    lesson: str | None = None,
    student: int | None = None,
    now: dt.datetime | None = None,
    titles: Mapping[str, str] | None = None,
    explained: bool = True,
) -> list[reports.StudentSummary]:
    """Graded summaries for a course, one lesson, or one student, roster students included.

    ``roster`` maps student ids to display names (None: no class list is known, and the
    course's past repliers stand in for it). With ``student``, only that student is counted
    and listed, whatever the roster says. One query, checkpoints included; a lesson's report
    without a roster takes a second one for the course's class list.
    """
    grading = course.grading
    deadlines = reports.checkpoint_deadlines(grading, course.zone)
    totals = await repo.reports.summary(course_key, lesson=lesson, author_id=student,
                                min_words=grading.min_words,
                                cutoffs=[d.cutoff for d in deadlines])
    if roster is None:
        # Over the whole course, the rows are the class list (or the student's part of it).
        roster = _names(totals) if lesson is None else await class_list(repo, course_key)
    if student is not None:
        roster = {student: roster[student]} if student in roster else {}
    linked = await linked_students(repo, course_key)
    if not explained and lesson is None and student is None:
        # A whole class's report shows totals only: the quick path, no sentences.
        quick = await grade_totals(repo, course_key, grading, roster, now=now)
        return reports.with_roster(reports.summarise(totals, roster, grading, deadlines,
                                                     now=now, grade_totals=quick),
                                   _names_of(linked))
    scores = await grades(repo, course_key, grading, roster, lesson=lesson, student=student,
                          now=now, titles=titles)
    return reports.with_roster(
        reports.summarise(totals, roster, grading, deadlines, now=now, grades=scores),
        _names_of(linked))


async def linked_students(repo: Repository, course_key: str) -> dict[int, RosterStudent]:
    """The course roster's students linked to a Discord member, by member id."""
    return {r.user_id: _student(r) for r in await repo.roster.of_course(course_key)
            if r.user_id is not None}


def _student(record: RosterRecord) -> RosterStudent:
    return RosterStudent(record.key, record.name, record.lms_id, record.sis_id, record.login,
                         record.email, record.section)


def _names_of(linked: Mapping[int, RosterStudent]) -> dict[int, tuple[str, str]]:
    return {user: (student.key, student.name) for user, student in linked.items()}


async def student_stats(
    repo: Repository,
    course_key: str,
    course: CourseSettings,
    user_id: int,
    display_name: str,
    *,
    now: dt.datetime | None = None,
    titles: Mapping[str, str] | None = None,
) -> reports.StudentStats:
    """One student's own numbers over the course, and per posted lesson (``/mystats``).

    Their scores come with their reasons: only this student's rows are ever read.
    """
    grading = course.grading
    deadlines = reports.checkpoint_deadlines(grading, course.zone)
    rows = await repo.reports.summary(course_key, author_id=user_id, min_words=grading.min_words,
                              cutoffs=[d.cutoff for d in deadlines])
    lessons = await repo.reports.lesson_totals(course_key, author_id=user_id)
    scores = await grades(repo, course_key, grading, [user_id], student=user_id, now=now,
                          titles=titles)
    return reports.student_stats(user_id, display_name, rows[0] if rows else None, grading,
                                 deadlines, lessons, now=now, grade=scores.get(user_id))


async def lesson_chart_counts(repo: Repository, course_key: str) -> dict[str, int]:
    """Replies per posted lesson of the course, in post order (for the course chart)."""
    return {t.lesson: t.replies for t in await repo.reports.lesson_totals(course_key)}


async def sync_extensions(repo: Repository, course_key: str, course: CourseSettings) -> int:
    """Store the config's extensions of a course (a teacher's ``/extend`` is kept over them).

    Run at start-up and before a grading command reads the database; how many replies changed
    their late mark.
    """
    return await repo.extensions.sync_config(course_key, [
        (e.lesson, e.student, to_utc(e.until, course.zone)) for e in course.extensions])


#: The first columns of a student's own data export: the table, then every field of a reply.
STUDENT_DATA_COLUMNS: tuple[str, ...] = ("record", *(f.name for f in fields(ReplyRecord)))


async def student_data_csv(repo: Repository, course_key: str, user_id: int) -> tuple[bytes, int]:
    """Everything recorded about one student in a course, and how many of it are replies.

    One row per record, from every store that holds a student's data: their replies
    (deleted ones included), the reminders sent to them, their reminder setting, and their
    own actions in the audit log. ``record`` names the table; a column a table lacks is empty.
    """
    data = await repo.export_student(course_key, user_id)
    columns = list(STUDENT_DATA_COLUMNS)
    for rows in data.values():
        columns += [c for row in rows for c in row if c not in columns]
    table = [[table_name] + [row.get(c) for c in columns[1:]]
             for table_name, rows in data.items() for row in rows]
    return reports.records_csv(columns, table), len(data.get("replies", []))


class ExportError(Exception):
    """The database cannot be exported from; the message says what to do."""


def check_database_file(url: str) -> None:
    """Refuse a SQLite URL whose file does not exist (opening it would create an empty one)."""
    parsed = make_url(url)
    if (parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:")
            and not Path(parsed.database).exists()):
        raise ExportError(f"there is no database at {parsed.database}: check database.url in "
                          "the config (the bot creates the database when it first runs)")


async def _reading(url: str) -> tuple[Repository, AsyncEngine]:
    """A repository over the database at ``url``, after checking it is Seminar's, up to date."""
    shown = make_url(url).render_as_string(hide_password=True)
    engine = create_engine(url)
    try:
        try:
            revision = await current_revision(engine)
        except Exception as exc:
            raise ExportError(f"cannot read the database {shown} ({exc})") from None
        if revision is None:
            raise ExportError(f"the database {shown} has no Seminar tables yet: start the bot "
                              "once, or run `seminar db upgrade`")
        if revision != head_revision():
            raise ExportError(f"the database {shown} is from an older version: run "
                              "`seminar db upgrade` first")
    except BaseException:
        await engine.dispose()
        raise
    return Repository(create_sessionmaker(engine)), engine


async def what_if(
    url: str,
    course_key: str,
    course: CourseSettings,
    policy: GradingSettings,
    *,
    now: dt.datetime | None = None,
    titles: Mapping[str, str] | None = None,
) -> tuple[list[tuple[int, str, grading.CourseGrade, grading.CourseGrade]], int]:
    """``seminar grades``: every student whose grade ``policy`` would change, and how many
    students were graded. Grades change nowhere (the config's extensions are stored first,
    as the bot does at start)."""
    repo, engine = await _reading(url)
    try:
        await sync_extensions(repo, course_key, course)
        names = await class_list(repo, course_key)
        before = await grades(repo, course_key, course.grading, names, now=now, titles=titles)
        after = await grades(repo, course_key, policy, names, now=now, titles=titles,
                             keep=policy.min_words == course.grading.min_words)
    finally:
        await engine.dispose()
    changed = [(user, names.get(user, str(user)), old, new)
               for user, old, new in grading.changed_grades(before, after)]
    return changed, len(before)


async def export_from_database(
    url: str,
    course_key: str,
    course: CourseSettings,
    *,
    lesson: str | None = None,
    student: int | None = None,
    now: dt.datetime | None = None,
    titles: Mapping[str, str] | None = None,
    file_format: str = "csv",
    items: lms.Items = "total",
    moodle_key: lms.MoodleKey = "email",
) -> GradebookExport:
    """``seminar export``: the gradebook in a format (or one student's data as CSV).

    Offline there is no member list, so the course's past repliers stand in for the roster:
    a lesson's gradebook lists everyone who replied anywhere in the course. Call
    :func:`check_database_file` first.
    """
    repo, engine = await _reading(url)
    try:
        if student is not None:
            data, rows = await student_data_csv(repo, course_key, student)
            return GradebookExport(data, "csv", rows)
        if lesson is not None:
            posted = [t.lesson for t in await repo.reports.lesson_totals(course_key)]
            if lesson not in posted:
                raise ExportError(
                    f"lesson {lesson!r} has not been posted in course {course_key!r}, so there "
                    f"is nothing to export (posted: {', '.join(posted) or 'none yet'})")
        await sync_extensions(repo, course_key, course)
        return await export(repo, course_key, course, None, {}, lesson=lesson, now=now,
                            titles=titles, file_format=file_format, items=items,
                            moodle_key=moodle_key)
    finally:
        await engine.dispose()


async def import_roster(url: str, course_key: str, path: Path, *,
                        now: dt.datetime | None = None) -> tuple[Roster, ImportOutcome]:
    """``seminar roster import``: read a roster file and make it the course's roster.

    The database is created or upgraded first (as at start-up); the import is written to the
    course's audit log. :class:`~bot.core.roster.RosterError` says what is wrong with a file.
    """
    try:
        text = read_text(path, "roster file")
    except FileProblem as exc:
        raise RosterError([str(exc)]) from None
    roster = parse_roster(text, str(path))
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
        repo = Repository(create_sessionmaker(engine))
        outcome = await repo.roster.import_students(course_key, roster.students, now=now)
        await repo.audit.add(course_key, None, "roster import",
                             f"{path.name}: {len(roster.students)} students, {outcome.added} "
                             f"new, {outcome.left} left", at=now)
    finally:
        await engine.dispose()
    return roster, outcome


@dataclass(frozen=True, slots=True)
class GradebookExport:
    """An export: the file, its extension and rows; and the members it leaves out, if any."""

    data: bytes
    extension: str
    rows: int
    left_out: bytes | None = None
    left_out_rows: int = 0
    unlinked: int = 0  # roster students with no Discord member linked


async def export(
    repo: Repository,
    course_key: str,
    course: CourseSettings,
    members: Mapping[int, str] | None,
    usernames: Mapping[int, str],
    *,
    lesson: str | None = None,
    now: dt.datetime | None = None,
    titles: Mapping[str, str] | None = None,
    file_format: str = "csv",
    items: lms.Items = "total",
    moodle_key: lms.MoodleKey = "email",
) -> GradebookExport:
    """The course's (or a lesson's) gradebook in a format, for ``/participation export`` and
    ``seminar export``.

    ``members`` is the class list (None: the course's past repliers), ``usernames`` the
    Discord usernames known. The LMS formats carry the roster's students; the members they
    cannot carry come back in ``left_out`` (a CSV with the reason). :class:`lms.ExportProblem`
    says why a format cannot be made (no roster yet, OneRoster ids missing from the config).
    """
    records = await repo.roster.of_course(course_key)
    if file_format in lms.LMS_FORMATS and not records:
        raise lms.ExportProblem(
            f"course {course_key!r} has no roster yet, so its students cannot be matched to "
            f"the {file_format.capitalize()} gradebook: import the class list first with "
            f"`seminar roster import FILE --course {course_key}`")
    if file_format == "oneroster" and not (course.gradebook.oneroster_class
                                           and course.gradebook.oneroster_grading_period):
        raise lms.ExportProblem(
            f"OneRoster results need the class's sourcedId and grading period: set "
            f"courses.{course_key}.gradebook.oneroster_class and oneroster_grading_period in "
            "the config (ask the district's SIS administrator for them)")
    summaries = await course_report(repo, course_key, course, members, lesson=lesson, now=now,
                                    titles=titles)
    summaries = reports.with_roster(summaries, {}, usernames)
    if file_format == "xlsx":
        return GradebookExport(reports.to_xlsx(summaries, roster=bool(records)), "xlsx",
                               len(summaries))
    if file_format not in lms.LMS_FORMATS:
        return GradebookExport(reports.to_csv(summaries, course.grading), "csv", len(summaries))
    return await _lms_export(repo, course_key, course, summaries, records, lesson=lesson,
                             titles=titles, now=now, file_format=file_format, items=items,
                             moodle_key=moodle_key)


async def _lms_export(
    repo: Repository, course_key: str, course: CourseSettings,
    summaries: list[reports.StudentSummary], records: list[RosterRecord], *,
    lesson: str | None,
    titles: Mapping[str, str] | None, now: dt.datetime | None, file_format: str,
    items: lms.Items, moodle_key: lms.MoodleKey,
) -> GradebookExport:
    """A Canvas, Moodle or OneRoster file of the roster's students, and who it leaves out."""
    linked = {r.user_id: _student(r) for r in records if r.user_id is not None}
    entries = [lms.Entry(s.user_id, s.display_name, s.username, linked.get(s.user_id), s.grade)
               for s in summaries]
    names = titles or {}
    posted = [lms.PostedItem(p.lesson, names.get(p.lesson, p.lesson), p.scheduled_at, p.due_at)
              for p in await repo.reports.posted_lessons(course_key)
              if lesson is None or p.lesson == lesson]
    columns = lms.grade_items(posted, entries, "lessons" if lesson else items,
                              course.gradebook.title)
    if not posted or all(item.possible == 0 for item in columns):
        raise lms.ExportProblem(
            f"no lesson of course {course_key!r} is due yet, so there is no grade to import: "
            "export again after the first due time (the csv and xlsx formats show the work "
            "so far)")
    unlinked = sum(1 for r in records if r.user_id is None and r.left_at is None)
    if file_format == "canvas":
        kept, left = lms.split(entries)
        data, extension = lms.canvas_csv(kept, columns), "csv"
    elif file_format == "moodle":
        kept, left = lms.split(entries, *lms.moodle_field(moodle_key))
        data, extension = lms.moodle_csv(kept, columns, moodle_key), "csv"
    else:
        kept, left = lms.split(entries, "sis_id", "SIS user id")
        data, extension = lms.oneroster_zip(
            kept, columns, course_key=course_key,
            class_id=course.gradebook.oneroster_class or "",
            grading_period_id=course.gradebook.oneroster_grading_period or "",
            now=now or dt.datetime.now(dt.UTC), category_title=course.gradebook.title), "zip"
    return GradebookExport(data, extension, len(kept),
                           lms.unmatched_csv(left) if left else None, len(left), unlinked)
