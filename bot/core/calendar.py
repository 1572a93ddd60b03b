"""Course calendar -> dated occurrences: which lesson is posted when, and when it is due.

Pure: no discord.py, no database. Times in the config are the course's local wall times;
every occurrence carries UTC instants, converted in one place (:func:`local_to_utc`; a time
written with an offset, ``2026-12-10T23:59:00Z``, means that instant: :func:`to_utc`):

- DST never moves a post off its local wall time: 09:00 stays 09:00 all year.
- A local time that does not exist (the spring-forward gap) is moved forward by the length
  of the gap: 02:30 on the night clocks go from 02:00 to 03:00 becomes 03:30.
- A local time that happens twice (the fall-back overlap) means its first occurrence, so the
  same wall time is never posted twice.

The weekly pattern gives each listed weekday from ``start`` to ``end`` (inclusive) one lesson,
in order, until the lessons run out; a skip date holds no post and uses up no lesson. An
explicit entry for a lesson replaces that lesson's weekly slot (the slot stays empty, so the
other lessons keep their dates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from bot.core import limits

if TYPE_CHECKING:  # the config's models use this module's time rules to validate themselves
    from bot.core.config import CalendarEntry, CourseSettings, WeeklyPattern

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

Source = Literal["entry", "weekly"]


@dataclass(frozen=True)
class Occurrence:
    """One scheduled post of a lesson in a course, with instants in UTC."""

    course: str
    lesson: str
    post_at: dt.datetime
    due_at: dt.datetime | None
    zone: ZoneInfo
    scheduled: dt.datetime
    source: Source

    @property
    def local_post_at(self) -> dt.datetime:
        """The post time on the course's wall clock (aware, in the course zone)."""
        return self.post_at.astimezone(self.zone)

    @property
    def local_due_at(self) -> dt.datetime | None:
        """The due time on the course's wall clock, if the lesson has one."""
        return None if self.due_at is None else self.due_at.astimezone(self.zone)

    @property
    def shifted(self) -> bool:
        """Whether the configured wall time did not exist that day and was moved forward."""
        return self.local_post_at.replace(tzinfo=None) != self.scheduled

    @property
    def key(self) -> tuple[str, str, dt.datetime]:
        """The identity of the post: course, lesson and scheduled UTC instant."""
        return (self.course, self.lesson, self.post_at)


def local_to_utc(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Turn a naive wall time in ``zone`` into an aware UTC instant (gap: forward; overlap: first).

    With ``fold=0`` zoneinfo reads a time in a gap with the offset in force before the gap,
    which lands the same distance past the gap (02:30 -> 03:30), and a repeated time as its
    first occurrence (PEP 495). Every conversion goes through here so the rule is the same
    for posts and due times.
    """
    if wall.tzinfo is not None:
        raise ValueError(f"expected a wall time without a zone, got {wall.isoformat()}")
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_utc(when: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A time from the config as a UTC instant: a wall time in ``zone``, or one with an offset.

    ``2026-12-10 23:59`` is the course's wall clock (:func:`local_to_utc`);
    ``2026-12-10T23:59:00Z`` and ``2026-12-10 23:59+05:00`` say which instant they mean.
    """
    if when.tzinfo is None:
        return local_to_utc(when, zone)
    return when.astimezone(UTC)


def wall_time(when: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A time from the config as ``zone``'s wall clock reads it (naive)."""
    return when if when.tzinfo is None else when.astimezone(zone).replace(tzinfo=None)


def _entry(course_key: str, zone: ZoneInfo, entry: CalendarEntry) -> Occurrence:
    due = None if entry.due_at is None else to_utc(entry.due_at, zone)
    return Occurrence(
        course=course_key,
        lesson=entry.lesson,
        post_at=to_utc(entry.post_at, zone),
        due_at=due,
        zone=zone,
        scheduled=wall_time(entry.post_at, zone),
        source="entry",
    )


def weekly_slots(pattern: WeeklyPattern) -> Iterator[dt.date]:
    """Yield each date from start to end (inclusive) on a listed weekday that is not skipped."""
    weekdays = {WEEKDAYS.index(day) for day in pattern.weekdays}
    skip = set(pattern.skip)
    day = pattern.start
    while day <= pattern.end:
        if day.weekday() in weekdays and day not in skip:
            yield day
        day += dt.timedelta(days=1)


def _weekly_due(pattern: WeeklyPattern, day: dt.date, post_at: dt.datetime,
                zone: ZoneInfo) -> dt.datetime | None:
    if pattern.due_after_days is not None:
        wall = dt.datetime.combine(day + dt.timedelta(days=pattern.due_after_days), pattern.time)
        return local_to_utc(wall, zone)
    if pattern.due is not None:
        target = WEEKDAYS.index(pattern.due.weekday)
        # Days 0..7 ahead cover "later the same day" and "the same weekday next week".
        for ahead in range(8):
            candidate = day + dt.timedelta(days=ahead)
            if candidate.weekday() != target:
                continue
            due = local_to_utc(dt.datetime.combine(candidate, pattern.due.time), zone)
            if due > post_at:
                return due
    return None


def _weekly(course_key: str, zone: ZoneInfo, pattern: WeeklyPattern,
            taken: set[str]) -> list[Occurrence]:
    lessons = iter(pattern.lessons)
    found: list[Occurrence] = []
    last: dt.datetime | None = None
    for day in weekly_slots(pattern):
        wall = dt.datetime.combine(day, pattern.time)
        post_at = local_to_utc(wall, zone)
        if last is not None and post_at <= last:
            # A date the zone skipped entirely (Samoa, 2011-12-30) maps onto the next day's
            # instant; it is not a real slot, so it uses up no lesson.
            continue
        last = post_at
        lesson = next(lessons, None)
        if lesson is None:
            break
        if lesson in taken:
            continue  # an explicit entry moved this lesson; its weekly slot stays empty
        found.append(Occurrence(
            course=course_key,
            lesson=lesson,
            post_at=post_at,
            due_at=_weekly_due(pattern, day, post_at, zone),
            zone=zone,
            scheduled=wall,
            source="weekly",
        ))
    return found


def _sort_key(occurrence: Occurrence) -> tuple[dt.datetime, str, str]:
    return (occurrence.post_at, occurrence.course, occurrence.lesson)


def occurrences(course_key: str, course: CourseSettings) -> list[Occurrence]:
    """Every post in a course's calendar, sorted by post time, one per (lesson, post time)."""
    zone = course.zone
    explicit: dict[tuple[str, dt.datetime], Occurrence] = {}
    for entry in course.calendar.entries:
        occurrence = _entry(course_key, zone, entry)
        # The first entry for a (lesson, time) wins, so a repeated line cannot post twice.
        explicit.setdefault((occurrence.lesson, occurrence.post_at), occurrence)
    found = list(explicit.values())
    if course.calendar.weekly is not None:
        taken = {occurrence.lesson for occurrence in found}
        found += _weekly(course_key, zone, course.calendar.weekly, taken)
    return sorted(found, key=_sort_key)


def all_occurrences(courses: Mapping[str, CourseSettings]) -> list[Occurrence]:
    """Every post of every course, sorted by post time (then course and lesson)."""
    found: list[Occurrence] = []
    for key, course in courses.items():
        found += occurrences(key, course)
    return sorted(found, key=_sort_key)


def _aware(moment: dt.datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")


def _limited(found: Iterable[Occurrence], limit: int | None) -> list[Occurrence]:
    result = list(found)
    return result if limit is None else result[:limit]


def upcoming(course_key: str, course: CourseSettings, now: dt.datetime,
             limit: int | None = None) -> list[Occurrence]:
    """The posts not yet due at ``now`` (post time strictly later), soonest first."""
    _aware(now, "now")
    return _limited((o for o in occurrences(course_key, course) if o.post_at > now), limit)


def next_due(course_key: str, course: CourseSettings, now: dt.datetime) -> Occurrence | None:
    """The first post that falls due after ``now``, or None when the calendar is done."""
    found = upcoming(course_key, course, now, limit=1)
    return found[0] if found else None


def due_between(course_key: str, course: CourseSettings, start: dt.datetime,
                end: dt.datetime) -> list[Occurrence]:
    """The posts that fall due after ``start`` and by ``end`` (start < post_at <= end)."""
    _aware(start, "start")
    _aware(end, "end")
    return [o for o in occurrences(course_key, course) if start < o.post_at <= end]


def for_lesson(course_key: str, course: CourseSettings, lesson: str) -> list[Occurrence]:
    """The scheduled posts of one lesson in a course (usually one), soonest first."""
    return [o for o in occurrences(course_key, course) if o.lesson == lesson]


def format_local(moment: dt.datetime) -> str:
    """Show an aware time as the course's wall clock reads it: 'Mon 2026-09-07 09:00 EDT'."""
    return f"{WEEKDAYS[moment.weekday()].title()} {moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def parse_course_time(text: str, zone: ZoneInfo) -> dt.datetime:
    """A date and time typed by a teacher (``2026-12-10 23:59``, the course's clock) in UTC.

    Raises ``ValueError`` saying what is wrong with it and what to type (the caller names
    what was typed, escaped for where it shows it), for a date outside the range every
    other date of Seminar keeps to too (:mod:`bot.core.limits`).
    """
    cleaned = " ".join(text.replace("T", " ").split())
    for layout in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            when = dt.datetime.strptime(cleaned, layout)  # noqa: DTZ007 - the course's clock
        except ValueError:
            continue
        if not limits.EARLIEST_DATE <= when.date() <= limits.LATEST_DATE:
            raise ValueError(f"is outside the dates Seminar schedules: use one from "
                             f"{limits.EARLIEST_DATE} to {limits.LATEST_DATE}")
        return to_utc(when, zone)
    raise ValueError("is not a date and time: write it like 2026-12-10 23:59 (the course's "
                     f"time zone, {zone.key})")
