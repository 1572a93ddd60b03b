"""Finding a lesson from what a student types, and which lesson is current."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from bot.core.lessons import Lesson
from bot.core.lookup import close_matches, current_lesson, find_lesson, lesson_choices
from bot.core.render import CHOICE_NAME_LIMIT, CHOICES_LIMIT


def lesson(slug: str, title: str, published: dt.date) -> Lesson:
    return Lesson(slug=slug, title=title, published=published, summary="S.", questions=["Q?"])


LESSONS = {
    lesson.slug: lesson
    for lesson in [
        lesson("stalins-crimes", "Stalin’s Crimes and Russia’s Future", dt.date(2021, 8, 10)),
        lesson("cold-war", "The Cold War Begins", dt.date(2021, 9, 1)),
        lesson("gulag", "Women of the Gulag", dt.date(2021, 7, 1)),
    ]
}


@dataclass(frozen=True)
class Posted:
    lesson: str
    post_at: dt.datetime


NOW = dt.datetime(2021, 10, 1, 12, tzinfo=dt.UTC)


def test_find_lesson_by_slug_or_title_ignoring_case() -> None:
    assert find_lesson(LESSONS, "gulag") is LESSONS["gulag"]
    assert find_lesson(LESSONS, "  the cold   WAR begins ") is LESSONS["cold-war"]
    assert find_lesson(LESSONS, "COLD-WAR") is LESSONS["cold-war"]
    assert find_lesson(LESSONS, "cold") is None


def test_close_matches_suggest_the_lesson_meant() -> None:
    assert [m.slug for m in close_matches(LESSONS, "stalin crimes")] == ["stalins-crimes"]
    assert [m.slug for m in close_matches(LESSONS, "cold")] == ["cold-war"]
    assert close_matches(LESSONS, "photosynthesis") == []


def test_choices_without_typing_are_the_newest_lessons() -> None:
    assert [value for _, value in lesson_choices(LESSONS, "")] == [
        "cold-war", "stalins-crimes", "gulag"]


def test_choices_match_title_words_and_slugs() -> None:
    assert lesson_choices(LESSONS, "sta") == [
        ("Stalin’s Crimes and Russia’s Future (2021-08-10)", "stalins-crimes")]
    assert [v for _, v in lesson_choices(LESSONS, "war")] == ["cold-war"]
    assert [v for _, v in lesson_choices(LESSONS, "gulg")] == ["gulag"]


@given(st.text(max_size=120))
def test_many_lessons_give_at_most_25_short_choices(typed: str) -> None:
    many = {
        f"lesson-{i}": lesson(f"lesson-{i}", "A long lesson title " * 15, dt.date(2021, 1, 1))
        for i in range(40)
    }
    choices = lesson_choices(many, typed)
    assert len(choices) <= CHOICES_LIMIT
    assert all(0 < len(name) <= CHOICE_NAME_LIMIT for name, _ in choices)


def test_current_lesson_is_the_latest_posted_then_scheduled_then_published() -> None:
    posted = [Posted("gulag", NOW - dt.timedelta(days=3)),
              Posted("stalins-crimes", NOW - dt.timedelta(days=10))]
    scheduled = [Posted("stalins-crimes", NOW - dt.timedelta(days=1)),
                 Posted("cold-war", NOW + dt.timedelta(days=1))]
    assert current_lesson(LESSONS, now=NOW, posted=posted, scheduled=scheduled) is LESSONS["gulag"]
    assert current_lesson(LESSONS, now=NOW, scheduled=scheduled) is LESSONS["stalins-crimes"]
    # Nothing scheduled up to now: the newest lesson by date.
    assert current_lesson(LESSONS, now=NOW, scheduled=scheduled[1:]) is LESSONS["cold-war"]
    # A calendar naming a lesson file that is gone does not break the answer.
    assert current_lesson(LESSONS, now=NOW, posted=[Posted("gone", NOW)]) is LESSONS["cold-war"]
    assert current_lesson({}, now=NOW) is None
