"""Lesson files: every shipped lesson loads; a broken one names the file, the field, the line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.lessons import Lesson, LessonError, dump_lesson, load_lessons, parse_lesson

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"

GOOD = """\
title: A good lesson
published: 2021-08-10
summary: Something to talk about.
questions:
  - Why?
  - How?
resources:
  - title: A reading
    author: Someone
    url: https://example.org/reading
  - title: A video
    kind: watch
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(LessonError) as caught:
        load_lessons(folder)
    return caught.value.problems


# --- shipped lessons -------------------------------------------------------------------------

def test_every_shipped_lesson_loads() -> None:
    lessons = load_lessons(PROMPTS)
    assert "stalins-crimes-and-russias-future" in lessons
    for slug, lesson in lessons.items():
        assert lesson.slug == slug
        assert lesson.title.strip()
        assert lesson.summary.strip()
        assert lesson.questions
        # Every shipped reading has a link, so students get a button for each.
        assert all(r.url is not None for r in lesson.resources), slug


def test_the_seed_lesson_is_complete() -> None:
    lesson = load_lessons(PROMPTS)["stalins-crimes-and-russias-future"]
    assert lesson.title == "Stalin’s Crimes and Russia’s Future"
    assert lesson.published == dt.date(2021, 8, 10)
    assert len(lesson.questions) == 2
    assert [r.author for r in lesson.resources] == ["Paul R. Gregory"] * 3
    assert lesson.transcript is not None and "Great Terror" in lesson.transcript


# --- a good file -----------------------------------------------------------------------------

def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    write(tmp_path, "week-1.yaml", GOOD)
    write(tmp_path, "notes.txt", "not a lesson: ignored")
    lesson = load_lessons(tmp_path)["week-1"]
    assert lesson.published == dt.date(2021, 8, 10)
    assert lesson.questions == ["Why?", "How?"]
    assert lesson.resources[0].kind == "read"
    assert lesson.resources[1].url is None
    assert lesson.transcript is None


def test_dump_and_load_give_the_same_lesson(tmp_path: Path) -> None:
    lesson = load_lessons(write(tmp_path, "week-1.yaml", GOOD).parent)["week-1"]
    assert parse_lesson(dump_lesson(lesson), "week-1", "week-1.yaml") == lesson


# --- broken files: file, field and line ------------------------------------------------------

def test_missing_questions_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", GOOD.split("questions:")[0])
    assert problems_of(tmp_path) == [f"{path}:1: questions is required"]


def test_empty_questions_list(tmp_path: Path) -> None:
    text = GOOD.replace("  - Why?\n  - How?\n", "").replace("questions:", "questions: []")
    path = write(tmp_path, "week-1.yaml", text)
    assert problems_of(tmp_path) == [f"{path}:4: questions needs at least one question"]


def test_bad_date_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", GOOD.replace("2021-08-10", "last tuesday"))
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}:2: published ")
    assert "date" in problem


def test_impossible_date_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    # YAML reads 2021-13-45 as a timestamp and Python refuses the month.
    path = write(tmp_path, "week-1.yaml", GOOD.replace("2021-08-10", "2021-13-45"))
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}:2: published ")


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", GOOD.replace("summary: Something", 'summary: "Some'))
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}:")
    assert "not valid YAML" in problem


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", GOOD.replace("summary:", "summery:"))
    problems = problems_of(tmp_path)
    assert f"{path}:3: summery is not a lesson field (check its spelling)" in problems
    assert f"{path}:1: summary is required" in problems


def test_bad_resource_url_names_the_resource_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", GOOD.replace("https://example.org/reading",
                                                       "example.org/reading"))
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}:10: resources[1].url ")
    assert "is not a web address" in problem


def test_bad_resource_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", GOOD.replace("kind: watch", "kind: skim"))
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}:12: resources[2].kind ")


def test_slug_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", "slug: other\n" + GOOD)
    assert problems_of(tmp_path) == [
        f"{path}: remove 'slug': a lesson's name is its file name"
    ]


def test_a_file_name_that_is_not_a_lesson_name(tmp_path: Path) -> None:
    path = write(tmp_path, "Week 1.yaml", GOOD)
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}: slug 'Week 1' is not a usable lesson name")
    assert "rename the file" in problem


def test_duplicate_slug_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "week-1.yaml", GOOD)
    duplicate = write(tmp_path, "week-1.yml", GOOD)
    assert problems_of(tmp_path) == [
        f"{duplicate}: lesson name 'week-1' is used by another file too"
    ]


def test_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "week-1.yaml", "- just\n- a list\n")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}: a lesson file must be a mapping")


def test_every_broken_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "a.yaml", GOOD.split("questions:")[0])
    write(tmp_path, "b.yaml", GOOD.replace("summary:", "summery:"))
    write(tmp_path, "c.yaml", "title: [unclosed\n")
    problems = problems_of(tmp_path)
    assert {p.split(":")[0] for p in problems} == {
        str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), str(tmp_path / "c.yaml")
    }


def test_missing_folder(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}: the lessons folder does not exist"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "week-1.yaml"
    path.write_bytes(b"title: \xff\xfe broken\n")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}: cannot read the file")


# --- arbitrary text --------------------------------------------------------------------------

_YAMLISH = st.lists(
    st.one_of(
        st.sampled_from([
            "title: T", "published: 2021-08-10", "published: 2021-02-30", "summary: S",
            "questions:", "  - Why?", "  - ", "resources:", "  - title: R", "    url: x",
            "    kind: listen", "transcript: |", "  text", "slug: x", "? key", "&a [1]", "*a",
            "published: 10:30", "published: 2021-13-45 10:00:00", "!!binary x", "- 1",
            "questions: {a: b}", "title: !!python/object:os.system x", "%YAML 1.1", "---",
        ]),
        st.text(max_size=30),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=500), _YAMLISH.map("\n".join)))
def test_any_text_is_a_lesson_or_a_lesson_error(text: str) -> None:
    try:
        lesson = parse_lesson(text, "fuzz", "fuzz.yaml")
    except LessonError as exc:
        assert exc.problems
        assert all(p.startswith("fuzz.yaml") for p in exc.problems)
    else:
        assert isinstance(lesson, Lesson)
