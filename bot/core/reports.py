"""Per-student participation numbers -> graded summaries, a gradebook CSV, a chart and text.

Pure: no discord.py, no SQLAlchemy. The counting itself happens once, in SQL
(``storage.reports.ReportStore.summary``: one row of totals per student who replied, with
each checkpoint's counts from the same pass, see :class:`AuthorTotals`). This module combines
those rows with the roster (who has not replied), grades them
(:class:`~bot.core.config.GradingSettings`), and formats them: :func:`table_pages`,
:func:`to_csv`, :func:`stats_text` (``/mystats``) and :func:`reminder_texts`.
:mod:`bot.gradebook` runs the queries and calls these.

What counts (set per course in :class:`~bot.core.config.GradingSettings`):

- A deleted reply counts for nothing anywhere (the SQL leaves it out).
- A reply is *substantive* when it has at least ``min_words`` words (every reply, if 0).
- Checkpoints and the required number of peer replies count substantive replies only: that is
  what ``min_words`` is for. The ``replies`` and ``peer_replies`` numbers count every reply.
- A checkpoint's ``by`` is a local time in the course zone, and the whole minute counts: for
  "by 23:59", a reply at 23:59:59 is on time (replies before :attr:`CheckpointDeadline.cutoff`).
  It is converted to UTC in one place, :func:`checkpoint_deadlines`.
- Everything is computed over the replies in scope: for one lesson, over that lesson.

Order of students everywhere: students who replied first, then roster students with no reply
yet; within each group by display name, case- and accent-insensitive, then by user id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from bot.core.calendar import to_utc
from bot.core.config import Checkpoint, CourseSettings, GradingSettings
from bot.core.grading import CourseGrade, LessonScore, number
from bot.core.render import MESSAGE_CONTENT_LIMIT, discord_timestamp, escape_for_discord, one_line

Status = Literal["replied", "missing", "off-roster"]
CheckpointState = Literal["met", "not met", "open"]

#: The gradebook columns, in order; one ``checkpoint: NAME`` column per checkpoint follows.
CSV_COLUMNS: tuple[str, ...] = (
    "user_id",
    "display_name",
    "replies",
    "substantive_replies",
    "words",
    "questions_answered",
    "peer_replies",
    "late_replies",
    "on_time_replies",
    "first_reply_utc",
    "status",
    "required_peer_replies_met",
)
CHECKPOINT_COLUMN_PREFIX = "checkpoint: "
#: The score columns, after the checkpoints: the total, what it is out of, and why (one line
#: per lesson, as ``/mystats`` shows them).
GRADE_COLUMNS: tuple[str, ...] = ("grade", "points_possible", "grade_explained")
#: Last, who the account is: the Discord username (unlike the nickname, it identifies the
#: account) and the key of the roster student linked to it (e.g. ``sis:12345``).
IDENTITY_COLUMNS: tuple[str, ...] = ("username", "roster_id")

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Past this many students left alone, the line under a report says how many.
LEFT_ALONE_NAMED = 5
MIN_PAGE_CHARS = 200


class CutoffTotals(Protocol):
    """A student's substantive replies and substantive peer replies made before ``cutoff``."""

    @property
    def cutoff(self) -> dt.datetime: ...
    @property
    def substantive_replies(self) -> int: ...
    @property
    def substantive_peer_replies(self) -> int: ...


class AuthorTotals(Protocol):
    """One student's totals over the replies in scope, as the SQL summary returns them.

    ``before`` has the counts before each checkpoint's cutoff, in the checkpoints' order.
    """

    @property
    def author_id(self) -> int: ...
    @property
    def author_name(self) -> str: ...
    @property
    def replies(self) -> int: ...
    @property
    def substantive_replies(self) -> int: ...
    @property
    def words(self) -> int: ...
    @property
    def questions_answered(self) -> int: ...
    @property
    def peer_replies(self) -> int: ...
    @property
    def substantive_peer_replies(self) -> int: ...
    @property
    def late_replies(self) -> int: ...
    @property
    def first_reply_at(self) -> dt.datetime: ...
    @property
    def before(self) -> Sequence[CutoffTotals]: ...


class LessonCount(Protocol):
    """Replies (and their words) to one lesson, as the SQL lesson totals return them."""

    @property
    def lesson(self) -> str: ...
    @property
    def replies(self) -> int: ...
    @property
    def words(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CheckpointDeadline:
    """A checkpoint with its deadline in UTC: replies before ``cutoff`` count for it."""

    checkpoint: Checkpoint
    due_at: dt.datetime

    @property
    def cutoff(self) -> dt.datetime:
        """The end of the deadline's minute: "by 23:59" takes a reply at 23:59:59."""
        return self.due_at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """Whether one student met one checkpoint."""

    name: str
    due_at: dt.datetime
    met: bool
    open: bool = False

    @property
    def state(self) -> CheckpointState:
        """``met``, ``not met``, or ``open`` (not met yet, but the deadline is still ahead)."""
        if self.met:
            return "met"
        return "open" if self.open else "not met"


@dataclass(frozen=True, slots=True)
class StudentSummary:
    """One student's graded participation over the replies in scope."""

    user_id: int
    display_name: str
    status: Status
    replies: int = 0
    substantive_replies: int = 0
    words: int = 0
    questions_answered: int = 0
    peer_replies: int = 0
    substantive_peer_replies: int = 0
    late_replies: int = 0
    first_reply_at: dt.datetime | None = None
    required_peer_replies: int = 0
    checkpoints: tuple[CheckpointResult, ...] = ()
    grade: CourseGrade | None = None
    #: (total, possible) when only the totals were worked out (a whole class's report).
    grade_total: tuple[Decimal, Decimal] | None = None
    #: The Discord username (unlike the display name, it identifies the account); known
    #: when the export is made from Discord.
    username: str = ""
    #: The key of the course roster's student linked to this member ("" when not linked).
    roster_key: str = ""

    @property
    def on_time_replies(self) -> int:
        """Replies not flagged late."""
        return self.replies - self.late_replies

    @property
    def required_peer_replies_met(self) -> bool:
        """Whether enough substantive peer replies were made (always true if none required)."""
        return self.substantive_peer_replies >= self.required_peer_replies

    @property
    def missing(self) -> bool:
        """A roster student with no reply at all."""
        return self.status == "missing"


@dataclass(frozen=True, slots=True)
class LessonLine:
    """One lesson in ``/mystats``: its name and the student's replies and words there."""

    lesson: str
    replies: int
    words: int


@dataclass(frozen=True, slots=True)
class StudentStats:
    """What ``/mystats`` shows: one student's summary and their replies per lesson."""

    summary: StudentSummary
    lessons: tuple[LessonLine, ...] = ()


def checkpoint_deadlines(grading: GradingSettings, zone: ZoneInfo) -> list[CheckpointDeadline]:
    """Each checkpoint of ``grading`` with the UTC instant of its local ``by`` time.

    Same rule as posts and due times (:func:`bot.core.calendar.to_utc`): a local time that
    happens twice means the first occurrence; one skipped by DST falls after the gap; a
    time written with an offset means that instant.
    """
    return [CheckpointDeadline(c, to_utc(c.by, zone)) for c in grading.checkpoints]


def checkpoint_met(checkpoint: Checkpoint, before: CutoffTotals | None) -> bool:
    """Whether a student's counts before a checkpoint's cutoff meet it (substantive only)."""
    replies = before.substantive_replies if before is not None else 0
    peers = before.substantive_peer_replies if before is not None else 0
    return replies >= checkpoint.replies and peers >= checkpoint.peer_replies


def _counts_before(
    totals: AuthorTotals | None, deadlines: Sequence[CheckpointDeadline]
) -> Sequence[CutoffTotals | None]:
    """A student's counts before each deadline's cutoff (None each: no reply at all).

    The counts must be those of these deadlines, in order: a row counted for other cut-offs
    would grade the wrong replies, so it is refused rather than graded.
    """
    if totals is None:
        return [None] * len(deadlines)
    cutoffs = [counts.cutoff for counts in totals.before]
    if cutoffs != [deadline.cutoff for deadline in deadlines]:
        raise ValueError(f"totals of {totals.author_id} were counted before {cutoffs}, not "
                         f"before the cutoffs of the {len(deadlines)} checkpoint(s) graded")
    return totals.before


def _name_key(name: str) -> str:
    """Sort key that ignores case and accents, so 'élodie' sits with 'Elodie'."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _sort_key(summary: StudentSummary) -> tuple[bool, str, str, int]:
    return (summary.missing, _name_key(summary.display_name), summary.display_name,
            summary.user_id)


def _grade(
    user_id: int,
    name: str,
    status: Status,
    totals: AuthorTotals | None,
    grading: GradingSettings,
    deadlines: Sequence[CheckpointDeadline],
    now: dt.datetime | None,
) -> StudentSummary:
    """One student's summary from their totals (None: no reply), checkpoints included."""
    results = tuple(
        CheckpointResult(
            name=deadline.checkpoint.name,
            due_at=deadline.due_at,
            met=checkpoint_met(deadline.checkpoint, before),
            open=now is not None and now < deadline.cutoff,
        )
        for deadline, before in zip(deadlines, _counts_before(totals, deadlines), strict=True)
    )
    if totals is None:
        return StudentSummary(user_id, name, status,
                              required_peer_replies=grading.required_peer_replies,
                              checkpoints=results)
    return StudentSummary(
        user_id=user_id,
        display_name=name,
        status=status,
        replies=totals.replies,
        substantive_replies=totals.substantive_replies,
        words=totals.words,
        questions_answered=totals.questions_answered,
        peer_replies=totals.peer_replies,
        substantive_peer_replies=totals.substantive_peer_replies,
        late_replies=totals.late_replies,
        first_reply_at=totals.first_reply_at.astimezone(dt.UTC),
        required_peer_replies=grading.required_peer_replies,
        checkpoints=results,
    )


def _by_author(totals: Iterable[AuthorTotals]) -> dict[int, AuthorTotals]:
    return {t.author_id: t for t in totals if t.replies > 0}


def summarise(
    totals: Iterable[AuthorTotals],
    roster: Mapping[int, str] | None,
    grading: GradingSettings,
    deadlines: Sequence[CheckpointDeadline] = (),
    *,
    now: dt.datetime | None = None,
    grades: Mapping[int, CourseGrade] | None = None,
    grade_totals: Mapping[int, tuple[Decimal, Decimal]] | None = None,
) -> list[StudentSummary]:
    """Graded summaries: everyone on the roster plus anyone else who replied, sorted.

    ``totals`` are the SQL summary rows for the scope (a course, a lesson, a student).
    ``roster`` maps each student's user id to their current display name (members with the
    course's student role); with ``None``, nobody is reported missing. Authors not on a
    given roster (a student who left, a teacher who joined in) are listed as ``off-roster``
    so the teacher can decide. ``deadlines`` are the checkpoints graded: each row's
    ``before`` holds its counts before their cutoffs, in their order. ``now`` (UTC) marks
    checkpoints whose deadline is still ahead as ``open``; without it every deadline is judged
    as passed.
    """
    replied = _by_author(totals)
    people = set(roster or {}) | set(replied)
    summaries = []
    for user_id in people:
        found = replied.get(user_id)
        name = (roster or {}).get(user_id) or (found.author_name if found else "")
        status: Status
        if found is None:
            status = "missing"
        elif roster is not None and user_id not in roster:
            status = "off-roster"
        else:
            status = "replied"
        summary = _grade(user_id, name or str(user_id), status, found, grading, deadlines, now)
        if grades is not None:
            summary = replace(summary, grade=grades.get(user_id))
        if grade_totals is not None:
            summary = replace(summary, grade_total=grade_totals.get(user_id))
        summaries.append(summary)
    summaries.sort(key=_sort_key)
    return summaries


def with_roster(summaries: Iterable[StudentSummary], linked: Mapping[int, tuple[str, str]],
                usernames: Mapping[int, str] | None = None) -> list[StudentSummary]:
    """Each linked student under their roster name, with its key; roster students first.

    ``linked`` maps a member's id to (roster key, roster name); ``usernames`` adds Discord
    usernames. Without a roster the order is unchanged.
    """
    names = usernames or {}
    out = []
    for s in summaries:
        key, name = linked.get(s.user_id, (s.roster_key, s.display_name))
        out.append(replace(s, display_name=name or s.display_name, roster_key=key,
                           username=names.get(s.user_id, s.username)))
    if linked:
        out.sort(key=lambda s: (s.roster_key == "", *_sort_key(s)))
    return out


def student_stats(
    user_id: int,
    display_name: str,
    totals: AuthorTotals | None,
    grading: GradingSettings,
    deadlines: Sequence[CheckpointDeadline] = (),
    lessons: Iterable[LessonCount] = (),
    *,
    now: dt.datetime | None = None,
    grade: CourseGrade | None = None,
) -> StudentStats:
    """One student's own numbers for ``/mystats``: nobody else's totals are ever passed in.

    ``totals`` is the student's SQL summary row (None: no reply yet), with their counts
    before each of ``deadlines``' cutoffs; ``lessons`` are the course's posted lessons with
    the student's replies to each (zero where they did not reply).
    """
    if totals is not None and totals.author_id != user_id:
        raise ValueError(f"totals of {totals.author_id} given for student {user_id}")
    has_replied = totals is not None and totals.replies > 0
    summary = _grade(user_id, display_name, "replied" if has_replied else "missing",
                     totals if has_replied else None, grading, deadlines, now)
    if grade is not None:
        if grade.user_id != user_id:
            raise ValueError(f"grade of {grade.user_id} given for student {user_id}")
        summary = replace(summary, grade=grade)
    lines = tuple(LessonLine(c.lesson, c.replies, c.words) for c in lessons)
    return StudentStats(summary, lines)


def students_to_remind(
    roster: Iterable[int], replied: Iterable[int], opted_out: Iterable[int]
) -> list[int]:
    """Roster students with no reply who did not turn reminders off, by user id."""
    return sorted(set(roster) - set(replied) - set(opted_out))


# --- CSV -------------------------------------------------------------------------------------


def csv_safe(text: str) -> str:
    """Neutralise CSV injection: a cell a spreadsheet would run as a formula gets a ``'``."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _utc_iso(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def csv_columns(grading: GradingSettings) -> list[str]:
    """The CSV header: :data:`CSV_COLUMNS`, then ``checkpoint: NAME`` per checkpoint."""
    columns = list(CSV_COLUMNS)
    for checkpoint in grading.checkpoints:
        header = csv_safe(CHECKPOINT_COLUMN_PREFIX + checkpoint.name)
        unique, n = header, 2
        while unique in columns:  # two checkpoints with one name must stay two columns
            unique, n = f"{header} ({n})", n + 1
        columns.append(unique)
    return columns + list(GRADE_COLUMNS) + list(IDENTITY_COLUMNS)


def _csv_number(value: Decimal) -> int | float:
    """A score as a number cell (unquoted): 8 or 7.5."""
    return int(value) if value == value.to_integral_value() else float(value)


def to_csv(summaries: Sequence[StudentSummary], grading: GradingSettings) -> bytes:
    """A gradebook CSV: UTF-8 with a byte-order mark, one row per student, stable columns.

    ``user_id`` is written quoted, as text; ``first_reply_utc`` is ISO 8601 ending in ``Z``;
    ``status`` is replied / missing / off-roster; ``required_peer_replies_met`` is yes / no;
    each checkpoint column is met / not met / open; ``grade`` and ``points_possible`` are the
    course policy's total and what it is out of, ``grade_explained`` one line per lesson.
    Text cells that a spreadsheet would run as a formula (starting with = + - @ or a tab) get
    a leading ``'``.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(csv_columns(grading))
    for s in summaries:
        row: list[str | int | float] = [
            str(s.user_id),
            csv_safe(s.display_name),
            s.replies,
            s.substantive_replies,
            s.words,
            s.questions_answered,
            s.peer_replies,
            s.late_replies,
            s.on_time_replies,
            _utc_iso(s.first_reply_at),
            s.status,
            "yes" if s.required_peer_replies_met else "no",
        ]
        states = [r.state for r in s.checkpoints]
        # A summary made with other settings still fills exactly the header's columns.
        states += ["not met"] * (len(grading.checkpoints) - len(states))
        row.extend(states[: len(grading.checkpoints)])
        grade = s.grade
        if grade is None:
            row.extend(["", "", ""])
        else:
            lines = [csv_safe(score.line()) for score in grade.lessons]
            row.extend([_csv_number(grade.total), _csv_number(grade.possible),
                        "\n".join([*lines, grade.summary()])])
        row.extend([csv_safe(s.username), s.roster_key])
        writer.writerow(row)
    return out.getvalue().encode("utf-8-sig")


# --- spreadsheet -----------------------------------------------------------------------------

#: Excel's limit on a sheet's name, and the characters it refuses in one.
SHEET_NAME_LIMIT = 31
_SHEET_NAME_REFUSED = re.compile(r"[\[\]:*?/\\]")
XLSX_TOTAL_COLUMNS: tuple[str, ...] = (
    "user_id", "display_name", "grade", "points_possible", "status", *CSV_COLUMNS[2:10],
    *IDENTITY_COLUMNS)
#: The sheet of members who are not linked to a student of the roster (when there is one).
OFF_ROSTER_SHEET = "Not on roster"


def _sheet_name(title: str, taken: set[str]) -> str:
    r"""A sheet name Excel takes: at most 31 characters, none of []:*?/\, unique."""
    base = " ".join(_SHEET_NAME_REFUSED.sub(" ", one_line(title)).split()).strip("'")
    base = base or "Lesson"
    name, n = base[:SHEET_NAME_LIMIT], 2
    while name.casefold() in taken:
        suffix = f" ({n})"
        name, n = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, n + 1
    taken.add(name.casefold())
    return name


def to_xlsx(summaries: Sequence[StudentSummary], *, roster: bool = False) -> bytes:
    """The gradebook as an Excel workbook: a sheet of totals, then one per lesson.

    With a ``roster``, the totals sheet lists the roster's students and a sheet "Not on
    roster" the other members (nobody is left out). Ids are text (a spreadsheet shows all
    18-19 digits, never ``1.23E+17``); a name that starts with ``=`` stays a name, never a
    formula. Each lesson sheet has every student's
    score, what it is out of, whether it counts, and its reasons.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    totals = book.active
    assert totals is not None
    totals.title = "Totals"
    taken = {"totals"}

    def put(sheet: Any, row: Sequence[object]) -> None:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text as written: "=1+1" is not run
                cell.number_format = "@"

    put(totals, XLSX_TOTAL_COLUMNS)
    others = None
    if roster and any(not s.roster_key for s in summaries):
        others = book.create_sheet(OFF_ROSTER_SHEET)
        taken.add(OFF_ROSTER_SHEET.casefold())
        put(others, XLSX_TOTAL_COLUMNS)
    lessons: dict[str, Any] = {}
    for s in summaries:
        grade = s.grade
        sheet_of_totals = others if others is not None and not s.roster_key else totals
        put(sheet_of_totals, [
            str(s.user_id), s.display_name, _csv_number(grade.total) if grade else None,
            _csv_number(grade.possible) if grade else None, s.status, s.replies,
            s.substantive_replies, s.words, s.questions_answered, s.peer_replies,
            s.late_replies, s.on_time_replies, _utc_iso(s.first_reply_at) or None,
            s.username or None, s.roster_key or None])
        for score in grade.lessons if grade else ():
            sheet = lessons.get(score.lesson)
            if sheet is None:
                sheet = lessons[score.lesson] = book.create_sheet(
                    _sheet_name(score.title, taken))
                put(sheet, ["user_id", "display_name", "score", "points_possible", "counts",
                            "explanation"])
            put(sheet, [str(s.user_id), s.display_name, _csv_number(score.points),
                        _csv_number(score.possible),
                        {"graded": "yes", "open": "not yet due", "dropped": "dropped"}[
                            score.state], ", ".join(score.reasons)])
    for sheet in book.worksheets:
        sheet.freeze_panes = "A2"
        for index, width in enumerate((20, 28, 10, 14, 14, 80), 1):
            sheet.column_dimensions[get_column_letter(index)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- text pages ------------------------------------------------------------------------------


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


_MARKS: dict[CheckpointState, str] = {"met": "✅", "not met": "❌", "open": "⏳"}


def _number_parts(summary: StudentSummary) -> list[str]:
    """A summary's numbers as short phrases: replies, words, ..., met or not per rule."""
    replies = _plural(summary.replies, "reply", "replies")
    if summary.substantive_replies != summary.replies:
        replies += f" ({summary.substantive_replies} substantive)"
    parts = [
        replies,
        _plural(summary.words, "word", "words"),
        _plural(summary.questions_answered, "question", "questions"),
        f"{summary.peer_replies} peer",
        f"{summary.late_replies} late" if summary.late_replies else "all on time",
    ]
    if summary.first_reply_at is not None:
        parts.append(f"first {discord_timestamp(summary.first_reply_at, 'f')}")
    return parts + _rule_parts(summary)


def _rule_parts(summary: StudentSummary) -> list[str]:
    """Met (✅), not met (❌) or still open (⏳) for the peer-reply rule and each checkpoint."""
    parts = []
    if summary.required_peer_replies:
        mark = "✅" if summary.required_peer_replies_met else "❌"
        parts.append(f"{mark} peer replies {summary.substantive_peer_replies}"
                     f"/{summary.required_peer_replies}")
    parts += [f"{_MARKS[r.state]} {escape_for_discord(r.name, max_length=40)}"
              for r in summary.checkpoints]
    return parts


def summary_line(summary: StudentSummary) -> str:
    """One student's numbers as a Discord markdown line (names escaped)."""
    name = f"**{escape_for_discord(summary.display_name)}**"
    grade = _grade_part(summary)
    graded = f" · grade {grade}" if grade else ""
    if summary.missing:
        return f"{name} — no reply yet{graded}"
    line = f"{name} — " + " · ".join(_number_parts(summary)) + graded
    if summary.status == "off-roster":
        line += " · (not in the student role)"
    return line


def _grade_part(summary: StudentSummary) -> str | None:
    """A report's score: ``**8/10**``, or ``**8/10** so far`` for one lesson not yet due."""
    if summary.grade_total is not None:
        total, possible = summary.grade_total
        return f"**{number(total)}/{number(possible)}**"
    grade = summary.grade
    if grade is None or not grade.lessons:
        return None
    if len(grade.lessons) == 1:
        only = grade.lessons[0]
        so_far = " so far" if only.state == "open" else ""
        return f"**{number(only.points)}/{number(only.possible)}**{so_far}"
    return f"**{number(grade.total)}/{number(grade.possible)}**"


def score_line(score: LessonScore, titles: Mapping[str, str] | None = None) -> str:
    """One lesson's score with its reasons, as a Discord line (the due time as a timestamp)."""
    title = escape_for_discord((titles or {}).get(score.lesson, score.title), max_length=60)
    line = escape_for_discord(score.line().removeprefix(score.title), max_length=None)
    due = ""
    if score.due_at is not None and (score.extended or score.state == "open"):
        due = f" · due {discord_timestamp(score.due_at, 'f')}"
        if score.extended:
            due += " (extended)"
    return f"• **{title}**{line}{due}"


def table_pages(
    summaries: Sequence[StudentSummary], *, title: str = "", max_chars: int = MESSAGE_CONTENT_LIMIT,
    footer: str | None = None,
) -> list[str]:
    """Text pages of :func:`summary_line` lines, each page at most ``max_chars`` characters.

    Every student appears exactly once, in the given order, then ``footer`` if given. Each
    page starts with ``title`` (followed by ``(page i/n)`` when there are several). The
    default limit is render.py's message limit.
    """
    if max_chars < MIN_PAGE_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_PAGE_CHARS}, not {max_chars}")
    heading = _truncate(one_line(title), max_chars // 2)
    suffix_room = len(" (page 9999/9999)")
    budget = max_chars - len(heading) - suffix_room - 1
    lines = [_truncate(summary_line(s), budget) for s in summaries]
    if not lines:
        lines = ["No students and no replies yet."]
    if footer:
        lines.append(_truncate(one_line(footer), budget))
    pages: list[list[str]] = [[]]
    used = 0
    for line in lines:
        extra = len(line) + (1 if pages[-1] else 0)
        if pages[-1] and used + extra > budget:
            pages.append([])
            used, extra = 0, len(line)
        pages[-1].append(line)
        used += extra
    result = []
    for page_number, page in enumerate(pages, 1):
        head = heading
        if len(pages) > 1:
            head = f"{heading} (page {page_number}/{len(pages)})".strip()
        body = "\n".join(page)
        result.append(f"{head}\n{body}" if head else body)
    return result


def stats_text(
    stats: StudentStats,
    course_name: str,
    titles: Mapping[str, str] | None = None,
    *,
    for_teacher: bool = False,
    max_chars: int = MESSAGE_CONTENT_LIMIT,
) -> str:
    """``/mystats`` as one message: the student's numbers, rules met, then each lesson.

    A student with no reply gets one friendly sentence instead of a table of zeros.
    ``titles`` maps lesson names to titles; lines past ``max_chars`` are summed up at the end.
    ``for_teacher`` names the student instead of saying "you" (a teacher's one-student report).
    """
    course = escape_for_discord(course_name, max_length=100)
    summary = stats.summary
    who = f"**{escape_for_discord(summary.display_name)}**"
    graded = summary.grade is not None and bool(summary.grade.lessons)
    if summary.missing:
        if for_teacher:
            first = f"{who} has not replied in any {course} discussion yet."
        else:
            first = (f"You have not replied in any {course} discussion yet. Open a question "
                     "thread under the latest lesson and add your thoughts: every reply counts "
                     "here.")
        if not graded:
            return first
        lines = [first]
    else:
        heading = f"**Participation of** {who} **in {course}**" if for_teacher else (
            f"**Your participation in {course}**")
        lines = [heading, " · ".join(_number_parts(summary))]
    names = titles or {}
    lesson_lines = []
    if summary.grade is not None and graded:
        lines.append(f"**{summary.grade.summary()}**")
        lesson_lines = [score_line(score, names) for score in summary.grade.lessons]
    for line in stats.lessons if not lesson_lines else ():
        title = escape_for_discord(names.get(line.lesson, line.lesson), max_length=60)
        if line.replies:
            numbers = (f"{_plural(line.replies, 'reply', 'replies')}, "
                       f"{_plural(line.words, 'word', 'words')}")
        else:
            numbers = "no reply yet"
        lesson_lines.append(f"• {title} — {numbers}")
    if lesson_lines:
        lines.append("**Per lesson**")
    text = "\n".join(lines)
    if summary.grade is not None and graded:
        return _latest_that_fit(text, lesson_lines, max_chars)
    for index, entry in enumerate(lesson_lines):
        rest = len(lesson_lines) - index
        more = f"\n… and {_plural(rest, 'more lesson', 'more lessons')}"
        if len(text) + 1 + len(entry) + len(more) > max_chars and rest > 1:
            return text + more
        text += "\n" + entry
    return _truncate(text, max_chars)


def _latest_that_fit(text: str, entries: Sequence[str], max_chars: int) -> str:
    """``text`` and the most recent entries that fit, in order, after a line saying how many
    earlier ones are left out (the latest lessons are the ones a student acts on)."""
    room = max_chars - len(f"\n… {len(entries)} earlier lessons not listed")
    kept: list[str] = []
    used = len(text)
    for entry in reversed(entries):
        if used + 1 + len(entry) > (room if len(kept) + 1 < len(entries) else max_chars):
            break
        kept.append(entry)
        used += 1 + len(entry)
    left_out = len(entries) - len(kept)
    note = [f"… {_plural(left_out, 'earlier lesson', 'earlier lessons')} not listed"]
    return _truncate("\n".join([text, *(note if left_out else []), *reversed(kept)]),
                     max_chars)


def reminder_texts(
    user_ids: Sequence[int],
    lesson_title: str,
    due_at: dt.datetime | None,
    thread_ids: Sequence[int] = (),
    *,
    max_chars: int = MESSAGE_CONTENT_LIMIT,
    lesson_link: str | None = None,
) -> list[tuple[str, tuple[int, ...]]]:
    """Reminder messages that mention ``user_ids``: (text, the ids that text mentions).

    Each message fits ``max_chars``; a long class is split over several messages, and each
    student is mentioned exactly once. The text names the lesson, its due time as Discord
    timestamps, the question threads (or, for an answer-first lesson, ``lesson_link``: its
    post, where the Answer buttons are), and how to turn reminders off.
    """
    title = escape_for_discord(lesson_title, max_length=100)
    due = ""
    if due_at is not None:
        due = f" Due {discord_timestamp(due_at, 'F')} ({discord_timestamp(due_at, 'R')})."
    where = " ".join(f"<#{t}>" for t in thread_ids[:10])
    reply = f" Reply in a question thread: {where}." if where else ""
    if lesson_link is not None:
        reply = f" Press **Answer** under each question of the lesson: {lesson_link}"
    tail = (f"— you have not replied to “{title}” yet.{due}{reply} "
            "(Use /reminders off to stop these.)")
    budget = max_chars - len("Reminder: ") - len(tail) - 1
    if budget < 30:
        raise ValueError(f"max_chars {max_chars} leaves no room for mentions")
    messages: list[tuple[str, tuple[int, ...]]] = []
    batch: list[int] = []
    used = 0
    for user_id in user_ids:
        mention = f"<@{user_id}>"
        if batch and used + 1 + len(mention) > budget:
            messages.append(_reminder(batch, tail))
            batch, used = [], 0
        batch.append(user_id)
        used += len(mention) + (1 if used else 0)
    if batch:
        messages.append(_reminder(batch, tail))
    return messages


def _reminder(user_ids: list[int], tail: str) -> tuple[str, tuple[int, ...]]:
    mentions = " ".join(f"<@{u}>" for u in user_ids)
    return f"Reminder: {mentions} {tail}", tuple(user_ids)


def records_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV of raw records (one student's data export): UTF-8 with a BOM, like the gradebook.

    Times become ISO 8601 UTC ending in ``Z``, ``None`` an empty cell, ids and other numbers
    text, and cells a spreadsheet would run as formulas get a leading ``'``.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow([csv_safe(c) for c in columns])
    for row in rows:
        cells = []
        for value in row:
            if value is None:
                cells.append("")
            elif isinstance(value, dt.datetime):
                cells.append(_utc_iso(value))
            elif isinstance(value, bool):
                cells.append("yes" if value else "no")
            else:
                cells.append(csv_safe(str(value)))
        writer.writerow(cells)
    return out.getvalue().encode("utf-8-sig")


# --- headings and reminders ------------------------------------------------------------


#: What to do with each export, after "Gradebook for ...: N student(s).".
_EXPORT_HINTS: dict[str, str] = {
    "csv": " One row each. When you import it into a spreadsheet, set the user_id column to "
           "Text so the long ids stay exact.",
    "xlsx": " Ids are stored as text; each lesson has a sheet with the reasons.",
    "canvas": " In Canvas: Grades → Import → choose this file → Upload Data. Importing it "
              "again updates the same assignments.",
    "moodle": " In Moodle: Grades → Import → CSV file; under *Identify user by* map the first "
              "column to the same field; map each other column to its grade item (the first "
              "time: *new grade item*).",
    "oneroster": " Give the zip to your district's SIS: it holds manifest.csv, categories.csv, "
                 "lineItems.csv and results.csv (OneRoster 1.1, delta).",
}


def export_message(what: str, file_format: str, rows: int, left_out: int = 0,
                   unlinked: int = 0) -> str:
    """The note sent with an export: what it holds, how to import it, who it leaves out."""
    text = f"Gradebook for {what}: {_plural(rows, 'student', 'students')}."
    text += _EXPORT_HINTS.get(file_format, "")
    if left_out:
        text += (f"\n⚠️ {_plural(left_out, 'member is', 'members are')} not in it (not on "
                 "the roster, or without the id it needs): see the second file, link them "
                 "with `/roster link`, then export again.")
    if unlinked:
        text += (f"\n{_plural(unlinked, 'student', 'students')} of the roster "
                 f"{'has' if unlinked == 1 else 'have'} not linked a Discord account yet "
                 "(`/roster show`).")
    return text


def report_title(course: CourseSettings, title: str | None,
                 summaries: list[StudentSummary]) -> str:
    """The heading of a report: course, lesson, and how many students replied."""
    replied = sum(1 for s in summaries if not s.missing)
    what = escape_for_discord(course.name, max_length=100)
    if title is not None:
        what += f" · “{escape_for_discord(title, max_length=100)}”"
    missing = len(summaries) - replied
    counts = f"{replied} replied" + (f", {missing} not yet" if missing else "")
    return f"**Participation in {what}** · {counts}"


def chart_title(course: CourseSettings, title: str | None, student: str | None) -> str:
    """What a report's chart shows: per lesson for a course or a student, else per student."""
    if student is not None:
        return f"Replies of {student}" + (f": {title}" if title else " per lesson")
    if title is not None:
        return f"Replies per student: {title}"
    return f"Replies per lesson: {course.name}"


@dataclass
class ReminderOutcome:
    """What a reminder did: who was pinged where, and why the others were not."""

    reminded: list[int] = field(default_factory=list)
    replied: int = 0
    opted_out: int = 0
    reminded_before: int = 0
    channel_id: int | None = None


def reminder_summary(title: str, outcome: ReminderOutcome) -> str:
    """What the teacher is told after /remind about the lesson called ``title``."""
    title = escape_for_discord(title, max_length=100)
    others = []
    if outcome.replied:
        others.append(f"{outcome.replied} already replied")
    if outcome.reminded_before:
        others.append(f"{outcome.reminded_before} were reminded before")
    if outcome.opted_out:
        others.append(f"{outcome.opted_out} turned reminders off")
    rest = f" ({', '.join(others)})" if others else ""
    if not outcome.reminded:
        return f"Nobody to remind about “{title}”{rest}."
    return (f"Reminded {len(outcome.reminded)} student(s) about “{title}” in "
            f"<#{outcome.channel_id}>{rest}. Each student is reminded once per lesson.")


def reminder_at(due_at: dt.datetime, hours_before_due: float,
                not_before: dt.datetime | None = None) -> dt.datetime:
    """When the automatic reminder of a lesson due at ``due_at`` goes out.

    ``hours_before_due`` before the due time; not before ``not_before`` (a reminder that
    failed waits a little before it is tried again).
    """
    at = due_at - dt.timedelta(hours=hours_before_due)
    return at if not_before is None else max(at, not_before)


def left_alone(summaries: Sequence[StudentSummary], answered: Iterable[int]) -> list[str]:
    """The students (on the roster) who replied and whom no classmate has answered yet."""
    heard = set(answered)
    return [s.display_name for s in summaries
            if s.status == "replied" and s.user_id not in heard]


def left_alone_line(names: Sequence[str]) -> str | None:
    """The line under a teacher's report naming the students nobody has answered, if any.

    For the teacher only: a student never sees who was left alone.
    """
    if not names:
        return None
    shown = ", ".join(f"**{escape_for_discord(n)}**" for n in names)
    many = f" ({len(names)} students)" if len(names) > LEFT_ALONE_NAMED else ""
    # The advice first: a long list is cut at the end of its line, the advice must not be.
    return (f"Nobody has answered yet{many}, a reply from you or a classmate would bring them "
            f"into the discussion: {shown}")
