"""Whatever `seminar check` accepts, every later step runs with: the property behind the ranges.

Configs are drawn across and beyond every range (dates from year 1 to 9999, times with and
without offsets, numbers up to 10**21, odd time zones). A config that is refused must be
refused with sentences; one that is accepted must then run `seminar check`, `seminar
schedule --all` and `seminar export` (exit 0, no traceback), and the paths behind
/participation, /mystats, /schedule list, catch-up, reminders and the discussion window,
all on a real SQLite database with a class's replies in it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bot import gradebook
from bot.cli import main
from bot.core import calendar, participation_rules, posting_rules, reports
from bot.core.config import ConfigError, CourseSettings, load_settings
from bot.core.render import MESSAGE_CONTENT_LIMIT
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.repository import Repository
from tests.storage.test_report_queries import ANN, _two_lessons

LESSONS = ("cells", "genes", "week-3")
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Pacific/Apia", "Australia/Lord_Howe",
         "Asia/Kathmandu", "Pacific/Kiritimati", "America/St_Johns")
OFFSETS = (None, None, dt.UTC, dt.timezone(dt.timedelta(hours=5)),
           dt.timezone(dt.timedelta(hours=-12)), dt.timezone(dt.timedelta(hours=14)),
           dt.timezone(dt.timedelta(hours=5, minutes=45)))
EDGE_DATES = (dt.date(2000, 1, 1), dt.date(2100, 12, 31), dt.date(2101, 1, 1),
              dt.date(1999, 12, 31), dt.date.min, dt.date.max)

def mostly(usual: st.SearchStrategy[Any], *odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values that are usually fine, and now and then odd (a range's edges and beyond)."""
    return st.sampled_from([True] * 9 + [False]).flatmap(
        lambda usual_one: usual if usual_one else st.one_of(*odd))


dates = mostly(st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)),
               st.dates(), st.sampled_from(EDGE_DATES))
datetimes = mostly(st.builds(
    lambda day, time, zone: dt.datetime.combine(day, time, tzinfo=zone),
    dates, st.times(), st.sampled_from(OFFSETS)), dates)  # a bare date is ambiguous
numbers = mostly(st.integers(0, 30), st.integers(),
                 st.sampled_from([-1, 2000, 2001, 10**21, 2**63, 2**64]))
hours = mostly(st.floats(0.5, 100), numbers, st.floats(allow_nan=True, allow_infinity=True))
snowflakes = mostly(st.integers(1, 2**63 - 1), st.sampled_from([0, 2**63, 2**64, -1]))
clock = mostly(st.sampled_from(["09:00", "23:59", "00:00", "02:30"]),
               st.sampled_from(["25:00", "9am"]))
weekday = mostly(st.sampled_from(["mon", "tue", "fri", "sun"]), st.just("someday"))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def without_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


entries = st.lists(st.builds(
    lambda lesson, post, due: without_none(lesson=lesson, post_at=post, due_at=due),
    st.sampled_from(LESSONS), datetimes, maybe(datetimes)), max_size=3)
weekly = st.builds(
    lambda start, end, days, time, skip, after, due: without_none(
        start=start, end=end, weekdays=days, time=time, lessons=list(LESSONS), skip=skip,
        due_after_days=after, due=due),
    dates, dates, st.lists(weekday, min_size=1, max_size=3, unique=True), clock,
    maybe(st.lists(dates, max_size=2)), maybe(numbers),
    maybe(st.builds(lambda d, t: {"weekday": d, "time": t}, weekday, clock)))
checkpoints = st.lists(st.builds(
    lambda name, by, replies, peers: {"name": name, "by": by, "replies": replies,
                                      "peer_replies": peers},
    mostly(st.sampled_from(["first", "week 2"]), st.just(" ")), datetimes, numbers, numbers),
    max_size=3)
# A grading policy: points, parts, a late window, clumping, dropped lessons (and odd values).
policies = st.builds(
    lambda points, questions, classmates, share, window, clumping, drop: without_none(
        points_per_lesson=points, questions=questions, classmates=classmates,
        classmate_points=share, late_window_hours=window, clumping=clumping,
        drop_lowest=drop),
    maybe(mostly(st.sampled_from([1, 10, 2.5]), numbers)), maybe(numbers), maybe(numbers),
    maybe(mostly(st.sampled_from([0, 1, 4]), numbers)), maybe(hours),
    maybe(st.builds(lambda m, p: {"minutes": m, "penalty": p}, numbers, numbers)),
    maybe(numbers))
extensions = st.lists(st.builds(
    lambda student, lesson, until: {"student": student, "lesson": lesson, "until": until},
    st.sampled_from([ANN, 2002]), st.sampled_from(LESSONS), datetimes), max_size=2)
courses = st.builds(
    lambda zone, cal, late, grading, remind, retention, roles, extended: {
        "name": "Biology", "guild_id": 1, "channel_id": 2, "timezone": zone,
        "calendar": cal, "catch_up": late, "grading": grading, "reminders": remind,
        "retention_days": retention, "extensions": extended, **roles},
    st.sampled_from(ZONES),
    st.builds(lambda e, w: without_none(entries=e, weekly=w), entries, maybe(weekly)),
    st.builds(lambda mode, h: {"mode": mode, "max_late_hours": h},
              st.sampled_from(["post", "skip"]), hours),
    st.builds(lambda words, peers, cps, policy: {"min_words": words,
                                                 "required_peer_replies": peers,
                                                 "checkpoints": cps, **policy},
              numbers, numbers, checkpoints, policies),
    st.builds(lambda h: without_none(hours_before_due=h), maybe(hours)),
    numbers,
    st.builds(lambda t, s: without_none(teacher_role_id=t, student_role_id=s),
              maybe(snowflakes), maybe(snowflakes)),
    extensions,
)


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the lessons and a SQLite database holding two lessons' replies."""
    root = tmp_path_factory.mktemp("school")
    (root / "prompts").mkdir()
    for slug in LESSONS:
        (root / "prompts" / f"{slug}.yaml").write_text(
            f"title: {slug}\npublished: 2026-09-01\nsummary: About {slug}.\n"
            "questions:\n  - Why?\n", encoding="utf-8")

    async def fill() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{root / 'seminar.db'}")
        await upgrade_engine(engine)
        await _two_lessons(Repository(create_sessionmaker(engine)))
        await engine.dispose()

    asyncio.run(fill())
    return root


async def run_the_bots_paths(root: Path, course: CourseSettings) -> None:
    """What the running bot does with a course: reports, /mystats, /schedule list, timers."""
    engine = create_engine(f"sqlite+aiosqlite:///{root / 'seminar.db'}")
    try:
        repo = Repository(create_sessionmaker(engine))
        await gradebook.sync_extensions(repo, "bio", course)
        for now in (dt.datetime(2026, 9, 20, tzinfo=dt.UTC), dt.datetime.now(dt.UTC)):
            summaries = await gradebook.course_report(repo, "bio", course, None, now=now)
            assert {s.user_id for s in summaries} >= {ANN}
            assert reports.table_pages(summaries, title="Biology")
            assert reports.to_csv(summaries, course.grading).startswith(b"\xef\xbb\xbf")
            lesson = await gradebook.course_report(repo, "bio", course, {ANN: "Ann"},
                                                   lesson="cells", now=now)
            assert reports.table_pages(lesson, title="cells")
            stats = await gradebook.student_stats(repo, "bio", course, ANN, "Ann", now=now)
            assert len(reports.stats_text(stats, course.name)) <= MESSAGE_CONTENT_LIMIT
    finally:
        await engine.dispose()
    found = calendar.occurrences("bio", course)
    titles = {slug: slug for slug in LESSONS}
    assert posting_rules.schedule_overview(course.name, [(o, None) for o in found], [], titles)
    posting_rules.lookback(course.catch_up)
    for occurrence in found:
        for lateness in (dt.timedelta(0), dt.timedelta(hours=13), dt.timedelta(days=400)):
            posting_rules.decide_catch_up(occurrence.post_at, occurrence.post_at + lateness,
                                    course.catch_up)
        closes = participation_rules.discussion_closes_at(occurrence.post_at, occurrence.due_at)
        participation_rules.still_read(closes, occurrence.post_at)
        if occurrence.due_at is not None and course.reminders.hours_before_due:
            reminder_at = occurrence.due_at - dt.timedelta(hours=course.reminders.hours_before_due)
            assert reminder_at < occurrence.due_at
            reports.reminder_texts([ANN], "cells", occurrence.due_at)
        calendar.format_local(occurrence.local_post_at)


def write_config(root: Path, course: dict[str, Any], name: str = "config.yaml") -> Path:
    path = root / name
    data = {"database": {"url": f"sqlite+aiosqlite:///{root / 'seminar.db'}"},
            "lessons": {"folder": str(root / "prompts")}, "courses": {"bio": course}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@given(course=courses)
# The configs that passed `check` and then broke (issue: trustworthy basics).
@example(course={"name": "Biology", "guild_id": 1, "channel_id": 2,
                 "grading": {"checkpoints": [{"name": "a", "by": "2026-12-10T23:59:00Z"}]}})
@example(course={"name": "Biology", "guild_id": 1, "channel_id": 2,
                 "grading": {"checkpoints": [{"name": "a", "by": "2026-12-10 23:59+05:00"}]}})
@example(course={"name": "Biology", "guild_id": 1, "channel_id": 2,
                 "grading": {"checkpoints": [{"name": "a", "by": "9999-12-10 23:59"}]}})
@example(course={"name": "Biology", "guild_id": 1, "channel_id": 2,
                 "calendar": {"entries": [{"lesson": "cells", "post_at": "9999-12-31 23:00"}]}})
@example(course={"name": "Biology", "guild_id": 1, "channel_id": 2,
                 "grading": {"min_words": 100000000000000000000}})
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_a_config_check_accepts_runs_everywhere(
    school: Path, capsys: pytest.CaptureFixture[str], course: dict[str, Any]
) -> None:
    path = write_config(school, course)
    try:
        settings_ = load_settings(path)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(str(path)) for p in exc.problems)
        assert main(["check", "--config", str(path)]) == 1
        event("refused")
        return
    event("accepted")
    config = ["--config", str(path)]
    assert main(["check", *config]) == 0
    assert main(["schedule", "--all", *config]) == 0
    out = school / "export.csv"
    assert main(["export", "--course", "bio", "-o", str(out), *config]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    asyncio.run(run_the_bots_paths(school, settings_.courses["bio"]))
