"""Participation facts -> per-student summaries, a gradebook CSV, a chart and text pages.

Pure: no discord.py, no SQLAlchemy. The participation cog and ``seminar export`` turn stored
reply rows into :class:`ReplyFact` values and a roster (student user id -> display name), then
call :func:`summarise`, :func:`to_csv`, :func:`chart_png` or :func:`table_pages`.

What counts (set per course in :class:`~bot.config.GradingSettings`):

- A deleted reply counts for nothing anywhere.
- A reply is *substantive* when it has at least ``min_words`` words (every reply, if 0).
- Checkpoints and the required number of peer replies count substantive replies only: that is
  what ``min_words`` is for. The ``replies`` and ``peer_replies`` numbers count every reply.
- A checkpoint's ``by`` is a local time in the course zone and is inclusive: a reply at exactly
  that minute is on time. It is converted to UTC in one place, :func:`checkpoint_due_utc`.
- Everything is computed over the facts in scope: with ``lessons`` given, over those lessons.

Order of students everywhere: students who replied first, then roster students with no reply
yet; within each group by display name, case- and accent-insensitive, then by user id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from bot.calendar import local_to_utc
from bot.config import Checkpoint, GradingSettings
from bot.render import MESSAGE_CONTENT_LIMIT, discord_timestamp

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

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
# Bidirectional controls would flip the rest of a Discord line when shown inside it.
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|<>\[\]#])")
NAME_WIDTH = 32
CHART_NAME_WIDTH = 24
MIN_PAGE_CHARS = 200


@dataclass(frozen=True, slots=True)
class ReplyFact:
    """One recorded reply, as the reports need it (storage rows convert into this)."""

    author_id: int
    author_name: str
    lesson: str
    question_index: int
    created_at: dt.datetime
    word_count: int
    is_peer: bool = False
    late: bool = False
    deleted: bool = False

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError(
                f"reply by {self.author_id} in {self.lesson!r} has a time without a time zone "
                f"({self.created_at}); give created_at in UTC"
            )
        # Normalised once here so comparisons and ISO output are always in UTC.
        object.__setattr__(self, "created_at", self.created_at.astimezone(dt.UTC))


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
    """One student's participation numbers over the facts in scope."""

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
class StudentStats:
    """What ``/mystats`` shows: one student's summary and their replies per lesson."""

    summary: StudentSummary
    replies_by_lesson: tuple[tuple[str, int], ...] = field(default=())


def checkpoint_due_utc(checkpoint: Checkpoint, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a checkpoint's local ``by`` time in the course zone.

    Same rule as posts and due times (:func:`bot.calendar.local_to_utc`): a local time that
    happens twice means the first occurrence; one skipped by DST falls after the gap.
    """
    return local_to_utc(checkpoint.by, zone)


@dataclass(slots=True)
class _Tally:
    """Running numbers for one author while summarising."""

    names: list[tuple[dt.datetime, str]] = field(default_factory=list)
    counted: list[ReplyFact] = field(default_factory=list)


def _in_scope(facts: Iterable[ReplyFact], lessons: Collection[str] | None) -> list[ReplyFact]:
    wanted = None if lessons is None else set(lessons)
    return [f for f in facts if wanted is None or f.lesson in wanted]


def _name_key(name: str) -> str:
    """Sort key that ignores case and accents, so 'élodie' sits with 'Elodie'."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _sort_key(summary: StudentSummary) -> tuple[bool, str, str, int]:
    return (summary.missing, _name_key(summary.display_name), summary.display_name,
            summary.user_id)


def _summarise_one(
    user_id: int,
    name: str,
    status: Status,
    counted: Sequence[ReplyFact],
    grading: GradingSettings,
    deadlines: Sequence[tuple[Checkpoint, dt.datetime]],
    now: dt.datetime | None,
) -> StudentSummary:
    """Numbers for one author from their non-deleted replies in scope."""
    substantive = [f for f in counted if f.word_count >= grading.min_words]
    results = []
    for checkpoint, due in deadlines:
        by_due = [f for f in substantive if f.created_at <= due]
        met = (len(by_due) >= checkpoint.replies
               and sum(f.is_peer for f in by_due) >= checkpoint.peer_replies)
        still_open = now is not None and now < due
        results.append(CheckpointResult(checkpoint.name, due, met, still_open))
    return StudentSummary(
        user_id=user_id,
        display_name=name,
        status=status,
        replies=len(counted),
        substantive_replies=len(substantive),
        words=sum(f.word_count for f in counted),
        questions_answered=len({(f.lesson, f.question_index) for f in counted}),
        peer_replies=sum(f.is_peer for f in counted),
        substantive_peer_replies=sum(f.is_peer for f in substantive),
        late_replies=sum(f.late for f in counted),
        first_reply_at=min((f.created_at for f in counted), default=None),
        required_peer_replies=grading.required_peer_replies,
        checkpoints=tuple(results),
    )


def summarise(
    facts: Iterable[ReplyFact],
    roster: Mapping[int, str] | None,
    grading: GradingSettings,
    zone: ZoneInfo,
    lessons: Collection[str] | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[StudentSummary]:
    """Per-student numbers: everyone on the roster plus anyone else with a counted reply.

    ``roster`` maps each student's user id to their current display name (members with the
    course's student role); pass ``None`` when the course has no student role, and nobody is
    reported missing. Authors not on a given roster (a student who left, a teacher who
    joined in) are listed with status ``off-roster`` so the teacher can decide.
    ``now`` (UTC) marks checkpoints whose deadline is still ahead as ``open``; without it every
    deadline is judged as passed.
    """
    deadlines = [(c, checkpoint_due_utc(c, zone)) for c in grading.checkpoints]
    tallies: dict[int, _Tally] = {}
    for fact in _in_scope(facts, lessons):
        tally = tallies.setdefault(fact.author_id, _Tally())
        tally.names.append((fact.created_at, fact.author_name))
        if not fact.deleted:
            tally.counted.append(fact)
    people = set(roster or {}) | {uid for uid, t in tallies.items() if t.counted}
    summaries = []
    for user_id in people:
        tally = tallies.get(user_id, _Tally())
        name = (roster or {}).get(user_id) or max(tally.names, default=(None, ""))[1]
        status: Status
        if not tally.counted:
            status = "missing"
        elif roster is not None and user_id not in roster:
            status = "off-roster"
        else:
            status = "replied"
        summaries.append(_summarise_one(user_id, name or str(user_id), status, tally.counted,
                                        grading, deadlines, now))
    summaries.sort(key=_sort_key)
    return summaries


def student_stats(
    facts: Iterable[ReplyFact],
    user_id: int,
    grading: GradingSettings,
    zone: ZoneInfo,
    lessons: Collection[str] | None = None,
    *,
    display_name: str | None = None,
    now: dt.datetime | None = None,
) -> StudentStats:
    """One student's own numbers for ``/mystats``; other students' facts are dropped first."""
    own = [f for f in _in_scope(facts, lessons) if f.author_id == user_id]
    name = display_name or max(((f.created_at, f.author_name) for f in own),
                               default=(None, str(user_id)))[1]
    counted = [f for f in own if not f.deleted]
    deadlines = [(c, checkpoint_due_utc(c, zone)) for c in grading.checkpoints]
    summary = _summarise_one(user_id, name, "replied" if counted else "missing", counted,
                             grading, deadlines, now)
    return StudentStats(summary, tuple(replies_by_lesson(counted, lessons).items()))


def replies_by_lesson(
    facts: Iterable[ReplyFact], lessons: Sequence[str] | Collection[str] | None = None
) -> dict[str, int]:
    """Non-deleted replies per lesson, for a per-lesson chart.

    With ``lessons`` as a list, those lessons in that order (zero where nobody replied);
    otherwise lessons in the order of their first reply.
    """
    counted = sorted((f for f in _in_scope(facts, lessons) if not f.deleted),
                     key=lambda f: f.created_at)
    counts: dict[str, int] = {}
    if isinstance(lessons, Sequence) and not isinstance(lessons, str):
        counts = dict.fromkeys(lessons, 0)
    for fact in counted:
        counts[fact.lesson] = counts.get(fact.lesson, 0) + 1
    return counts


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
    return columns


def to_csv(summaries: Sequence[StudentSummary], grading: GradingSettings) -> bytes:
    """A gradebook CSV: UTF-8 with a byte-order mark, one row per student, stable columns.

    ``user_id`` is written quoted, as text; ``first_reply_utc`` is ISO 8601 ending in ``Z``;
    ``status`` is replied / missing / off-roster; ``required_peer_replies_met`` is yes / no;
    each checkpoint column is met / not met / open. Text cells that a spreadsheet would run as
    a formula (starting with = + - @ or a tab) get a leading ``'``.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(csv_columns(grading))
    for s in summaries:
        row: list[str | int] = [
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
        writer.writerow(row)
    return out.getvalue().encode("utf-8-sig")


# --- chart -----------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Text on one line: control characters and runs of white space become one space."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                      for c in text.translate(_BIDI_CONTROLS))
    return " ".join(cleaned.split())


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def chart_png(
    data: Sequence[StudentSummary] | Mapping[str, int],
    title: str,
    *,
    max_bars: int = 80,
    value_label: str = "replies",
) -> bytes:
    """A PNG bar chart of replies per student (summaries) or per label (a mapping).

    Horizontal bars in the given order, top to bottom, names cut to 24 characters; the image
    grows with the number of bars, and past ``max_bars`` only the first ones are drawn (the
    title says so). Drawn with matplotlib's Agg canvas: no display, no global pyplot state.
    """
    # Imported here: matplotlib takes a while to import and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if isinstance(data, Mapping):
        pairs = [(str(k), int(v)) for k, v in data.items()]
    else:
        pairs = [(s.display_name, s.replies) for s in data]
    total = len(pairs)
    pairs = pairs[:max_bars]
    if total > len(pairs):
        title = f"{title} (first {len(pairs)} of {total})"
    # '$' starts matplotlib math text; escaped so a nickname is drawn as written.
    labels = [_truncate(_one_line(name), CHART_NAME_WIDTH).replace("$", r"\$") or "?"
              for name, _ in pairs]
    values = [v for _, v in pairs]

    fig = Figure(figsize=(8, max(2.5, 1.2 + 0.3 * len(pairs))), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if pairs:
        positions = list(range(len(pairs)))
        bars = ax.barh(positions, values, color="#5865F2")
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.bar_label(bars, padding=3)
        ax.set_xlim(0, max(max(values), 1) * 1.15)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, f"No {value_label} yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(value_label.capitalize())
    ax.set_title(_one_line(title).replace("$", r"\$"))
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Names in scripts or emoji the bundled font lacks draw as boxes; no log spam.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from")
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support")
        fig.tight_layout()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()


# --- text pages ------------------------------------------------------------------------------


def escape_for_discord(text: str, *, max_length: int | None = NAME_WIDTH) -> str:
    """Make a name safe to show inside a Discord message line.

    Puts it on one line (control characters, bidirectional overrides and newlines removed),
    cuts it to ``max_length`` characters with an ellipsis, puts a backslash before markdown
    characters (``\\ * _ ~ ` | < > [ ] #``) so ``**x**`` shows as typed, and puts a zero-width
    space after every ``@`` so ``@everyone`` or ``<@id>`` in a nickname can never ping.
    """
    line = _one_line(text)
    if max_length is not None:
        line = _truncate(line, max_length)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line).replace("@", "@\u200b")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary_line(summary: StudentSummary) -> str:
    """One student's numbers as a Discord markdown line (names escaped)."""
    name = f"**{escape_for_discord(summary.display_name)}**"
    if summary.missing:
        return f"{name} — no reply yet"
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
    if summary.required_peer_replies:
        mark = "✅" if summary.required_peer_replies_met else "❌"
        parts.append(f"{mark} peer replies {summary.substantive_peer_replies}"
                     f"/{summary.required_peer_replies}")
    marks = {"met": "✅", "not met": "❌", "open": "⏳"}
    parts += [f"{marks[r.state]} {escape_for_discord(r.name, max_length=40)}"
              for r in summary.checkpoints]
    line = f"{name} — " + " · ".join(parts)
    if summary.status == "off-roster":
        line += " · (not in the student role)"
    return line


def table_pages(
    summaries: Sequence[StudentSummary], *, title: str = "", max_chars: int = MESSAGE_CONTENT_LIMIT
) -> list[str]:
    """Text pages of :func:`summary_line` lines, each page at most ``max_chars`` characters.

    Every student appears exactly once, in the given order. Each page starts with ``title``
    (followed by ``(page i/n)`` when there are several). The default limit is render.py's
    message limit.
    """
    if max_chars < MIN_PAGE_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_PAGE_CHARS}, not {max_chars}")
    heading = _truncate(_one_line(title), max_chars // 2)
    suffix_room = len(" (page 9999/9999)")
    budget = max_chars - len(heading) - suffix_room - 1
    lines = [_truncate(summary_line(s), budget) for s in summaries]
    if not lines:
        lines = ["No students and no replies yet."]
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
    for number, page in enumerate(pages, 1):
        head = heading
        if len(pages) > 1:
            head = f"{heading} (page {number}/{len(pages)})".strip()
        body = "\n".join(page)
        result.append(f"{head}\n{body}" if head else body)
    return result
