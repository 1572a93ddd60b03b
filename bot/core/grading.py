"""A course's grading policy applied to a student's work: scores, each with its reasons.

Pure: no discord.py, no SQLAlchemy. The counting is SQL (``storage.reports.ReportStore.work``:
one row per student and posted lesson, see :class:`LessonWork`); this module turns those rows
into points under a :class:`~bot.core.config.GradingSettings` and says why, in plain words.
The same functions serve ``/mystats``, ``/participation``, the gradebook CSV and
``seminar grades``, so a student, a teacher and a spreadsheet always see one score.

How a lesson is scored (every number is the course's policy):

- Only *substantive* replies earn points: ``min_words`` words of the student's own or more
  (:mod:`bot.core.participation_rules` says which words count). A reply keeps the words it had
  at the student's due time: an edit after it never raises a score, and a reply deleted after
  it still counts as it was. A reply deleted before the due time counts for nothing.
- ``points_per_lesson`` are split in two: ``classmate_points`` for replying to ``classmates``
  distinct classmates, the rest for answering ``questions`` distinct questions (at most as
  many as the lesson asks). Each part is paid in proportion: 1 of 2 questions is half its points.
- Timeliness, item by item (a question answered, a classmate replied to): full credit by the
  due time; after it, credit falls linearly to nothing over ``late_window_hours`` (with no
  window set, late work keeps full credit and is only marked late). Each item takes its
  earliest substantive reply, and each part its best items.
- ``clumping``: when every reply of the lesson came in the last ``minutes`` before the due time,
  ``penalty`` points come off (never below 0).
- Scores are rounded to hundredths, and a course total is the sum of its lessons' rounded
  scores, so the lines always add up to the total. A lesson still open for the student (due
  later) is shown but not counted; with ``drop_lowest``, the lowest scores among the graded
  lessons are dropped (the earliest first on a tie), always keeping at least one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal, Protocol

from bot.core.config import GradingSettings

LessonState = Literal["graded", "open", "dropped"]
HUNDREDTH = Decimal("0.01")


class LessonWork(Protocol):
    """One student's replies to one posted lesson, as the grading query counts them.

    Every count is over the replies that count for grading (not deleted before the due time),
    with their words as they were at the due time.
    """

    @property
    def author_id(self) -> int: ...
    @property
    def post_id(self) -> int: ...
    @property
    def due_at(self) -> dt.datetime | None: ...
    @property
    def extended(self) -> bool: ...
    @property
    def replies(self) -> int: ...
    @property
    def substantive(self) -> int: ...
    @property
    def on_time_questions(self) -> int: ...
    @property
    def on_time_classmates(self) -> int: ...
    @property
    def late_questions(self) -> Mapping[int, dt.datetime]: ...
    @property
    def late_classmates(self) -> Mapping[int, dt.datetime]: ...
    @property
    def first_at(self) -> dt.datetime | None: ...
    @property
    def last_at(self) -> dt.datetime | None: ...
    @property
    def edited_after_due(self) -> int: ...
    @property
    def deleted_after_due(self) -> int: ...


@dataclass(frozen=True, slots=True)
class GradedLesson:
    """A posted lesson as grading sees it: how many questions it asked, when it is due."""

    post_id: int
    lesson: str
    title: str
    questions: int
    due_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class LessonScore:
    """One student's score for one lesson, with its reasons in plain words."""

    lesson: str
    title: str
    points: Decimal
    possible: Decimal
    reasons: tuple[str, ...]
    due_at: dt.datetime | None
    extended: bool = False
    state: LessonState = "graded"

    @property
    def counted(self) -> bool:
        """Whether this score is part of the course total."""
        return self.state == "graded"

    def line(self) -> str:
        """``Title: 8/10 — reason, reason`` (plain text; the state when not counted)."""
        head = f"{self.title}: {number(self.points)}/{number(self.possible)}"
        if self.state == "open":
            head += " so far (not counted until it is due)"
        elif self.state == "dropped":
            head += " (dropped: one of the lowest)"
        return f"{head} — {', '.join(self.reasons)}"


@dataclass(frozen=True, slots=True)
class CourseGrade:
    """One student's lesson scores and their total (the sum of the counted lines)."""

    user_id: int
    lessons: tuple[LessonScore, ...]

    @property
    def total(self) -> Decimal:
        """The sum of the counted lessons' scores."""
        return sum((s.points for s in self.lessons if s.counted), Decimal(0))

    @property
    def possible(self) -> Decimal:
        """What the counted lessons were worth."""
        return sum((s.possible for s in self.lessons if s.counted), Decimal(0))

    def summary(self) -> str:
        """``Total: 45/50 over 5 lessons`` with what was dropped or is still open."""
        counted = sum(1 for s in self.lessons if s.counted)
        text = (f"Total: {number(self.total)}/{number(self.possible)} over "
                f"{_plural(counted, 'graded lesson', 'graded lessons')}")
        dropped = sum(1 for s in self.lessons if s.state == "dropped")
        still_open = sum(1 for s in self.lessons if s.state == "open")
        if dropped:
            text += f", lowest {_plural(dropped, 'lesson', 'lessons')} dropped"
        if still_open:
            text += f", {still_open} still open"
        return text


def number(value: Decimal) -> str:
    """A score as people write it: 8, 7.5, 6.67 (no trailing zeros)."""
    text = f"{value.quantize(HUNDREDTH):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _cents(value: float) -> int:
    """Hundredths of a point, rounded half up (a hair of slack for binary fractions)."""
    return int(value * 100 + 0.5 + 1e-9)


def share(cents: int, credit: float, needed: int) -> int:
    """The cents a part earns for ``credit`` of ``needed`` items, rounded half up.

    Whole credits in whole numbers (storage sums simple rows with the same formula in SQL);
    a late item's fraction through :func:`_cents`.
    """
    done = min(credit, needed)
    if done == int(done):
        return (2 * cents * int(done) + needed) // (2 * needed)
    return _cents(cents * done / needed / 100)


def _decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def late_credit(at: dt.datetime, due_at: dt.datetime, window_hours: float | None) -> float:
    """The share of credit an item first done at ``at`` earns against ``due_at`` (0..1)."""
    if at <= due_at or window_hours is None:
        return 1.0
    if window_hours == 0:
        return 0.0
    late_hours = (at - due_at).total_seconds() / 3600
    return max(0.0, 1.0 - late_hours / window_hours)


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} days"


def _best(on_time: int, late: Iterable[dt.datetime], due: dt.datetime | None,
          window: float | None, needed: int) -> tuple[float, list[tuple[dt.datetime, float]]]:
    """Credit (in items) of a part: on-time items first, then the best late ones, up to
    ``needed``; and the late items used, with their credit."""
    used = min(on_time, needed)
    if due is None or used >= needed or not late:
        return float(used), []
    late_used = [(at, late_credit(at, due, window)) for at in sorted(late)[: needed - used]]
    return used + sum(share for _, share in late_used), late_used


@dataclass(frozen=True, slots=True)
class _Numbers:
    """A lesson's score in hundredths of a point, part by part (what the reasons explain)."""

    questions: int  # cents earned for answering questions
    classmates: int  # cents earned for replying to classmates
    penalty: int  # cents taken off for clumping
    q_credit: float
    c_credit: float
    needed_questions: int
    late: tuple[tuple[dt.datetime, float, str], ...]

    @property
    def total(self) -> int:
        return self.questions + self.classmates - self.penalty


def _numbers(lesson: GradedLesson, work: LessonWork, due: dt.datetime | None,
             policy: GradingSettings, *, explain: bool = True) -> _Numbers:
    """The arithmetic of one lesson's score: one place for the full and the quick path.

    Without ``explain``, the late items are not listed (a total needs only the numbers).
    """
    window = policy.late_window_hours
    needed = needed_questions(lesson, policy)
    question_cents, classmate_cents = part_cents(policy)
    q_credit, late_q = _best(work.on_time_questions, work.late_questions.values(), due,
                             window, needed)
    # Each part is rounded, and the lesson's score is their sum: the lines always add up.
    questions = share(question_cents, q_credit, needed)
    c_credit = 0.0
    late_c: list[tuple[dt.datetime, float]] = []
    classmates = 0
    if policy.classmates:
        c_credit, late_c = _best(work.on_time_classmates, work.late_classmates.values(), due,
                                 window, policy.classmates)
        classmates = share(classmate_cents, c_credit, policy.classmates)
    penalty = 0
    clumping = policy.clumping
    if (clumping is not None and due is not None and work.first_at is not None
            and work.last_at is not None and work.last_at <= due
            and work.first_at >= due - dt.timedelta(minutes=clumping.minutes)):
        penalty = min(questions + classmates, _cents(clumping.penalty))
    late = tuple([(at, part, "an answer") for at, part in sorted(late_q)]
                 + [(at, part, "a reply to a classmate") for at, part in sorted(late_c)]
                 ) if explain else ()
    return _Numbers(questions, classmates, penalty, q_credit, c_credit, needed, late)


def _state(due: dt.datetime | None, now: dt.datetime | None) -> LessonState:
    return "open" if (now is not None and due is not None and now < due) else "graded"


def score_lesson(
    lesson: GradedLesson,
    work: LessonWork | None,
    policy: GradingSettings,
    *,
    now: dt.datetime | None = None,
    due_at: dt.datetime | None = None,
    extended: bool = False,
) -> LessonScore:
    """One student's score for one lesson under ``policy``, with its reasons.

    ``work`` is the student's row (None: no reply that counts). ``due_at``/``extended`` give
    the student's own due time when they have no row (an extension without a reply); a row
    brings its own. With ``now``, a lesson due later is ``open``.
    """
    due = work.due_at if work is not None else (due_at or lesson.due_at)
    extended = work.extended if work is not None else extended
    lesson_cents = _cents(policy.points_per_lesson)
    base = dict(lesson=lesson.lesson, title=lesson.title, possible=_decimal(lesson_cents),
                due_at=due, extended=extended, state=_state(due, now))
    if work is None or work.replies == 0:
        return LessonScore(points=Decimal(0), reasons=("no reply",), **base)  # type: ignore[arg-type]
    n = _numbers(lesson, work, due, policy)
    reasons: list[str] = []
    substantive = f" ({policy.min_words} words or more)" if policy.min_words else ""
    question_cents = lesson_cents - _cents(policy.classmate_points)
    if question_cents:
        needed = n.needed_questions
        answered = work.on_time_questions + len(work.late_questions)
        mark = " ✔" if n.q_credit >= needed else ""
        what = (f"answered {answered} of {needed} "
                f"{'question' if needed == 1 else 'questions'} required{substantive}")
        if answered > needed:
            words = f"{policy.min_words} words or more; " if policy.min_words else ""
            what = f"answered {answered} questions ({words}{needed} required)"
        reasons.append(f"{what}{mark} {number(_decimal(n.questions))}/"
                       f"{number(_decimal(question_cents))}")
    if policy.classmates:
        classmates = work.on_time_classmates + len(work.late_classmates)
        mark = " ✔" if n.c_credit >= policy.classmates else ""
        required = _plural(policy.classmates, "classmate", "classmates")
        reasons.append(f"replied to {classmates} of {required} required{mark} "
                       f"{number(_decimal(n.classmates))}/"
                       f"{number(_decimal(_cents(policy.classmate_points)))}")
    if due is not None and not n.late:
        reasons.append("on time")
    if due is not None:
        for at, share, what in n.late:  # answers first, then classmates, by time
            credit = ("no credit (after the late window)" if share == 0 else
                      "full credit" if share == 1 else f"{share:.0%} credit")
            reasons.append(f"{what} {_hours(at - due)} late: {credit}")
    if policy.clumping is not None and (n.penalty or (
            work.last_at is not None and due is not None and work.last_at <= due
            and work.first_at is not None
            and work.first_at >= due - dt.timedelta(minutes=policy.clumping.minutes))):
        reasons.append(f"−{number(_decimal(n.penalty))}: every reply came in the last "
                       f"{policy.clumping.minutes} minutes before the due time")
    short = work.replies - work.substantive
    if short and policy.min_words:
        reasons.append(f"{_plural(short, 'short reply', 'short replies')} "
                       f"(under {policy.min_words} words) not counted")
    if work.edited_after_due:
        reasons.append(f"{_plural(work.edited_after_due, 'reply', 'replies')} edited after the "
                       "due time, graded as at the due time")
    if work.deleted_after_due:
        reasons.append(f"{_plural(work.deleted_after_due, 'reply', 'replies')} deleted after "
                       "the due time, still counted")
    return LessonScore(points=_decimal(n.total), reasons=tuple(reasons), **base)  # type: ignore[arg-type]


def _dropped(states: list[LessonState], cents: Sequence[int], drop_lowest: int) -> list[int]:
    """Which lessons the policy drops: the lowest graded ones, the earliest first on a tie,
    always keeping one."""
    graded = [i for i, state in enumerate(states) if state == "graded"]
    drop = min(drop_lowest, max(0, len(graded) - 1))
    return sorted(graded, key=lambda i: (cents[i], i))[:drop] if drop else []


def grade_student(
    user_id: int,
    lessons: Sequence[GradedLesson],
    work: Mapping[int, LessonWork],
    policy: GradingSettings,
    *,
    now: dt.datetime | None = None,
    dues: Mapping[str, dt.datetime] | None = None,
) -> CourseGrade:
    """A student's scores for every posted lesson, lowest ones dropped per the policy.

    ``work`` maps a post id to the student's row for it; ``dues`` maps a lesson to the
    student's extended due time (for lessons they have no row for yet).
    """
    extended_to = dues or {}
    scores = [
        score_lesson(lesson, work.get(lesson.post_id), policy, now=now,
                     due_at=extended_to.get(lesson.lesson, lesson.due_at),
                     extended=lesson.lesson in extended_to)
        for lesson in lessons
    ]
    for i in _dropped([s.state for s in scores], [int(s.points * 100) for s in scores],
                      policy.drop_lowest):
        scores[i] = replace(scores[i], state="dropped")
    return CourseGrade(user_id, tuple(scores))


def class_totals(
    students: Iterable[int],
    lessons: Sequence[GradedLesson],
    work: Iterable[LessonWork],
    policy: GradingSettings,
    *,
    now: dt.datetime | None = None,
    dues: Mapping[int, Mapping[str, dt.datetime]] | None = None,
    summed: Mapping[int, tuple[int, int]] | None = None,
    scored: Mapping[int, Mapping[int, int]] | None = None,
) -> dict[int, tuple[Decimal, Decimal]]:
    """Each student's (total, possible) as :func:`grade_class` gives them, without reasons.

    The quick path for a whole class's report: the same arithmetic (:func:`_numbers`), the
    same drops, none of the sentences. ``summed`` (with no lesson dropped) gives, per student,
    the cents of graded lessons already scored in SQL (:func:`quick_scores`' rows) and how
    many: ``work`` then holds only the other rows. ``scored`` gives such cents lesson by
    lesson instead (student -> post id -> cents), for a policy that drops lessons.
    """
    if summed is not None:
        return _summed_totals(students, lessons, work, policy, now, dues or {}, summed)
    extended = dues or {}
    by_student: dict[int, dict[int, LessonWork]] = {}
    for row in work:
        by_student.setdefault(row.author_id, {})[row.post_id] = row
    lesson_cents = _cents(policy.points_per_lesson)
    simple = _simple_scores(lessons, policy)
    totals = {}
    scored_in_sql = scored or {}
    # Most lessons of most students: the post's own state, and cents from SQL or nothing.
    default_states = [_state(lesson.due_at, now) for lesson in lessons]
    post_ids = [lesson.post_id for lesson in lessons]
    for user in sorted(set(students) | set(by_student) | set(scored_in_sql)):
        own = extended.get(user, {})
        rows = by_student.get(user, {})
        in_sql = scored_in_sql.get(user, {})
        states: list[LessonState] = list(default_states)
        cents: list[int] = [in_sql.get(post_id, 0) for post_id in post_ids]
        if rows or own:
            for i, lesson in enumerate(lessons):
                found = rows.get(lesson.post_id)
                if found is None and lesson.lesson not in own:
                    continue
                due = (found.due_at if found is not None
                       else own.get(lesson.lesson, lesson.due_at))
                states[i] = _state(due, now)
                if found is None or not found.replies:
                    continue
                if (found.late_questions or found.late_classmates
                        or policy.clumping is not None):
                    cents[i] = _numbers(lesson, found, due, policy, explain=False).total
                else:  # nothing late, no clumping: two look-ups (what _numbers works out)
                    question_cents, classmate_cents = simple[i]
                    cents[i] = (question_cents[min(found.on_time_questions,
                                                   len(question_cents) - 1)]
                                + classmate_cents[min(found.on_time_classmates,
                                                      len(classmate_cents) - 1)])
        for i in _dropped(states, cents, policy.drop_lowest):
            states[i] = "dropped"
        counted = [c for c, state in zip(cents, states, strict=True) if state == "graded"]
        totals[user] = (_decimal(sum(counted)), _decimal(lesson_cents * len(counted)))
    return totals


def _summed_totals(
    students: Iterable[int], lessons: Sequence[GradedLesson], work: Iterable[LessonWork],
    policy: GradingSettings, now: dt.datetime | None,
    dues: Mapping[int, Mapping[str, dt.datetime]], summed: Mapping[int, tuple[int, int]],
) -> dict[int, tuple[Decimal, Decimal]]:
    """:func:`class_totals` when the on-time lessons were summed in SQL and none is dropped:
    the work left, the extensions and the sums, without a pass over every lesson of every
    student."""
    if policy.drop_lowest or policy.clumping is not None:
        raise ValueError("lessons scored in sums cannot be dropped or penalised one by one")
    lesson_cents = _cents(policy.points_per_lesson)
    by_post = {lesson.post_id: lesson for lesson in lessons}
    by_name: dict[str, list[GradedLesson]] = {}
    for lesson in lessons:
        by_name.setdefault(lesson.lesson, []).append(lesson)
    graded_by_default = sum(1 for lesson in lessons if _state(lesson.due_at, now) == "graded")
    cents: dict[int, int] = {user: total for user, (total, _) in summed.items()}
    for row in work:
        posted = by_post.get(row.post_id)
        if posted is not None and row.replies and _state(row.due_at, now) == "graded":
            cents[row.author_id] = cents.get(row.author_id, 0) + _numbers(
                posted, row, row.due_at, policy, explain=False).total
    totals = {}
    for user in sorted(set(students) | set(cents)):
        graded = graded_by_default
        for name, due in dues.get(user, {}).items():
            for lesson in by_name.get(name, ()):  # their own due time decides, not the post's
                graded += ((_state(due, now) == "graded")
                           - (_state(lesson.due_at, now) == "graded"))
        totals[user] = (_decimal(cents.get(user, 0)), _decimal(lesson_cents * graded))
    return totals


def quick_scores(policy: GradingSettings) -> bool:
    """Whether lessons can be scored in sums (no clumping, nothing dropped one by one)."""
    return policy.clumping is None and not policy.drop_lowest


def needed_questions(lesson: GradedLesson, policy: GradingSettings) -> int:
    """How many questions of a lesson the policy asks to answer."""
    return max(1, min(policy.questions, lesson.questions or policy.questions))


def part_cents(policy: GradingSettings) -> tuple[int, int]:
    """The cents for answering questions and for replying to classmates, of one lesson."""
    lesson_cents = _cents(policy.points_per_lesson)
    classmate_cents = _cents(policy.classmate_points)
    return lesson_cents - classmate_cents, classmate_cents


def _simple_scores(lessons: Sequence[GradedLesson],
                   policy: GradingSettings) -> list[tuple[list[int], list[int]]]:
    """Per lesson, the cents for 0..needed questions and 0..needed classmates done on time."""
    lesson_cents = _cents(policy.points_per_lesson)
    classmate_cents = _cents(policy.classmate_points)
    classmates = [share(classmate_cents, c, policy.classmates) if policy.classmates else 0
                  for c in range(policy.classmates + 1)]
    tables = []
    for lesson in lessons:
        needed = max(1, min(policy.questions, lesson.questions or policy.questions))
        questions = [share(lesson_cents - classmate_cents, q, needed) for q in range(needed + 1)]
        tables.append((questions, classmates))
    return tables


def grade_class(
    students: Iterable[int],
    lessons: Sequence[GradedLesson],
    work: Iterable[LessonWork],
    policy: GradingSettings,
    *,
    now: dt.datetime | None = None,
    dues: Mapping[int, Mapping[str, dt.datetime]] | None = None,
) -> dict[int, CourseGrade]:
    """Every student's grade (students listed, and anyone with work), by user id."""
    by_student: dict[int, dict[int, LessonWork]] = {}
    for row in work:
        by_student.setdefault(row.author_id, {})[row.post_id] = row
    everyone = set(students) | set(by_student)
    extended = dues or {}
    return {user: grade_student(user, lessons, by_student.get(user, {}), policy, now=now,
                                dues=extended.get(user))
            for user in sorted(everyone)}


def changed_grades(
    before: Mapping[int, CourseGrade], after: Mapping[int, CourseGrade]
) -> list[tuple[int, CourseGrade, CourseGrade]]:
    """The students whose total (or what it is out of) differs between two policies."""
    return [(user, before[user], after[user]) for user in sorted(before.keys() & after.keys())
            if (before[user].total, before[user].possible)
            != (after[user].total, after[user].possible)]
