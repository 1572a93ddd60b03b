"""``seminar init``'s answers -> the text of a ``config.yaml``, with comments like the example's.

Pure: no discord.py. Every value is written through YAML's own quoting, and the caller parses
the text back with :func:`bot.core.config.parse_settings` before it writes the file: what
``seminar init`` writes, ``seminar check`` accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Picked:
    """Something picked by name in Discord: its id and the name it had then."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class InitAnswers:
    """What ``seminar init`` asked (or was given as flags)."""

    course_key: str
    course_name: str
    server: Picked
    class_channel: Picked
    timezone: str
    weekdays: Sequence[str]
    time: dt.time
    start: dt.date
    end: dt.date
    lessons: Sequence[str]
    teachers_channel: Picked | None = None
    teacher_role: Picked | None = None
    student_role: Picked | None = None
    skip: Sequence[dt.date] = field(default_factory=tuple)
    lessons_folder: str = "prompts"
    token_env: str = "DISCORD_TOKEN"
    api_base: str | None = None
    gateway_url: str | None = None


def _scalar(value: object) -> str:
    """One YAML scalar, quoted as YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1_000)
    return text.removesuffix("\n...\n").strip()


def _flow(values: Sequence[object]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _comment(text: str) -> str:
    return " ".join(text.split())


def config_text(answers: InitAnswers) -> str:
    """The config file for the answers: one course, a weekly calendar, comments naming what
    each id is in Discord."""
    a = answers
    lines = [
        "# Seminar's config, written by `seminar init`. Edit it freely; `seminar check` (and",
        "# `seminar check --online`) tells you what is wrong, all at once. The bot token is NOT",
        "# written here: it is read from the environment variable named by discord.token_env.",
        "",
        "discord:",
        f"  token_env: {_scalar(a.token_env)}",
    ]
    if a.api_base:
        lines.append(f"  api_base: {_scalar(a.api_base)}")
    if a.gateway_url:
        lines.append(f"  gateway_url: {_scalar(a.gateway_url)}")
    lines += [
        "",
        "database:",
        "  # SQLite by default. For PostgreSQL:",
        "  # url: postgresql+asyncpg://seminar:PASSWORD@127.0.0.1/seminar",
        "  url: sqlite+aiosqlite:///seminar.db",
        "",
        "lessons:",
        f"  folder: {_scalar(a.lessons_folder)}          # relative to this file",
        "",
        "log_level: INFO",
        "",
        "courses:",
        f"  {_scalar(a.course_key)}:                 # the course's key on the command line",
        f"    name: {_scalar(a.course_name)}",
        f"    guild_id: {a.server.id}   # the server {_comment(a.server.name)}",
        f"    channel_id: {a.class_channel.id}   # the class channel "
        f"#{_comment(a.class_channel.name)}",
    ]
    if a.teachers_channel is not None:
        lines.append(f"    teacher_channel_id: {a.teachers_channel.id}   # the teachers' "
                     f"channel #{_comment(a.teachers_channel.name)}")
    lines.append(f"    timezone: {_scalar(a.timezone)}")
    if a.teacher_role is not None:
        lines.append(f"    teacher_role_id: {a.teacher_role.id}   # the role "
                     f"@{_comment(a.teacher_role.name)} teaches")
    if a.student_role is not None:
        lines.append(f"    student_role_id: {a.student_role.id}   # the role "
                     f"@{_comment(a.student_role.name)}: the students")
    lines += [
        "    calendar:",
        "      # One lesson per listed weekday, in this order, skipping the dates in skip.",
        "      weekly:",
        f"        start: {a.start.isoformat()}",
        f"        end: {a.end.isoformat()}",
        f"        weekdays: {_flow(list(a.weekdays))}",
        f"        time: \"{a.time.strftime('%H:%M')}\"",
        f"        lessons: {_flow(list(a.lessons))}",
        f"        skip: {_flow([d.isoformat() for d in a.skip])}",
        "        due_after_days: 7            # or: due: {weekday: fri, time: \"17:00\"}",
        "    catch_up:                        # a post missed while the bot was down:",
        "      mode: post                     # post it late (with a note), or skip it",
        "      max_late_hours: 12",
        "    answer_first: false              # true: students answer before reading "
        "classmates",
        "    lock_at_due: false               # lock the question threads at the due time",
        "    store_text: false                # keep the text of replies (off: counts only)",
        "    retention_days: 365",
        "    grading:                         # the grading policy (README: Grades)",
        "      min_words: 0                   # a shorter reply is not substantive",
        "      points_per_lesson: 10",
        "      questions: 1                   # different questions to answer for full marks",
        "",
    ]
    return "\n".join(lines)
