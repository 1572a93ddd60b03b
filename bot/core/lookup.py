"""Finding lessons by what a student types: exact names, autocomplete, close matches, current.

Pure: no discord.py, no database. The cogs pass in what storage and the calendar know.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.core.lessons import Lesson
from bot.core.render import CHOICE_NAME_LIMIT, CHOICE_VALUE_LIMIT, CHOICES_LIMIT, truncate


class ScheduledPost(Protocol):
    """A lesson scheduled (or posted) at an instant: a calendar occurrence or a posted row."""

    @property
    def lesson(self) -> str: ...

    @property
    def post_at(self) -> dt.datetime: ...


@dataclass(frozen=True)
class PostedLesson:
    """A lesson that was posted in a course at an instant."""

    lesson: str
    post_at: dt.datetime


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def find_lesson(lessons: Mapping[str, Lesson], name: str) -> Lesson | None:
    """The lesson whose slug or title is ``name`` (ignoring case and extra spaces)."""
    name = name.strip()
    if name in lessons:
        return lessons[name]
    wanted = _norm(name)
    for lesson in lessons.values():
        if wanted in (lesson.slug.casefold(), _norm(lesson.title)):
            return lesson
    return None


def close_matches(lessons: Mapping[str, Lesson], name: str, limit: int = 5) -> list[Lesson]:
    """Lessons whose slug or title looks like ``name``, best first (for 'did you mean')."""
    wanted = _norm(name)
    if not wanted:
        return []
    scored: dict[str, float] = {}
    for lesson in lessons.values():
        keys = (lesson.slug.casefold(), _norm(lesson.title))
        if any(wanted in key for key in keys):
            score = 2.0
        else:
            score = max(difflib.SequenceMatcher(None, wanted, key).ratio() for key in keys)
        if score >= 0.5:
            scored[lesson.slug] = score
    best = sorted(scored, key=lambda slug: (-scored[slug], slug))
    return [lessons[slug] for slug in best[:limit]]


def choice_name(lesson: Lesson) -> str:
    """The label of a lesson in an autocomplete list: its title and date, at most 100 characters."""
    suffix = f" ({lesson.published.isoformat()})"
    return truncate(lesson.title, CHOICE_NAME_LIMIT - len(suffix)) + suffix


def lesson_choices(lessons: Mapping[str, Lesson], typed: str) -> list[tuple[str, str]]:
    """Autocomplete choices (label, slug) for what has been typed so far, at most 25.

    Nothing typed: the newest lessons. Otherwise title or slug prefixes first, then any
    word of the title starting with it, then substrings, then look-alikes.
    """
    wanted = _norm(typed)
    ranked: list[tuple[float, dt.date, Lesson]] = []
    for lesson in lessons.values():
        title, slug = _norm(lesson.title), lesson.slug.casefold()
        if not wanted or title.startswith(wanted) or slug.startswith(wanted):
            rank = 0.0
        elif any(word.startswith(wanted) for word in title.split() + slug.split("-")):
            rank = 1.0
        elif wanted in title or wanted in slug:
            rank = 2.0
        else:
            ratio = max(difflib.SequenceMatcher(None, wanted, k).ratio() for k in (title, slug))
            if ratio < 0.5:
                continue
            rank = 3.0 + (1.0 - ratio)
        ranked.append((rank, lesson.published, lesson))
    # Best rank first; within a rank the newest lesson first.
    ranked.sort(key=lambda item: (item[0], -item[1].toordinal(), item[2].slug))
    return [
        (choice_name(lesson), lesson.slug[:CHOICE_VALUE_LIMIT])
        for _, _, lesson in ranked[:CHOICES_LIMIT]
    ]


def current_lesson(
    lessons: Mapping[str, Lesson],
    *,
    now: dt.datetime,
    posted: Iterable[ScheduledPost] = (),
    scheduled: Iterable[ScheduledPost] = (),
) -> Lesson | None:
    """The lesson a course is on now.

    The most recently posted lesson; if none was posted yet, the latest one the calendar
    scheduled up to ``now``; failing that, the most recently published lesson.
    """
    for source in (posted, scheduled):
        known = [p for p in source if p.lesson in lessons and p.post_at <= now]
        if known:
            return lessons[max(known, key=lambda p: p.post_at).lesson]
    if not lessons:
        return None
    return max(lessons.values(), key=lambda lesson: (lesson.published, lesson.slug))
