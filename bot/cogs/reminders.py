"""Reminders: ``/remind`` (teachers), the automatic reminder before a lesson is due, and
``/reminders on|off`` (students).

A reminder is one message in the lesson's first question thread (in the class channel for an
answer-first lesson, whose threads are private) that mentions exactly the
students (members with the course's student role) who have not replied to that lesson, have
not turned reminders off, and were not reminded for it before: a mention in a thread notifies
the student and adds them to the thread, right where their reply belongs. Each student is
reminded at most once per lesson post, whoever asks (the database keeps who was reminded).

The automatic reminder is a durable timer: one task sleeps until the earliest
``due_at - hours_before_due`` of the posted lessons in the database and is woken when a
lesson is posted (the ``seminar_lesson_posted`` event); there is no polling tick. A student
with an extension is reminded before their own due time instead, and every reminder names
the due time of the students it mentions.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.client.errors import UserFacingError
from bot.client.interactions import (
    LessonArg,
    course_of,
    lesson_title,
    members_of,
    roster_of,
    teacher_only,
)
from bot.core import render, reports
from bot.core.config import CourseSettings

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot
    from storage.records import Post

log = logging.getLogger(__name__)

RETRY_AFTER = dt.timedelta(minutes=5)  # an automatic reminder that failed is tried again
HORIZON = dt.timedelta(days=3650)  # how far ahead due times are looked for
JOB = "reminders"
NO_STUDENT_ROLE = (
    "I don't know who the students are: set `student_role_id` for this course in the config "
    "(the role every student has), restart me, and /remind will ping those who have not "
    "replied."
)


def reminder_mentions(user_ids: tuple[int, ...]) -> discord.AllowedMentions:
    """Mentions that ping exactly these users: no roles, no @everyone."""
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False,
                                   users=[discord.Object(u) for u in user_ids])


class RemindersCog(commands.Cog):
    """``/remind``, ``/reminders on|off`` and the automatic reminder timer."""

    reminders = app_commands.Group(
        name="reminders", description="Turn reminder pings for this course on or off.",
        guild_only=True)

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        # Posts (and students' extensions) whose automatic reminder went, in this process.
        self._done: set[int | tuple[str, int]] = set()
        self._not_before: dict[int | tuple[str, int], dt.datetime] = {}  # failed ones wait

    async def cog_load(self) -> None:
        """Register the automatic reminder job when some course asks for it."""
        wanted = False
        for key, course in self.bot.settings.courses.items():
            if course.reminders.hours_before_due and course.student_role_id is None:
                log.warning("Course %s asks for automatic reminders but has no student_role_id: "
                            "set it so I know whom to remind.", key)
            wanted = wanted or bool(course.reminders.hours_before_due and course.student_role_id)
        if wanted:
            self.bot.timers.add(JOB, self.run_due_reminders)

    async def cog_unload(self) -> None:
        """Stop the automatic reminders."""
        self.bot.timers.remove(JOB)

    # --- sending -----------------------------------------------------------------------------

    async def remind(self, course_key: str, course: CourseSettings, post: Post,
                     actor_id: int | None, *, only: int | None = None,
                     extended_later: bool = True) -> reports.ReminderOutcome:
        """Ping the students who have not replied to ``post`` yet, once; what happened.

        Each reminder names the student's own due time (their extension's, if any). With
        ``extended_later=False`` (the automatic reminder at the lesson's own time) students
        whose extension ends later are left for their own reminder; ``only`` reminds one
        student (that reminder).
        """
        repo = self.bot.repository
        roster = roster_of(await members_of(self.bot.get_guild(course.guild_id)), course)
        if roster is None:
            raise UserFacingError(NO_STUDENT_ROLE)
        replied = {t.author_id for t in await repo.reports.summary(course_key, post_id=post.id)}
        opted_out = await repo.reminders.opted_out(course_key)
        own_due = {e.user_id: e.due_at for e in await repo.extensions.of_course(course_key)
                   if e.lesson == post.lesson}
        candidates = reports.students_to_remind(roster, replied, opted_out)
        if only is not None:
            candidates = [c for c in candidates if c == only]
        if not extended_later and post.due_at is not None:
            candidates = [c for c in candidates if own_due.get(c, post.due_at) <= post.due_at]
        outcome = reports.ReminderOutcome(replied=len(roster.keys() & replied),
                          opted_out=len((roster.keys() - replied) & opted_out))
        # Marked first, sent second: two reminders at once (a teacher's and the timer's)
        # can never ping a student twice. What could not be sent is released below.
        fresh = await repo.reminders.record(post.id, candidates)
        outcome.reminded_before = len(candidates) - len(fresh)
        if not fresh:
            return outcome
        threads = [t.thread_id for t in await repo.posts.threads_of(post.id)]
        # Answer-first: a ping in a private thread would let the student in unanswered, so
        # the reminder goes to the class channel and points at the Answer buttons.
        channel = await self._channel_for(course, [] if post.answer_first else threads)
        link = (f"https://discord.com/channels/{course.guild_id}/{post.channel_id}/"
                f"{post.message_id}" if post.answer_first and post.message_id else None)
        by_due: dict[dt.datetime | None, list[int]] = {}
        for user_id in fresh:
            by_due.setdefault(own_due.get(user_id, post.due_at), []).append(user_id)
        title = lesson_title(self.bot, post.lesson)
        messages = [message for due, users in by_due.items()
                    for message in reports.reminder_texts(
                        users, title, due, [] if post.answer_first else threads,
                        lesson_link=link)]
        sent: list[int] = []
        try:
            for text, user_ids in messages:
                await channel.send(text, allowed_mentions=reminder_mentions(user_ids))
                sent.extend(user_ids)
        finally:
            if len(sent) < len(fresh):
                await repo.reminders.release(post.id, set(fresh) - set(sent))
        outcome.reminded, outcome.channel_id = sent, channel.id
        await repo.audit.add(course_key, actor_id, "remind",
                         f"{post.lesson}: {len(sent)} student(s) reminded")
        return outcome

    async def _channel_for(
        self, course: CourseSettings, thread_ids: list[int]
    ) -> discord.Thread | discord.TextChannel:
        """The lesson's first question thread, or the class channel if it has none (or is gone)."""
        for channel_id in [*thread_ids[:1], course.channel_id]:
            channel = self.bot.get_channel(channel_id)
            if channel is None:
                try:
                    channel = await self.bot.fetch_channel(channel_id)
                except (discord.NotFound, discord.Forbidden):
                    continue
            if isinstance(channel, discord.Thread | discord.TextChannel):
                return channel
        raise UserFacingError(f"I can't find the class channel <#{course.channel_id}> any more: "
                              "check the course's channel_id in the config.")

    # --- /remind -----------------------------------------------------------------------------

    @app_commands.command(name="remind",
                          description="Ping the students who have not replied yet (teachers).")
    @app_commands.describe(
        lesson="The lesson (pick one as you type); leave it out for the latest posted lesson.")
    @app_commands.guild_only()
    @teacher_only()
    async def remind_command(
        self, interaction: discord.Interaction[SeminarBot], lesson: LessonArg | None = None
    ) -> None:
        """Remind, once, the students of the course who have not replied to the lesson."""
        key, course = course_of(interaction)
        slug = lesson.slug if lesson is not None else None
        repo = self.bot.repository
        await interaction.response.defer(ephemeral=True, thinking=True)
        post = await repo.posts.latest(key, slug)
        if post is None:
            if slug is None:
                raise UserFacingError("No lesson has been posted in this course yet, so there "
                                      "is nothing to remind anyone about.")
            raise UserFacingError(f"“{lesson_title(self.bot, slug)}” has not been posted yet, "
                                  "so nobody could reply to it.")
        outcome = await self.remind(key, course, post, interaction.user.id)
        title = lesson_title(self.bot, post.lesson)
        await interaction.followup.send(reports.reminder_summary(title, outcome), ephemeral=True)

    # --- /reminders on|off -------------------------------------------------------------------

    @reminders.command(name="off", description="Stop reminder pings for you in this course.")
    async def reminders_off(self, interaction: discord.Interaction[SeminarBot]) -> None:
        """Turn the caller's reminders off in this course."""
        await self._set_opt_out(interaction, True)

    @reminders.command(name="on", description="Get reminder pings in this course again.")
    async def reminders_on(self, interaction: discord.Interaction[SeminarBot]) -> None:
        """Turn the caller's reminders back on in this course."""
        await self._set_opt_out(interaction, False)

    async def _set_opt_out(self, interaction: discord.Interaction[SeminarBot],
                           opted_out: bool) -> None:
        key, course = course_of(interaction)
        repo = self.bot.repository
        # Answer Discord first: a database busy for a few seconds must not outlast the 3 s
        # Discord gives an interaction's first answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await repo.reminders.set_opt_out(key, interaction.user.id, opted_out)
        name = render.escape_for_discord(course.name, max_length=100)
        text = (f"Done: I won't ping you with reminders in {name}. Use /reminders on to get "
                "them again." if opted_out else
                f"Done: I'll remind you in {name} when a lesson is due and you have not "
                "replied yet. Use /reminders off to stop.")
        await interaction.followup.send(text, ephemeral=True)

    # --- the automatic reminder --------------------------------------------------------------

    @commands.Cog.listener()
    async def on_seminar_lesson_posted(self, post: Post) -> None:
        """A lesson was posted: its reminder may be the next one, so look again."""
        self.bot.timers.wake(JOB)

    @commands.Cog.listener()
    async def on_seminar_extension(self, course: str, lesson: str, student: int,
                                   due_at: dt.datetime) -> None:
        """A student has their own due time now: their reminder may be the next one."""
        self._done.discard((lesson, student))
        self.bot.timers.wake(JOB)

    async def _pending(
        self, now: dt.datetime
    ) -> list[tuple[dt.datetime, str, Post, int | None]]:
        """(when to remind, course, post, the one student or None) for each posted lesson not
        yet due, and each extension not yet over, by time."""
        repo = self.bot.repository
        pending: list[tuple[dt.datetime, str, Post, int | None]] = []
        # A course whose server is on another process's shard is reminded there (its roster
        # is in that process's cache, not in this one's).
        for key, course in self.bot.served_courses().items():
            hours = course.reminders.hours_before_due
            if not hours or course.student_role_id is None:
                continue
            for post in await repo.posts.due_between(now, now + HORIZON, course=key):
                if post.id in self._done or post.due_at is None:
                    continue
                at = reports.reminder_at(post.due_at, hours, self._not_before.get(post.id))
                pending.append((at, key, post, None))
            for extension in await repo.extensions.of_course(key):
                token = (extension.lesson, extension.user_id)
                if token in self._done or extension.due_at <= now:
                    continue
                posted = await repo.posts.latest(key, extension.lesson)
                if posted is None or (posted.due_at is not None
                                      and extension.due_at <= posted.due_at):
                    continue  # not posted yet, or reminded with the class
                at = reports.reminder_at(extension.due_at, hours, self._not_before.get(token))
                pending.append((at, key, posted, extension.user_id))
        return sorted(pending, key=lambda item: (item[0], item[2].id, item[3] or 0))

    async def run_due_reminders(self, now: dt.datetime) -> dt.datetime | None:
        """Send the reminders due by ``now``; when the next one is due (None: none left)."""
        retry_at: dt.datetime | None = None
        for at, key, post, student in await self._pending(now):
            if at > now:
                return at if retry_at is None else min(at, retry_at)
            course = self.bot.settings.courses[key]
            token: int | tuple[str, int] = post.id if student is None else (post.lesson,
                                                                            student)
            try:
                outcome = await self.remind(key, course, post, None, only=student,
                                            extended_later=student is not None)
            except Exception as exc:
                log.warning("Course %s: the automatic reminder for %s failed (%r); trying again "
                            "in %s.", key, post.lesson, exc, RETRY_AFTER)
                retry_at = self._not_before[token] = now + RETRY_AFTER
                continue
            self._done.add(token)
            self._not_before.pop(token, None)
            log.info("Course %s: automatic reminder for %s pinged %s student(s).", key,
                     post.lesson, len(outcome.reminded))
        return retry_at


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(RemindersCog(bot))
