"""Posting rules: catch-up after downtime, notes and sentences, nonces, forum tags, overviews.

Pure: no discord.py, no database. The posting cog (``bot/cogs/posting.py``) asks these
functions what to do and what to say, and does the Discord and database side itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from bot.core.calendar import Occurrence
from bot.core.config import CatchUp
from bot.core.lessons import Lesson
from bot.core.render import THREAD_NAME_LIMIT, discord_timestamp, escape_for_discord, truncate
from bot.core.server_check import Verdict

# A post this little behind its time is on time: the loop woke a moment late, or was busy
# posting another course's lesson.
ON_TIME_GRACE = dt.timedelta(minutes=5)
# How far back a (re)started bot looks for missed posts, at least: older ones are history.
MIN_LOOKBACK = dt.timedelta(days=7)
# Question threads archive themselves after 7 days without messages (Discord's longest).
THREAD_ARCHIVE_MINUTES: Final = 10080
NONCE_LIMIT = 25  # Discord accepts nonces of up to 25 characters

Action = Literal["post", "skip"]


@dataclass(frozen=True)
class CatchUpDecision:
    """What to do with an occurrence that fell due at ``scheduled_at``, seen at ``now``."""

    action: Action
    late: bool
    lateness: dt.timedelta
    reason: str | None = None


def lookback(catch_up: CatchUp) -> dt.timedelta:
    """How far back to look for missed posts: the catch-up window, and at least 7 days.

    Occurrences older than this are neither posted nor recorded, so a new install on a term
    that started months ago does not flood the class (or the teacher) with old lessons.
    """
    return max(dt.timedelta(hours=catch_up.max_late_hours), MIN_LOOKBACK)


def hours_text(delta: dt.timedelta) -> str:
    """A duration as a teacher reads it: '45 minutes', '1 hour', '13.5 hours', '3 days'."""
    minutes = delta.total_seconds() / 60
    if minutes < 90:
        whole = max(1, round(minutes))
        return f"{whole} minute" + ("" if whole == 1 else "s")
    hours = minutes / 60
    if hours < 48:
        text = f"{hours:.1f}".removesuffix(".0")
        return f"{text} hour" + ("" if text == "1" else "s")
    days = round(hours / 24)
    return f"{days} days"


def decide_catch_up(scheduled_at: dt.datetime, now: dt.datetime,
                    catch_up: CatchUp) -> CatchUpDecision:
    """Post on time, post late, or skip an occurrence, per the course's ``catch_up`` setting.

    Within :data:`ON_TIME_GRACE` a post is on time whatever the setting. After that, mode
    ``post`` posts it late while it is less than ``max_late_hours`` late; anything later,
    or any late post in mode ``skip``, is skipped with a reason a teacher can read.
    """
    lateness = max(now - scheduled_at, dt.timedelta(0))
    if lateness <= ON_TIME_GRACE:
        return CatchUpDecision("post", late=False, lateness=lateness)
    window = dt.timedelta(hours=catch_up.max_late_hours)
    if catch_up.mode == "post" and lateness < window:
        return CatchUpDecision("post", late=True, lateness=lateness)
    if catch_up.mode == "skip":
        reason = (f"missed while the bot was offline ({hours_text(lateness)} late); the "
                  "course's catch_up mode is 'skip'")
    else:
        reason = (f"missed while the bot was offline ({hours_text(lateness)} late, more than "
                  f"the {catch_up.max_late_hours:g} hours catch_up allows)")
    return CatchUpDecision("skip", late=True, lateness=lateness, reason=reason)


def send_nonce(post_id: int, part: str) -> str:
    """The nonce of one message of a post: the same for every retry, at most 25 characters.

    Discord returns the message already created with an enforced nonce (for a few
    minutes) instead of creating a second one, so a send retried after a lost answer, or
    by a process completing a crashed one's post, cannot duplicate a message.
    """
    digest = hashlib.blake2b(f"seminar:{post_id}:{part}".encode(), digest_size=12).hexdigest()
    return digest[:NONCE_LIMIT]


def lesson_thread_name(lesson: Lesson) -> str:
    """The name of a lesson's own post in a forum channel, at most 100 characters."""
    return truncate(lesson.title, THREAD_NAME_LIMIT) or lesson.slug[:THREAD_NAME_LIMIT]


_TAG_WORDS = {
    "question": ("question", "discussion", "discuss", "prompt", "lesson"),
    "lesson": ("lesson", "announcement", "summary", "class", "discussion"),
}


def pick_tag(names: Sequence[str], kind: Literal["question", "lesson"]) -> int | None:
    """The index of the forum tag to put on a post of ``kind``, or None if there is none.

    A tag named for the kind of post ('Question', 'Discussion'; 'Lesson') wins; otherwise
    the forum's first tag, so a forum that requires a tag still accepts the post.
    """
    if not names:
        return None
    folded = [name.casefold() for name in names]
    for word in _TAG_WORDS[kind]:
        for index, name in enumerate(folded):
            if word in name:
                return index
    return 0


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """The link that opens a message in Discord."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


# --- what the bot says ------------------------------------------------------------------


def late_note(scheduled_at: dt.datetime) -> str:
    """The line above a lesson posted late, for the class."""
    return (f"Posted late: this lesson was scheduled for {discord_timestamp(scheduled_at)}, "
            "while I was offline.")


def posted_late_sentence(title: str, scheduled_at: dt.datetime,
                         lateness: dt.timedelta) -> str:
    """Tells the teacher a lesson was posted late after downtime."""
    return (f"“{title}” was due to be posted {discord_timestamp(scheduled_at)} while I was "
            f"offline: I posted it now, {hours_text(lateness)} late, with a note saying so.")


def skipped_sentence(title: str, slug: str, scheduled_at: dt.datetime, reason: str) -> str:
    """Tells the teacher a missed lesson was skipped, and how to post it anyway."""
    return (f"“{title}” was due to be posted {discord_timestamp(scheduled_at)}, but I skipped "
            f"it: {reason}. To post it anyway, use `/schedule post {slug}`.")


def failed_sentence(title: str, reason: str) -> str:
    """Tells the teacher a post failed, with Discord's reason as a sentence."""
    return f"I could not post “{title}”. {reason}"


def retry_hint(slug: str) -> str:
    """How a teacher posts a lesson again once the cause is fixed."""
    return f"Once that is fixed, use `/schedule post {slug}` to post it."


def permission_sentence(where: str, missing: Sequence[str], slug: str,
                        refused: str | None = None) -> str:
    """Why Discord refused (403) a step of a post in ``where``, naming what to fix."""
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        return (f"I am missing the {names} permission{plural} in {where}. Ask a server admin "
                f"to give {'them' if plural else 'it'} to me. {retry_hint(slug)}")
    detail = f" ({refused})" if refused else ""
    return (f"Discord refused to let me post in {where}{detail}. Ask a server admin to check "
            f"my permissions there. {retry_hint(slug)}")


def unknown_channel_sentence(channel_id: int, course_key: str, slug: str) -> str:
    """Why a post failed when the class channel is gone (404) or out of the bot's sight."""
    return (f"The class channel <#{channel_id}> (id {channel_id}) does not exist or I cannot "
            f"see it. Check channel_id of course '{course_key}' in the config and the "
            f"channel's permissions. {retry_hint(slug)}")


def wrong_channel_sentence(channel_id: int, kind: str, course_key: str) -> str:
    """Why a post failed when the class channel is neither a text channel nor a forum."""
    return (f"The class channel <#{channel_id}> is a {kind}, and I can post lessons only in a "
            f"text channel or a forum. Change channel_id of course '{course_key}' in the config.")


#: What an answer-first post needs beyond a normal one: private threads it can add students to
#: (only moderators add others to a thread students may not invite to).
ANSWER_FIRST_PERMISSIONS = ("Create Private Threads", "Manage Threads",
                            "Send Messages in Threads")


def answer_first(course_default: bool, lesson_choice: bool | None) -> bool:
    """Whether a lesson is posted answer-first: its own choice, else the course's."""
    return course_default if lesson_choice is None else lesson_choice


def answer_first_forum_sentence(channel_id: int, course_key: str, slug: str) -> str:
    """Why an answer-first post failed in a forum channel."""
    return (f"“{slug}” is an answer-first lesson, which needs private threads, and the class "
            f"channel <#{channel_id}> is a forum, where Discord has none. Make the class "
            f"channel of course '{course_key}' a text channel, or set answer_first: false for "
            f"this lesson. {retry_hint(slug)}")


def server_trouble_sentence(status: int | None, attempts: int, slug: str) -> str:
    """Why a post failed when Discord kept failing (429/5xx, or no answer) on every retry."""
    what = f"answering {status}" if status else "not answering"
    return (f"Discord kept {what} after {attempts} tries, so I stopped. "
            f"{retry_hint(slug)}")


def missing_lesson_sentence(slug: str) -> str:
    """Why a post failed when its lesson file is gone."""
    return (f"There is no lesson file for `{slug}` any more. Put it back in the lessons "
            f"folder and restart me, then use `/schedule post {slug}`.")


# --- /schedule list ---------------------------------------------------------------------

STATUS_WORDS = {
    "claimed": "being posted",
    "posted": "posted",
    "failed": "failed",
    "skipped": "skipped",
}


@dataclass(frozen=True)
class PostLine:
    """What ``/schedule list`` shows of one recorded post."""

    lesson: str
    scheduled_at: dt.datetime
    status: str
    reason: str | None
    late: bool
    link: str | None


def _title(titles: Mapping[str, str], slug: str) -> str:
    return escape_for_discord(titles.get(slug, slug), max_length=80)


def schedule_overview(
    course_name: str,
    upcoming: Sequence[tuple[Occurrence, str | None]],
    recent: Sequence[PostLine],
    titles: Mapping[str, str],
    timestamp: Callable[[dt.datetime, Literal["F", "R"]], str] = discord_timestamp,
) -> str:
    """The text of ``/schedule list``: upcoming posts with due times, then recent posts.

    ``upcoming`` pairs each calendar occurrence with its recorded status (``skipped`` when
    a teacher skipped it ahead of time), or None.
    """
    lines = [f"**{course_name}: upcoming posts**"]
    if not upcoming:
        lines.append("Nothing more is scheduled in the calendar.")
    for occurrence, status in upcoming:
        line = (f"• {timestamp(occurrence.post_at, 'F')}: {_title(titles, occurrence.lesson)} "
                f"(`{occurrence.lesson}`)")
        if occurrence.due_at is not None:
            line += f", due {timestamp(occurrence.due_at, 'F')}"
        if status is not None:
            line += f": {STATUS_WORDS.get(status, status)}"
        lines.append(line)
    lines += ["", "**Recent posts**"]
    if not recent:
        lines.append("Nothing has been posted yet.")
    for post in recent:
        status = STATUS_WORDS.get(post.status, post.status)
        if post.status == "posted" and post.late:
            status = "posted late"
        line = f"• {timestamp(post.scheduled_at, 'F')}: {_title(titles, post.lesson)}: {status}"
        if post.link and post.status == "posted":
            line += f" ({post.link})"
        if post.reason and post.status in ("failed", "skipped"):
            line += f": {truncate(post.reason, 300)}"
        lines.append(line)
    return "\n".join(lines)


def setup_problems_text(course_name: str, problems: list[str]) -> str:
    """The teachers' notice of what the online check found at start-up."""
    lines = [f"⚠️ {len(problems)} set-up problem(s) for {course_name}: lessons may fail to "
             "post until they are fixed."]
    lines += [f"• {problem}" for problem in problems]
    lines.append("Run `seminar check --online` after fixing them to check again.")
    return "\n".join(lines)


def verdict_line(verdict: Verdict | None) -> str:
    """Whether the next lesson can be posted as configured: the online check's verdict."""
    if verdict is None:
        return ("Next lesson: not checked against Discord yet (the bot checks at start; "
                "`seminar check --online` checks now).")
    return "Next lesson: " + verdict.line()
