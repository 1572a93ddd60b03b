"""The gradebook read from the database: one query a report, the CSV and /mystats as before.

The expected texts below were written by the multi-pass gradebook (a query for the class list,
one for the totals and one per checkpoint) before it became one query with the checkpoints
counted in the same pass: the same data must give the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot import gradebook
from bot.core import reports
from bot.core.config import CourseSettings
from storage.repository import Repository
from tests.databases import TestDatabase
from tests.storage.test_replies import T0, new_reply
from tests.storage.test_report_queries import ANN, CAT, _two_lessons

DAN, EVE = 2004, 2005
COURSE = CourseSettings.model_validate({
    "name": "Biology",
    "guild_id": 1,
    "channel_id": 2,
    "timezone": "Europe/Paris",
    "grading": {
        "min_words": 20,
        "required_peer_replies": 1,
        "checkpoints": [
            {"name": "first day", "by": "2026-09-07 21:00", "replies": 1},
            {"name": "week two", "by": "2026-09-14 11:00", "replies": 2, "peer_replies": 1},
            {"name": "end", "by": "2026-10-07 23:59", "replies": 3},
        ],
    },
})
NOW = T0 + dt.timedelta(days=8)
HEADER = (
    '\ufeff"user_id","display_name","replies","substantive_replies","words",'
    '"questions_answered","peer_replies","late_replies","on_time_replies","first_reply_utc",'
    '"status","required_peer_replies_met","checkpoint: first day","checkpoint: week two",'
    '"checkpoint: end"\r\n'
)


async def _class(repo: Repository) -> None:
    """Ann, Ben and Cat reply to both lessons; Dan once, to the first lesson only."""
    await _two_lessons(repo)
    [cells, *_] = [t for t in await repo.posts.open_threads(course="bio") if t.lesson == "cells"]
    await repo.replies.record([new_reply(cells, 1_006, DAN, T0 + dt.timedelta(days=2), 25,
                                         name="Dan")])


async def _csv(repo: Repository, roster: dict[int, str] | None, *, lesson: str | None = None,
               student: int | None = None, graded: bool = False) -> str:
    """The gradebook CSV of a scope, as text, without the score columns (tests/test_grading.py
    checks those): the counting columns must stay byte for byte what they were."""
    summaries = await gradebook.course_report(repo, "bio", COURSE, roster, lesson=lesson,
                                              student=student, now=NOW)
    assert all(s.grade is not None for s in summaries)
    if graded:
        return reports.to_csv(summaries, COURSE.grading).decode("utf-8")
    ungraded = [dataclasses.replace(s, grade=None) for s in summaries]
    text = reports.to_csv(ungraded, COURSE.grading).decode("utf-8")
    return (text.replace(',"grade","points_possible","grade_explained","username","roster_id"'
                         '\r\n', "\r\n", 1)
            .replace(',"","","","",""\r\n', "\r\n"))


async def test_the_course_gradebook_is_the_multi_pass_one_byte_for_byte(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _class(repo)

    assert await _csv(repo, None) == HEADER + (
        '"2001","Ann R.",3,2,84,3,2,0,3,"2026-09-07T08:00:00Z","replied","yes","met","met",'
        '"open"\r\n'
        '"2002","Ben",3,2,50,2,2,0,3,"2026-09-07T09:00:00Z","replied","yes","met","met",'
        '"open"\r\n'
        '"2003","Cat",2,2,100,2,1,1,1,"2026-09-08T07:00:00Z","replied","yes","not met",'
        '"not met","open"\r\n'
        '"2004","Dan",1,1,25,1,0,0,1,"2026-09-09T07:00:00Z","replied","no","not met",'
        '"not met","open"\r\n'
    )
    # With a class list: Ann by her roster name, Eve missing, the others off the roster.
    assert await _csv(repo, {ANN: "Ann (roster)", EVE: "Eve"}) == HEADER + (
        '"2001","Ann (roster)",3,2,84,3,2,0,3,"2026-09-07T08:00:00Z","replied","yes","met",'
        '"met","open"\r\n'
        '"2002","Ben",3,2,50,2,2,0,3,"2026-09-07T09:00:00Z","off-roster","yes","met","met",'
        '"open"\r\n'
        '"2003","Cat",2,2,100,2,1,1,1,"2026-09-08T07:00:00Z","off-roster","yes","not met",'
        '"not met","open"\r\n'
        '"2004","Dan",1,1,25,1,0,0,1,"2026-09-09T07:00:00Z","off-roster","no","not met",'
        '"not met","open"\r\n'
        '"2005","Eve",0,0,0,0,0,0,0,"","missing","no","not met","not met","open"\r\n'
    )
    exported = await gradebook.export_from_database(database.url, "bio", COURSE, now=NOW)
    assert (exported.data.decode("utf-8"), exported.rows) == (
        await _csv(repo, None, graded=True), 4)


async def test_a_lesson_and_a_students_gradebook_are_the_multi_pass_ones(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _class(repo)

    # Without a roster the course's repliers stand in for it: Dan, who did not answer this
    # lesson, is listed as missing.
    assert await _csv(repo, None, lesson="genes") == HEADER + (
        '"2001","Ann R.",1,1,50,1,1,0,1,"2026-09-14T08:00:00Z","replied","yes","not met",'
        '"not met","open"\r\n'
        '"2002","Ben",1,0,3,1,1,0,1,"2026-09-15T07:00:00Z","replied","no","not met",'
        '"not met","open"\r\n'
        '"2003","Cat",1,1,60,1,0,1,0,"2026-09-16T07:00:00Z","replied","no","not met",'
        '"not met","open"\r\n'
        '"2004","Dan",0,0,0,0,0,0,0,"","missing","no","not met","not met","open"\r\n'
    )
    assert await _csv(repo, None, lesson="cells", student=CAT) == HEADER + (
        '"2003","Cat",1,1,40,1,1,0,1,"2026-09-08T07:00:00Z","replied","yes","not met",'
        '"not met","open"\r\n'
    )
    assert await _csv(repo, None, student=DAN) == HEADER + (
        '"2004","Dan",1,1,25,1,0,0,1,"2026-09-09T07:00:00Z","replied","no","not met",'
        '"not met","open"\r\n'
    )
    assert await _csv(repo, None, student=EVE) == HEADER


async def test_mystats_are_the_multi_pass_ones(database: TestDatabase) -> None:
    repo = database.repo
    await _class(repo)

    ann = await gradebook.student_stats(repo, "bio", COURSE, ANN, "Ann", now=NOW)
    assert reports.stats_text(ann, "Biology").split("\n") == [
        "**Your participation in Biology**",
        "3 replies (2 substantive) · 84 words · 3 questions · 2 peer · all on time · "
        f"first <t:{int((T0 + dt.timedelta(hours=1)).timestamp())}:f> · ✅ peer replies 1/1 · "
        "✅ first day · ✅ week two · ⏳ end",
        # Scores under the default policy (10 points for answering one question), worked
        # out by hand: cells has Ann's 30-word answer and a 4-word reply (not substantive);
        # genes is due after NOW, so it is open and not in the total.
        "**Total: 10/10 over 1 graded lesson, 1 still open**",
        "**Per lesson**",
        "• **cells**: 10/10 — answered 1 of 1 question required (20 words or more) ✔ 10/10, "
        "on time, 1 short reply (under 20 words) not counted",
        "• **genes**: 10/10 so far (not counted until it is due) — answered 1 of 1 question "
        "required (20 words or more) ✔ 10/10, on time · due "
        f"<t:{int((T0 + dt.timedelta(days=9)).timestamp())}:f>",  # posted + 2 days
    ]
    eve = await gradebook.student_stats(repo, "bio", COURSE, EVE, "Eve", now=NOW)
    assert [c.state for c in eve.summary.checkpoints] == ["not met", "not met", "open"]
    assert reports.stats_text(eve, "Biology").startswith(
        "You have not replied in any Biology discussion yet.")


async def test_a_class_report_shows_the_totals_the_explained_grades_add_up_to(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _class(repo)
    await repo.extensions.grant("bio", "genes", CAT, T0 + dt.timedelta(days=30), granted_by=9)
    for now in (NOW, T0 + dt.timedelta(days=60)):
        explained = await gradebook.course_report(repo, "bio", COURSE, None, now=now)
        quick = await gradebook.course_report(repo, "bio", COURSE, None, now=now,
                                              explained=False)
        assert [(s.user_id, s.grade_total) for s in quick] == [
            (s.user_id, (s.grade.total, s.grade.possible)) for s in explained if s.grade]
        assert all(s.grade is None for s in quick)


POLICIES = [
    {},
    {"min_words": 10, "questions": 2, "classmates": 1, "classmate_points": 4},
    {"min_words": 10, "questions": 3, "classmates": 2, "classmate_points": 3.5,
     "late_window_hours": 30, "points_per_lesson": 7.5},
    {"min_words": 5, "late_window_hours": 0, "drop_lowest": 1},
    {"min_words": 10, "clumping": {"minutes": 600, "penalty": 1}},
]


async def test_quick_totals_equal_the_explained_grades_over_random_streams(
    database: TestDatabase,
) -> None:
    """The report's totals (on-time lessons scored in SQL, kept counts) are the explained
    grades' totals, whatever the stream, the policy, the time and the extensions."""
    from bot.core.config import GradingSettings
    from tests.storage.test_grading_queries import STUDENTS, random_stream

    repo = database.repo
    for seed in range(6):
        course = f"q{seed}"
        await random_stream(repo, course, seed)
        for rules in POLICIES:
            policy = GradingSettings.model_validate(rules)
            for now in (T0 + dt.timedelta(hours=60), T0 + dt.timedelta(days=30), None):
                for _ in range(2):  # the second read finds the counts kept by the first
                    explained = await gradebook.grades(repo, course, policy, STUDENTS, now=now)
                    quick = await gradebook.grade_totals(repo, course, policy, STUDENTS,
                                                         now=now)
                    assert quick == {user: (g.total, g.possible)
                                     for user, g in explained.items()}, (seed, rules, now)
