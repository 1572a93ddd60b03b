"""The grading policy applied to a student's work: scores and reasons worked out by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.core.config import ConfigError, GradingSettings, load_policy, parse_settings
from bot.core.grading import (
    CourseGrade,
    GradedLesson,
    changed_grades,
    class_totals,
    grade_class,
    grade_student,
    late_credit,
    number,
    score_lesson,
)

DUE = dt.datetime(2026, 10, 5, 21, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
LESSON = GradedLesson(post_id=1, lesson="rome", title="Rome", questions=3, due_at=DUE)


@dataclass(frozen=True)
class Work:
    """A LessonWork made by hand."""

    author_id: int = 7
    post_id: int = 1
    due_at: dt.datetime | None = DUE
    extended: bool = False
    replies: int = 1
    substantive: int = 1
    on_time_questions: int = 1
    on_time_classmates: int = 0
    first_at: dt.datetime | None = DUE - 5 * H
    last_at: dt.datetime | None = DUE - 5 * H
    edited_after_due: int = 0
    deleted_after_due: int = 0
    late_questions: dict[int, dt.datetime] = field(default_factory=dict)
    late_classmates: dict[int, dt.datetime] = field(default_factory=dict)


def policy(**values: Any) -> GradingSettings:
    return GradingSettings.model_validate(values)


TWO_AND_ONE = {"min_words": 20, "points_per_lesson": 10, "questions": 2, "classmates": 2,
               "classmate_points": 4, "late_window_hours": 48}

# (what, policy, work, points, reasons) -- each score worked out by hand.
CASES: list[tuple[str, dict[str, Any], Work | None, str, tuple[str, ...]]] = [
    ("the default policy: one answer is full marks", {}, Work(), "10",
     ("answered 1 of 1 question required ✔ 10/10", "on time")),
    ("no reply at all", TWO_AND_ONE, None, "0", ("no reply",)),
    ("half the questions, half the classmates", TWO_AND_ONE,
     Work(replies=3, substantive=2, on_time_questions=1, on_time_classmates=1), "5",
     ("answered 1 of 2 questions required (20 words or more) 3/6",
      "replied to 1 of 2 classmates required 2/4", "on time",
      "1 short reply (under 20 words) not counted")),
    ("more questions than asked for still caps at the part's points", TWO_AND_ONE,
     Work(replies=4, substantive=4, on_time_questions=3, on_time_classmates=2), "10",
     ("answered 3 questions (20 words or more; 2 required) ✔ 6/6",
      "replied to 2 of 2 classmates required ✔ 4/4", "on time")),
    ("a question answered 12 h late of a 48 h window: 75% of its share", TWO_AND_ONE,
     Work(on_time_questions=1, late_questions={2: DUE + 12 * H}), "5.25",
     ("answered 2 of 2 questions required (20 words or more) 5.25/6",
      "replied to 0 of 2 classmates required 0/4", "an answer 12 h late: 75% credit")),
    ("after the late window: no credit, but it is named", TWO_AND_ONE,
     Work(on_time_questions=0, late_questions={2: DUE + 50 * H}), "0",
     ("answered 1 of 2 questions required (20 words or more) 0/6",
      "replied to 0 of 2 classmates required 0/4",
      "an answer 2.1 days late: no credit (after the late window)")),
    ("the best late answers are used, the earliest first", TWO_AND_ONE,
     Work(on_time_questions=1, late_questions={1: DUE + 36 * H, 2: DUE + 24 * H}), "4.5",
     ("answered 3 questions (20 words or more; 2 required) 4.5/6",
      "replied to 0 of 2 classmates required 0/4", "an answer 24 h late: 50% credit")),
    ("no late window set: late work keeps full credit and is named", {"questions": 1},
     Work(on_time_questions=0, late_questions={0: DUE + 3 * H}), "10",
     ("answered 1 of 1 question required ✔ 10/10", "an answer 3 h late: full credit")),
    ("a window of 0: nothing after the due time", {"late_window_hours": 0},
     Work(on_time_questions=0, late_questions={0: DUE + MIN * 10}),
     "0", ("answered 1 of 1 question required 0/10",
           "an answer 10 min late: no credit (after the late window)")),
    ("clumping: every reply in the last hour before the due time", {
        "clumping": {"minutes": 60, "penalty": 2}},
     Work(replies=2, substantive=2, first_at=DUE - 50 * MIN,
          last_at=DUE - 10 * MIN), "8",
     ("answered 1 of 1 question required ✔ 10/10", "on time",
      "−2: every reply came in the last 60 minutes before the due time")),
    ("clumping spares a student who began earlier", {"clumping": {"minutes": 60, "penalty": 2}},
     Work(replies=2, substantive=2, first_at=DUE - 3 * H, last_at=DUE - H / 6), "10",
     ("answered 1 of 1 question required ✔ 10/10", "on time")),
    ("the penalty never takes a score below 0", {
        "min_words": 5, "clumping": {"minutes": 60, "penalty": 10}},
     Work(replies=1, substantive=0, on_time_questions=0, first_at=DUE - H / 2,
          last_at=DUE - H / 2), "0",
     ("answered 0 of 1 question required (5 words or more) 0/10", "on time",
      "−0: every reply came in the last 60 minutes before the due time",
      "1 short reply (under 5 words) not counted")),
    ("an edit and a deletion after the due time are named", {},
     Work(replies=2, substantive=2, edited_after_due=1, deleted_after_due=1), "10",
     ("answered 1 of 1 question required ✔ 10/10", "on time",
      "1 reply edited after the due time, graded as at the due time",
      "1 reply deleted after the due time, still counted")),
    ("thirds are rounded to hundredths, the parts add up", {
        "questions": 3, "points_per_lesson": 10},
     Work(on_time_questions=1), "3.33",
     ("answered 1 of 3 questions required 3.33/10", "on time")),
    ("a lesson with one question cannot ask for two", TWO_AND_ONE | {"classmates": 1},
     Work(on_time_questions=1, on_time_classmates=1), "10",
     ("answered 1 of 1 question required (20 words or more) ✔ 6/6",
      "replied to 1 of 1 classmate required ✔ 4/4", "on time")),
]


@pytest.mark.parametrize(("what", "rules", "work", "points", "reasons"), CASES,
                         ids=[case[0] for case in CASES])
def test_a_lesson_scores_as_worked_out_by_hand(
    what: str, rules: dict[str, Any], work: Work | None, points: str, reasons: tuple[str, ...]
) -> None:
    lesson = GradedLesson(1, "rome", "Rome", 1, DUE) if "one question" in what else LESSON
    score = score_lesson(lesson, work, policy(**rules))
    assert (number(score.points), score.reasons) == (points, reasons)
    assert score.line() == f"Rome: {points}/{number(score.possible)} — {', '.join(reasons)}"


def test_late_credit_falls_linearly_over_the_window() -> None:
    assert late_credit(DUE, DUE, 10) == 1.0  # at the due time: on time
    assert late_credit(DUE - H, DUE, 10) == 1.0
    assert late_credit(DUE + 5 * H, DUE, 10) == pytest.approx(0.5)
    assert late_credit(DUE + 10 * H, DUE, 10) == 0.0
    assert late_credit(DUE + 11 * H, DUE, 10) == 0.0
    assert late_credit(DUE + 100 * H, DUE, None) == 1.0  # no window: late keeps its credit
    assert late_credit(DUE + H / 3600, DUE, 0) == 0.0


def test_an_open_lesson_is_shown_but_not_counted_and_an_extension_says_so() -> None:
    later = GradedLesson(2, "greece", "Greece", 3, DUE + 7 * 24 * H)
    grade = grade_student(7, [LESSON, later], {1: Work()}, policy(), now=DUE + H,
                          dues={"greece": DUE + 9 * 24 * H})
    assert [(s.lesson, s.state, s.extended) for s in grade.lessons] == [
        ("rome", "graded", False), ("greece", "open", True)]
    assert (grade.total, grade.possible) == (Decimal(10), Decimal(10))
    assert grade.lessons[1].due_at == DUE + 9 * 24 * H
    assert grade.summary() == "Total: 10/10 over 1 graded lesson, 1 still open"


def test_the_lowest_lessons_are_dropped_but_one_is_always_kept() -> None:
    lessons = [GradedLesson(i, f"l{i}", f"L{i}", 1, DUE) for i in range(1, 5)]
    work = {1: Work(post_id=1), 3: Work(post_id=3)}  # full marks for 1 and 3, none for 2, 4
    grade = grade_student(7, lessons, work, policy(drop_lowest=1))
    assert [s.state for s in grade.lessons] == ["graded", "dropped", "graded", "graded"]
    assert (grade.total, grade.possible) == (Decimal(20), Decimal(30))
    assert grade.summary() == "Total: 20/30 over 3 graded lessons, lowest 1 lesson dropped"
    only = grade_student(7, lessons[:1], {}, policy(drop_lowest=5))
    assert [s.state for s in only.lessons] == ["graded"]


def test_a_class_is_graded_once_per_student_and_changes_are_listed() -> None:
    lessons = [LESSON]
    work = [Work(author_id=1), Work(author_id=2, on_time_questions=0,
                                    late_questions={0: DUE + 12 * H})]
    strict = grade_class([1, 2, 3], lessons, work, policy(late_window_hours=24))
    lenient = grade_class([1, 2, 3], lessons, work, policy(late_window_hours=48))
    assert {u: number(g.total) for u, g in strict.items()} == {1: "10", 2: "5", 3: "0"}
    assert [(u, number(a.total), number(b.total))
            for u, a, b in changed_grades(strict, lenient)] == [(2, "5", "7.5")]
    assert changed_grades(strict, strict) == []


works = st.builds(
    Work,
    replies=st.integers(1, 6),
    substantive=st.integers(0, 6),
    on_time_questions=st.integers(0, 4),
    on_time_classmates=st.integers(0, 4),
    first_at=st.just(DUE - 5 * H),
    last_at=st.sampled_from([DUE - 5 * H, DUE - H / 4]),
    late_questions=st.dictionaries(st.integers(0, 3),
                                   st.integers(1, 100).map(lambda h: DUE + h * H), max_size=3),
    late_classmates=st.dictionaries(st.integers(10, 20),
                                    st.integers(1, 100).map(lambda h: DUE + h * H), max_size=3),
)
policies = st.builds(
    lambda q, c, cp, w, clump, drop: policy(
        questions=q, classmates=c, classmate_points=cp if c else 0, late_window_hours=w,
        clumping={"minutes": 30, "penalty": clump} if clump else None, drop_lowest=drop,
        points_per_lesson=7),
    st.integers(1, 4), st.integers(0, 3), st.sampled_from([1, 2.5, 3]),
    st.sampled_from([None, 0, 12, 72]), st.sampled_from([0, 1.5]), st.integers(0, 3))


@given(rules=policies, work=st.lists(st.none() | works, min_size=1, max_size=6))
@example(rules=policy(questions=3), work=[Work(on_time_questions=1)] * 3)
def test_the_total_is_the_sum_of_the_counted_lines(rules: GradingSettings,
                                                   work: list[Work | None]) -> None:
    lessons = [GradedLesson(i, f"l{i}", f"L{i}", 3, DUE) for i in range(len(work))]
    by_post = {i: w.__class__(**{**w.__dict__, "post_id": i})
               for i, w in enumerate(work) if w is not None}
    grade: CourseGrade = grade_student(7, lessons, by_post, rules)
    counted = [s for s in grade.lessons if s.counted]
    assert grade.total == sum((s.points for s in counted), Decimal(0))
    assert grade.possible == Decimal(str(rules.points_per_lesson)) * len(counted)
    assert all(Decimal(0) <= s.points <= s.possible for s in grade.lessons)
    assert sum(s.state == "dropped" for s in grade.lessons) == min(
        rules.drop_lowest, len(lessons) - 1)
    dropped = [s.points for s in grade.lessons if s.state == "dropped"]
    assert all(d <= s.points for d in dropped for s in counted)  # only the lowest go


@pytest.mark.parametrize(("rules", "problem"), [
    ({"classmates": 2}, "classmates is 2 but classmate_points is 0"),
    ({"classmate_points": 3}, "classmate_points is set but classmates is 0"),
    ({"classmates": 1, "classmate_points": 12}, "classmate_points (12) is more than"),
    ({"points_per_lesson": 0}, "points_per_lesson must be more than 0"),
    ({"clumping": {"minutes": 30, "penalty": 20}}, "clumping.penalty (20) is more than"),
    ({"late_window_hours": -1}, "greater than or equal to 0"),
    ({"questions": 0}, "greater than or equal to 1"),
])
def test_a_policy_that_does_not_add_up_is_refused_with_a_sentence(
    rules: dict[str, Any], problem: str
) -> None:
    config = {"courses": {"bio": {"name": "Bio", "guild_id": 1, "channel_id": 2,
                                  "grading": rules}}}
    with pytest.raises(ConfigError) as raised:
        parse_settings(config)
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_a_policy_file_names_the_line_of_each_problem(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("grading:\n  points_per_lesson: 10\n  questions: zero\n  drop_lowst: 1\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    assert raised.value.problems == [
        f"{path}:3: grading.questions: Input should be a valid integer, unable to parse string "
        "as an integer",
        f"{path}:4: grading.drop_lowst: unknown setting (check its spelling and indentation)",
    ]
    path.write_text("points_per_lesson: 5\nlate_window_hours: 24\n", encoding="utf-8")
    assert load_policy(path) == policy(points_per_lesson=5, late_window_hours=24)
    with pytest.raises(ConfigError, match="no such policy file"):
        load_policy(tmp_path / "missing.yaml")


def test_an_extension_for_a_lesson_outside_the_calendar_is_refused() -> None:
    base = {"name": "Bio", "guild_id": 1, "channel_id": 2, "calendar": {"entries": [
        {"lesson": "rome", "post_at": "2026-10-01 09:00"}]}}
    rome = {"student": 7, "lesson": "rome", "until": "2026-10-09 23:59"}
    assert parse_settings({"courses": {"bio": base | {"extensions": [rome]}}})
    with pytest.raises(ConfigError) as raised:
        parse_settings({"courses": {"bio": base | {"extensions": [
            rome, {"student": 7, "lesson": "greece", "until": "2026-10-09 23:59"}]}}})
    assert raised.value.problems == [
        "config: courses.bio: extensions[2]: lesson 'greece' is not in this course's calendar, "
        "so the extension would never apply"]
    with pytest.raises(ConfigError) as raised:
        parse_settings({"courses": {"bio": base | {"extensions": [
            rome, {"student": 7, "lesson": "rome", "until": "2026-10-10"}]}}})
    assert raised.value.problems == [
        "config: courses.bio.extensions[2].until: 2026-10-10 has no time of day: write one too, "
        "e.g. '2026-10-10 23:59'"]


@given(rules=policies, work=st.lists(st.none() | works, min_size=1, max_size=6),
       hours_now=st.sampled_from([None, -10, 10]))
@example(rules=policy(questions=3, drop_lowest=1), work=[Work(on_time_questions=1), None],
         hours_now=None)
def test_the_quick_totals_are_the_graded_ones(rules: GradingSettings, work: list[Work | None],
                                             hours_now: int | None) -> None:
    lessons = [GradedLesson(i, f"l{i}", f"L{i}", 3, DUE + i * H) for i in range(len(work))]
    rows = [w.__class__(**{**w.__dict__, "post_id": i}) for i, w in enumerate(work)
            if w is not None]
    now = None if hours_now is None else DUE + hours_now * H
    dues = {8: {"l0": DUE + 20 * H}}
    full = grade_class([7, 8], lessons, rows, rules, now=now, dues=dues)
    quick = class_totals([7, 8], lessons, rows, rules, now=now, dues=dues)
    assert quick == {user: (grade.total, grade.possible) for user, grade in full.items()}
