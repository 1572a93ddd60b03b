"""Cross-checks between the config and the lessons, for ``seminar check`` and start-up."""

from __future__ import annotations

from bot.core.config import Settings
from bot.core.lessons import Lesson


def check_references(settings: Settings, lessons: dict[str, Lesson]) -> list[str]:
    """Problems that stop the bot: a calendar naming a lesson that does not exist."""
    problems: list[str] = []
    known = ", ".join(sorted(lessons)) or "none"
    for key, course in settings.courses.items():
        named = [e.lesson for e in course.calendar.entries]
        if course.calendar.weekly is not None:
            named += course.calendar.weekly.lessons
        for slug in dict.fromkeys(named):
            if slug not in lessons:
                problems.append(
                    f"courses.{key}.calendar: lesson {slug!r} has no file in "
                    f"{settings.lessons.folder} (lessons: {known})"
                )
    return problems


def advice(settings: Settings, lessons: dict[str, Lesson]) -> list[str]:
    """Things worth fixing that do not stop the bot, such as a reading without a link."""
    notes: list[str] = []
    for slug, lesson in lessons.items():
        for index, resource in enumerate(lesson.resources, 1):
            if resource.url is None:
                notes.append(
                    f"lesson {slug}: reading {index} ({resource.title}) has no url, "
                    "so students get no link button for it"
                )
    if not settings.courses:
        notes.append("no courses configured yet: add one under 'courses' (see "
                     "config.example.yaml)")
    return notes
