"""The course calendar: weekly pattern, explicit entries, due times, DST, `seminar schedule`."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.core.calendar import (
    WEEKDAYS,
    Occurrence,
    all_occurrences,
    due_between,
    for_lesson,
    local_to_utc,
    next_due,
    occurrences,
    upcoming,
)
from bot.core.config import ConfigError, CourseSettings, WeeklyPattern, parse_settings

UTC = dt.UTC
DST_ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]


def course(timezone: str = "America/New_York", **calendar: Any) -> CourseSettings:
    return CourseSettings.model_validate({
        "name": "Modern History",
        "guild_id": 1,
        "channel_id": 2,
        "timezone": timezone,
        "calendar": calendar,
    })


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def walls(found: list[Occurrence]) -> list[str]:
    return [f"{o.local_post_at:%a %Y-%m-%d %H:%M %Z} {o.lesson}" for o in found]


# --- weekly pattern ---------------------------------------------------------------------


def test_weekly_pattern_skips_holidays_without_losing_a_lesson() -> None:
    c = course(weekly={
        "start": "2026-09-07", "end": "2026-09-30", "weekdays": ["mon", "wed"],
        "time": "09:00", "lessons": ["l1", "l2", "l3", "l4", "l5"],
        "skip": ["2026-09-09", "2026-09-21"],
    })
    assert walls(occurrences("hist", c)) == [
        "Mon 2026-09-07 09:00 EDT l1",
        "Mon 2026-09-14 09:00 EDT l2",  # Wed 09-09 is a holiday: l2 waits for the next slot
        "Wed 2026-09-16 09:00 EDT l3",
        "Wed 2026-09-23 09:00 EDT l4",  # Mon 09-21 skipped too
        "Mon 2026-09-28 09:00 EDT l5",
    ]


def test_weekly_pattern_stops_when_lessons_or_term_run_out() -> None:
    few = course(weekly={"start": "2026-09-07", "end": "2026-12-18", "weekdays": ["mon"],
                         "time": "09:00", "lessons": ["a", "b"]})
    assert [o.lesson for o in occurrences("hist", few)] == ["a", "b"]
    short = course(weekly={"start": "2026-09-07", "end": "2026-09-14", "weekdays": ["mon"],
                           "time": "09:00", "lessons": ["a", "b", "c"]})
    # The term end is inclusive: Monday 09-14 still gets a post; "c" never fits.
    assert [o.lesson for o in occurrences("hist", short)] == ["a", "b"]


def test_due_after_days_keeps_the_local_time_across_the_clock_change() -> None:
    c = course(weekly={"start": "2026-10-26", "end": "2026-10-26", "weekdays": ["mon"],
                       "time": "09:00", "lessons": ["a"], "due_after_days": 7})
    (only,) = occurrences("hist", c)
    assert only.post_at == utc(2026, 10, 26, 13)
    assert only.due_at == utc(2026, 11, 2, 14)  # 09:00 EST, a week and an hour later
    assert f"{only.local_due_at:%a %H:%M %Z}" == "Mon 09:00 EST"


@pytest.mark.parametrize(("due", "expected"), [
    ({"weekday": "fri", "time": "17:00"}, "Fri 2026-09-11 17:00"),
    ({"weekday": "mon", "time": "12:00"}, "Mon 2026-09-07 12:00"),  # later the same day
    ({"weekday": "mon", "time": "09:00"}, "Mon 2026-09-14 09:00"),  # strictly after the post
    ({"weekday": "mon", "time": "08:00"}, "Mon 2026-09-14 08:00"),
])
def test_due_weekday_is_the_next_one_strictly_after_the_post(
    due: dict[str, str], expected: str
) -> None:
    c = course(weekly={"start": "2026-09-07", "end": "2026-09-07", "weekdays": ["mon"],
                       "time": "09:00", "lessons": ["a"], "due": due})
    (only,) = occurrences("hist", c)
    assert f"{only.local_due_at:%a %Y-%m-%d %H:%M}" == expected


def test_no_due_setting_means_no_due_time() -> None:
    c = course(weekly={"start": "2026-09-07", "end": "2026-09-07", "weekdays": ["mon"],
                       "time": "09:00", "lessons": ["a"]})
    assert occurrences("hist", c)[0].due_at is None


# --- explicit entries -------------------------------------------------------------------


def test_explicit_entries_in_local_time_sorted_with_weekly_ones() -> None:
    c = course(
        "Europe/London",
        entries=[
            {"lesson": "late", "post_at": "2026-12-01 14:00", "due_at": "2026-12-08 14:00"},
            {"lesson": "intro", "post_at": "2026-07-01 10:00"},
        ],
        weekly={"start": "2026-09-07", "end": "2026-09-14", "weekdays": ["mon"],
                "time": "09:00", "lessons": ["w1", "w2"]},
    )
    found = occurrences("hist", c)
    assert walls(found) == [
        "Wed 2026-07-01 10:00 BST intro",
        "Mon 2026-09-07 09:00 BST w1",
        "Mon 2026-09-14 09:00 BST w2",
        "Tue 2026-12-01 14:00 GMT late",
    ]
    assert found[0].post_at == utc(2026, 7, 1, 9)
    assert found[-1].due_at == utc(2026, 12, 8, 14)
    assert [o.source for o in found] == ["entry", "weekly", "weekly", "entry"]


def test_explicit_entry_replaces_the_weekly_slot_of_that_lesson_only() -> None:
    c = course(
        entries=[{"lesson": "l2", "post_at": "2026-09-17 13:00"}],
        weekly={"start": "2026-09-07", "end": "2026-10-31", "weekdays": ["mon"],
                "time": "09:00", "lessons": ["l1", "l2", "l3"]},
    )
    assert walls(occurrences("hist", c)) == [
        "Mon 2026-09-07 09:00 EDT l1",
        "Thu 2026-09-17 13:00 EDT l2",  # moved by the teacher; posted once
        "Mon 2026-09-21 09:00 EDT l3",  # keeps its date: 09-14 stays empty
    ]


def test_duplicate_entry_collapses_to_one_post() -> None:
    entry = {"lesson": "a", "post_at": "2026-09-07 09:00"}
    c = course(entries=[entry, entry, {"lesson": "a", "post_at": "2026-09-07 09:00",
                                       "due_at": "2026-09-09 09:00"}])
    found = occurrences("hist", c)
    assert len(found) == 1
    assert found[0].due_at is None  # the first line wins


# --- DST at fixed, well-known transitions ------------------------------------------------


def test_spring_forward_gap_moves_the_post_forward_by_the_gap() -> None:
    zone = ZoneInfo("America/New_York")
    wall = dt.datetime.combine(dt.date(2026, 3, 8), dt.time(2, 30))
    assert local_to_utc(wall, zone) == utc(2026, 3, 8, 7, 30)
    c = course(entries=[{"lesson": "a", "post_at": "2026-03-08 02:30"}])
    (only,) = occurrences("hist", c)
    assert f"{only.local_post_at:%H:%M %Z}" == "03:30 EDT"
    assert only.shifted


def test_fall_back_overlap_posts_at_the_first_of_the_two_times() -> None:
    c = course(weekly={"start": "2026-10-25", "end": "2026-11-08", "weekdays": ["sun"],
                       "time": "01:30", "lessons": ["a", "b", "c"]})
    found = occurrences("hist", c)
    assert walls(found) == [
        "Sun 2026-10-25 01:30 EDT a",
        "Sun 2026-11-01 01:30 EDT b",  # 01:30 happens twice that night: the first one
        "Sun 2026-11-08 01:30 EST c",
    ]
    assert found[1].post_at == utc(2026, 11, 1, 5, 30)
    assert not any(o.shifted for o in found)


def test_half_hour_gap_on_lord_howe() -> None:
    c = course("Australia/Lord_Howe", entries=[{"lesson": "a", "post_at": "2026-10-04 02:15"}])
    assert f"{occurrences('hist', c)[0].local_post_at:%H:%M}" == "02:45"


def test_a_day_the_zone_skipped_does_not_post_twice_or_lose_a_lesson() -> None:
    # Samoa jumped from 2011-12-29 to 2011-12-31: there was no 30 December there.
    c = course("Pacific/Apia", weekly={
        "start": "2011-12-28", "end": "2012-01-02",
        "weekdays": list(WEEKDAYS), "time": "09:00",
        "lessons": [f"l{i}" for i in range(10)],
    })
    found = occurrences("hist", c)
    assert len({o.post_at for o in found}) == len(found) == 5
    assert [f"{o.local_post_at:%m-%d %H:%M}" for o in found] == [
        "12-28 09:00", "12-29 09:00", "12-31 09:00", "01-01 09:00", "01-02 09:00"
    ]
    assert [o.lesson for o in found] == ["l0", "l1", "l2", "l3", "l4"]


# --- queries the posting cog uses -------------------------------------------------------


def test_upcoming_next_due_and_due_between() -> None:
    c = course(weekly={"start": "2026-09-07", "end": "2026-09-30", "weekdays": ["mon"],
                       "time": "09:00", "lessons": ["a", "b", "c", "d"]})
    at_b = utc(2026, 9, 14, 13)  # Monday 09:00 EDT
    assert [o.lesson for o in upcoming("hist", c, at_b)] == ["c", "d"]  # b is due, not upcoming
    assert [o.lesson for o in upcoming("hist", c, at_b - dt.timedelta(seconds=1), limit=1)] == ["b"]
    nxt = next_due("hist", c, at_b)
    assert nxt is not None and nxt.lesson == "c"
    assert next_due("hist", c, utc(2027, 1, 1)) is None
    assert [o.lesson for o in due_between("hist", c, utc(2026, 9, 1), at_b)] == ["a", "b"]
    assert [o.lesson for o in due_between("hist", c, at_b, utc(2026, 9, 22))] == ["c"]
    assert [o.key for o in for_lesson("hist", c, "d")] == [("hist", "d", utc(2026, 9, 28, 13))]
    with pytest.raises(ValueError, match="timezone-aware"):
        upcoming("hist", c, dt.datetime(2026, 9, 14, 13))  # noqa: DTZ001 - the point of the test


def test_all_occurrences_merges_courses_in_time_order() -> None:
    ny = course(entries=[{"lesson": "a", "post_at": "2026-09-07 09:00"}])  # 13:00Z
    ldn = course("Europe/London", entries=[{"lesson": "b", "post_at": "2026-09-07 09:00"}])
    found = all_occurrences({"ny": ny, "ldn": ldn})
    assert [(o.course, o.post_at.hour) for o in found] == [("ldn", 8), ("ny", 13)]


# --- config problems a teacher would hit --------------------------------------------------


def _config(calendar: dict[str, Any]) -> dict[str, Any]:
    return {"courses": {"hist": {"name": "H", "guild_id": 1, "channel_id": 2,
                                 "calendar": calendar}}}


@pytest.mark.parametrize(("calendar", "sentence"), [
    ({"weekly": {"start": "2026-09-07", "end": "2026-09-30", "weekdays": ["mon"],
                 "time": 1020, "lessons": ["a"]}},
     'write the time in quotes, e.g. time: "17:00"'),
    ({"weekly": {"start": "2026-09-07", "end": "2026-09-30", "weekdays": ["mon"],
                 "time": "09:00", "lessons": ["a", "b", "a"]}},
     "lessons ['a'] are listed more than once"),
    ({"entries": [{"lesson": "a", "post_at": "2026-09-07 09:00",
                   "due_at": "2026-09-01 09:00"}]},
     "due_at 2026-09-01 09:00 is not after post_at 2026-09-07 09:00"),
])
def test_calendar_mistakes_are_explained(calendar: dict[str, Any], sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(_config(calendar))
    assert any(sentence in problem for problem in caught.value.problems)


# --- properties across DST changes ---------------------------------------------------------


def _slot_dates(pattern: WeeklyPattern) -> list[dt.date]:
    wanted = {WEEKDAYS.index(d) for d in pattern.weekdays}
    days = (pattern.start + dt.timedelta(days=i)
            for i in range((pattern.end - pattern.start).days + 1))
    return [d for d in days if d.weekday() in wanted and d not in set(pattern.skip)]


def _check_wall_time(instant: dt.datetime, wall: dt.datetime, zone: ZoneInfo) -> bool:
    """Assert ``instant`` shows ``wall`` on the zone's clock, or the documented gap shift.

    Returns whether the wall time was in a gap.
    """
    assert instant.utcoffset() == dt.timedelta(0)
    local = instant.astimezone(zone).replace(tzinfo=None)
    early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    exists = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
    if exists:
        assert local == wall
        # Repeated wall time (fall back): the first of the two instants.
        assert instant == min(early.astimezone(UTC), late.astimezone(UTC))
        return False
    gap = late.utcoffset() - early.utcoffset()  # type: ignore[operator]
    assert gap > dt.timedelta(0)
    assert local == wall + gap
    return True


def check_weekly(timezone: str, pattern: WeeklyPattern) -> list[Occurrence]:
    """Assert every promise the calendar makes about a weekly pattern; return the posts."""
    zone = ZoneInfo(timezone)
    c = CourseSettings(name="H", guild_id=1, channel_id=2, timezone=timezone,
                       calendar={"weekly": pattern})
    found = occurrences("hist", c)
    slots = _slot_dates(pattern)
    assert len(found) == min(len(pattern.lessons), len(slots))
    assert [o.lesson for o in found] == pattern.lessons[: len(found)]
    assert len({o.lesson for o in found}) == len(found)
    instants = [o.post_at for o in found]
    assert all(a < b for a, b in itertools.pairwise(instants))
    for occurrence, day in zip(found, slots, strict=False):
        wall = dt.datetime.combine(day, pattern.time)
        assert occurrence.scheduled == wall
        assert occurrence.shifted == _check_wall_time(occurrence.post_at, wall, zone)
        if pattern.due_after_days is not None:
            due_wall = dt.datetime.combine(day + dt.timedelta(days=pattern.due_after_days),
                                           pattern.time)
            assert occurrence.due_at is not None
            _check_wall_time(occurrence.due_at, due_wall, zone)
        if pattern.due is not None:
            due = occurrence.local_due_at
            assert due is not None and occurrence.due_at is not None
            assert occurrence.due_at > occurrence.post_at
            # The next such weekday and time: a week earlier would not be after the post.
            earlier = dt.datetime.combine(due.date() - dt.timedelta(days=7), pattern.due.time)
            assert local_to_utc(earlier, zone) <= occurrence.post_at
            _check_wall_time(occurrence.due_at,
                             dt.datetime.combine(due.date(), pattern.due.time), zone)
    return found


# Wall times around the transitions of the zones above (Santiago changes at midnight,
# Chatham at 02:45/03:45, Lord Howe by half an hour), plus any minute of the day.
NEAR_TRANSITIONS = [dt.time(h, m) for h in (0, 1, 2, 3, 23) for m in (0, 15, 30, 45)]
times = st.one_of(
    st.sampled_from(NEAR_TRANSITIONS),
    st.builds(dt.time, st.integers(0, 23), st.integers(0, 59)),
)


@st.composite
def weekly_patterns(draw: st.DrawFn) -> WeeklyPattern:
    start = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 4 * 365)))
    end = start + dt.timedelta(days=draw(st.integers(0, 240)))
    term = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    due_kind = draw(st.sampled_from(["none", "days", "weekday"]))
    return WeeklyPattern(
        start=start,
        end=end,
        weekdays=draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)),
        time=draw(times),
        lessons=[f"lesson-{i}" for i in range(draw(st.integers(1, 60)))],
        skip=draw(st.lists(st.sampled_from(term), max_size=10, unique=True)),
        due_after_days=draw(st.integers(0, 14)) if due_kind == "days" else None,
        due={"weekday": draw(st.sampled_from(WEEKDAYS)), "time": draw(times)}
        if due_kind == "weekday" else None,
    )


@settings(max_examples=150, deadline=None)
@given(timezone=st.sampled_from(DST_ZONES), pattern=weekly_patterns())
@example(timezone="America/New_York", pattern=WeeklyPattern(
    start=dt.date(2026, 3, 1), end=dt.date(2026, 11, 30), weekdays=["sun"],
    time=dt.time(2, 30), lessons=[f"l{i}" for i in range(40)], skip=[dt.date(2026, 3, 15)],
    due_after_days=7))
@example(timezone="America/Santiago", pattern=WeeklyPattern(
    start=dt.date(2026, 3, 1), end=dt.date(2026, 9, 30), weekdays=["sat", "sun"],
    time=dt.time(23, 30), lessons=[f"l{i}" for i in range(70)],
    due={"weekday": "sun", "time": "00:30"}))
@example(timezone="Pacific/Chatham", pattern=WeeklyPattern(
    start=dt.date(2026, 4, 1), end=dt.date(2026, 10, 1), weekdays=["sun"],
    time=dt.time(3, 0), lessons=[f"l{i}" for i in range(30)]))
def test_weekly_pattern_properties_across_dst(timezone: str, pattern: WeeklyPattern) -> None:
    check_weekly(timezone, pattern)


@pytest.mark.parametrize("timezone", DST_ZONES)
def test_every_sunday_night_of_a_year_keeps_its_wall_time(timezone: str) -> None:
    """Sweep the transition hours on the days clocks change; the gap case really occurs."""
    shifted = 0
    for time in NEAR_TRANSITIONS:
        pattern = WeeklyPattern(
            start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31), weekdays=["sat", "sun"],
            time=time, lessons=[f"l{i}" for i in range(110)], due_after_days=1,
        )
        shifted += sum(o.shifted for o in check_weekly(timezone, pattern))
    # Every zone but Kolkata springs forward once in 2026, over a gap of 30 to 60 minutes.
    assert shifted > 0 if timezone != "Asia/Kolkata" else shifted == 0


# --- seminar schedule ---------------------------------------------------------------------


LESSON = """\
title: Stalin's Crimes and Russia's Future
published: 2026-01-15
summary: How a country remembers.
questions:
  - "What should be remembered?"
"""


def write_config(tmp_path: Path, calendar: str) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "stalin.yaml").write_text(LESSON, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "courses:\n"
        "  hist:\n"
        "    name: Modern History\n"
        "    guild_id: 1\n"
        "    channel_id: 2\n"
        "    timezone: America/New_York\n"
        "    calendar:\n" + calendar,
        encoding="utf-8",
    )
    return config


def test_schedule_prints_every_post_in_local_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, (
        "      weekly:\n"
        "        start: 2025-10-20\n"
        "        end: 2025-11-05\n"
        "        weekdays: [mon]\n"
        "        time: '09:00'\n"
        "        lessons: [stalin, missing]\n"
        "        skip: [2025-10-27]\n"
        "        due: {weekday: fri, time: '17:00'}\n"
        "      entries:\n"
        "        - lesson: spring\n"
        "          post_at: 2025-03-09 02:30\n"
    ))
    assert main(["schedule", "--config", str(config), "--all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hist: Modern History (America/New_York), 3 post(s)"
    assert out[1].startswith("  Sun 2025-03-09 03:30 EDT  spring  (no lesson file")
    assert "02:30 does not exist that day" in out[2] and "posts at 03:30" in out[2]
    assert out[3] == ("  Mon 2025-10-20 09:00 EDT  stalin  Stalin's Crimes and Russia's Future"
                      "  due Fri 2025-10-24 17:00 EDT  (past)")
    # After the clocks went back: still 09:00 on the wall, now EST; 10-27 was skipped.
    assert out[4].startswith("  Mon 2025-11-03 09:00 EST  missing  (no lesson file")
    assert "due Fri 2025-11-07 17:00 EST" in out[4]


def test_schedule_shows_only_upcoming_posts_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = (dt.datetime.now(UTC) + dt.timedelta(days=30)).astimezone(
        ZoneInfo("America/New_York"))
    config = write_config(tmp_path, (
        "      entries:\n"
        "        - lesson: stalin\n"
        "          post_at: 2020-09-07 09:00\n"
        "        - lesson: stalin\n"
        f"          post_at: {soon:%Y-%m-%d} 10:15\n"
    ))
    assert main(["--config", str(config), "schedule", "--course", "hist"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hist: Modern History (America/New_York), 1 upcoming post(s)"
    assert out[1].startswith(f"  {soon:%a %Y-%m-%d} 10:15 E")
    assert "2020" not in "\n".join(out)


def test_schedule_unknown_course_is_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "      entries: []\n")
    assert main(["schedule", "--config", str(config), "--course", "history"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"no course named 'history' in {config} (courses: hist)"
    )


def test_schedule_explains_an_unquoted_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, (
        "      weekly: {start: 2026-09-07, end: 2026-09-30, weekdays: [mon], time: 17:00,\n"
        "               lessons: [stalin]}\n"
    ))
    assert main(["schedule", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "courses.hist.calendar.weekly.time" in err
    assert 'write the time in quotes, e.g. time: "17:00"' in err
    assert "Traceback" not in err
