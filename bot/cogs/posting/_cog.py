"""The posting cog: registers the scheduler with the bot's due-loop, and ``/schedule``.

It receives discord.py's events and commands and defers to the modules beside it: the
:mod:`.scheduler` decides what is due, the :mod:`.poster` sends it (through :mod:`.calls`,
completing crashed posts with :mod:`.recovery`), the :mod:`.locking` module locks threads
at the due time. The sentences are :mod:`bot.core.posting_rules`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.client.errors import UserFacingError
from bot.client.interactions import LessonArg, course_of, notify_teachers, teacher_only
from bot.client.messages import respond
from bot.client.server_check import check_online, keep_verdicts, verdict_of
from bot.cogs.posting.locking import ThreadLocker
from bot.cogs.posting.poster import Poster
from bot.cogs.posting.scheduler import Scheduler
from bot.cogs.posting.transcript import TranscriptButton
from bot.core import calendar, claims, posting_rules, render
from bot.core.config import CourseSettings
from storage.records import Post, PostStatus, utcnow
from storage.repository import Repository

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

JOB = "posting"
#: Seconds a closing bot waits for the start-up server check to finish its writes.
CHECK_GRACE = 5.0
UPCOMING_SHOWN = 10
RECENT_SHOWN = 10


class PostingCog(commands.Cog, name="Posting"):
    """Posts lessons on schedule, completes interrupted posts, locks threads at due time."""

    schedule = app_commands.Group(
        name="schedule",
        description="See and change when lessons are posted (teachers only).",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        # Who holds a claim: unique per process (and per bot, when a test runs two).
        self.poster = Poster(bot, claims.new_claimant())
        self.scheduler = Scheduler(bot, self.poster, ThreadLocker(bot))
        #: When the courses' servers were checked at start-up (None: not yet).
        self.checked_at: dt.datetime | None = None
        self._checking: asyncio.Task[None] | None = None

    @property
    def repository(self) -> Repository:
        """The database: the source of truth for what was claimed and sent."""
        return self.bot.repository

    async def cog_load(self) -> None:
        """Register the Transcript button and the scheduler's job."""
        self.bot.add_dynamic_items(TranscriptButton)
        self.bot.timers.add(JOB, self.scheduler.run_due)
        log.info("Scheduler started (claimant %s).", self.poster.claimant)

    async def cog_unload(self) -> None:
        """Stop the scheduler (a post in progress stays claimed and is completed later), and
        let the start-up check finish its writes (or stop it) before storage closes."""
        self.bot.remove_dynamic_items(TranscriptButton)
        self.bot.timers.remove(JOB)
        checking = self._checking
        if checking is not None and not checking.done():
            try:
                await asyncio.wait_for(asyncio.shield(checking), CHECK_GRACE)
            except (TimeoutError, Exception):
                checking.cancel()
                with contextlib.suppress(BaseException):
                    await checking

    def wake(self) -> None:
        """Make the scheduler look at the calendar and the database again now."""
        self.bot.timers.wake(JOB)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Check each course's server once the cache is full: every problem goes to the log
        and to the course's teachers, before the first lesson is due."""
        if self.checked_at is not None:
            return
        self.checked_at = utcnow()
        self._checking = asyncio.create_task(self._check_servers(self.checked_at),
                                             name="seminar-server-check")

    async def _check_servers(self, now: dt.datetime) -> None:
        courses = self.bot.served_courses()
        try:
            general, by_course = await check_online(self.bot, self.bot.settings,
                                                    self.bot.lessons, courses)
            await keep_verdicts(self.repository, general, by_course, now)
        except Exception:
            log.exception("The start-up check of the courses' servers failed; posting goes on.")
            return
        for key, problems in by_course.items():
            found = general + problems
            if not found:
                continue
            for problem in found:
                log.warning("Set-up problem: %s", problem)
            await notify_teachers(self.bot, key, posting_rules.setup_problems_text(
                courses[key].name, found))

    @commands.Cog.listener()
    async def on_seminar_calendar_changed(self) -> None:
        """The calendar was changed (reloaded config): recompute the next wake-up."""
        self.wake()

    # --- /schedule ----------------------------------------------------------------------------

    @schedule.command(name="list", description="Upcoming and recent lesson posts, with status.")
    @teacher_only()
    async def schedule_list(self, interaction: discord.Interaction[SeminarBot]) -> None:
        """Show the course's upcoming posts and its recent posts with their status."""
        key, course = course_of(interaction)
        now = utcnow()
        repo = self.repository
        upcoming = []
        for occurrence in calendar.upcoming(key, course, now, limit=UPCOMING_SHOWN):
            recorded = await repo.posts.find(*occurrence.key)
            upcoming.append((occurrence, recorded.status if recorded else None))
        recent = [self._post_line(course, p)
                  for p in await repo.posts.recent(key, RECENT_SHOWN) if p.scheduled_at <= now]
        titles = {slug: lesson.title for slug, lesson in self.bot.lessons.items()}
        text = posting_rules.schedule_overview(course.name, upcoming, recent, titles)
        verdict = await verdict_of(repo, key)
        if upcoming:
            text += "\n" + posting_rules.verdict_line(verdict)
        pieces = render.chunk_text(text, render.MESSAGE_CONTENT_LIMIT)
        await respond(interaction, [render.MessageSpec(content=p) for p in pieces],
                      ephemeral=True)

    def _post_line(self, course: CourseSettings, post: Post) -> posting_rules.PostLine:
        return posting_rules.PostLine(post.lesson, post.scheduled_at, post.status, post.reason,
                                      post.late, self._link(course, post))

    def _link(self, course: CourseSettings, post: Post) -> str | None:
        if post.channel_id is None or post.message_id is None:
            return None
        # In a forum the lesson is its own post: the message lives in the thread of its id.
        forum = isinstance(self.bot.get_channel(post.channel_id), discord.ForumChannel)
        channel_id = post.message_id if forum else post.channel_id
        return posting_rules.jump_url(course.guild_id, channel_id, post.message_id)

    @schedule.command(name="post", description="Post a lesson in the class channel now.")
    @app_commands.describe(lesson="The lesson to post now (pick one as you type).")
    @teacher_only()
    async def schedule_post(self, interaction: discord.Interaction[SeminarBot],
                            lesson: LessonArg) -> None:
        """Post a lesson now, with its threads, and answer with a link to it."""
        key, course = course_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        repo = self.repository
        claimant = self.poster.claimant
        now = utcnow()
        later = [o for o in calendar.for_lesson(key, course, lesson.slug) if o.post_at > now]
        due_at = next((o.due_at for o in later if o.due_at is not None and o.due_at > now), None)
        failed = await self._half_sent(key, course, lesson.slug, now)
        if failed is not None:
            # The last attempt stopped half way (a thread refused, say): finish it rather
            # than show the class the lesson a second time.
            won = await repo.posts.reclaim_failed(failed.id, claimant, now=now)
            post = await repo.posts.get(failed.id) if won else None
        else:
            post_id = await repo.posts.claim(key, lesson.slug, now, due_at, claimant, now=now)
            post = await repo.posts.get(post_id) if post_id is not None else None
        if post is None:
            await interaction.followup.send("That lesson is being posted right now.",
                                            ephemeral=True)
            return
        await repo.audit.add(key, interaction.user.id, "schedule_post", lesson.slug)
        result = await self.poster.complete(post, resuming=failed is not None)
        self.wake()  # a new due time may need a lock timer
        if result.post is None:
            text = posting_rules.failed_sentence(lesson.title, result.reason or "")
        else:
            link = self._link(course, result.post)
            text = f"Posted “{lesson.title}”" + (f": {link}" if link else ".")
            if later:
                text += (f"\nIt is also scheduled for {render.discord_timestamp(later[0].post_at)}"
                         f"; `/schedule skip {lesson.slug}` skips that post.")
        text = render.truncate(text, render.MESSAGE_CONTENT_LIMIT)
        try:
            await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException as exc:
            # Posted or not, the teacher must learn which (or they may post it again): the
            # course's teachers' channel, or a DM, says it instead.
            log.warning("Could not answer /schedule post (%s %s: %s); telling the teachers "
                        "of %s instead.", exc.status, exc.code, exc.text, key)
            await notify_teachers(self.bot, key, text)

    async def _half_sent(self, key: str, course: CourseSettings, slug: str,
                         now: dt.datetime) -> Post | None:
        """The lesson's latest post if it failed after its lesson message went out, recently.

        Older than the catch-up window, a fresh post serves the class better.
        """
        tried: tuple[PostStatus, ...] = ("claimed", "posted", "failed")
        latest = await self.repository.posts.matching(key, lesson=slug, statuses=tried, limit=1,
                                             newest_first=True)
        window = dt.timedelta(hours=course.catch_up.max_late_hours)
        if (latest and latest[0].status == "failed" and latest[0].message_id is not None
                and now - latest[0].scheduled_at < window):
            return latest[0]
        return None

    @schedule.command(name="skip", description="Skip a lesson's next scheduled post.")
    @app_commands.describe(lesson="The lesson whose next post to skip (pick one as you type).")
    @teacher_only()
    async def schedule_skip(self, interaction: discord.Interaction[SeminarBot],
                            lesson: LessonArg) -> None:
        """Mark a lesson's next scheduled post as skipped, so it is not posted."""
        key, course = course_of(interaction)
        repo = self.repository
        now = utcnow()
        later = [o for o in calendar.for_lesson(key, course, lesson.slug) if o.post_at > now]
        if not later:
            raise UserFacingError(f"“{lesson.title}” has no upcoming post in the calendar, so "
                                  "there is nothing to skip.")
        # Answer Discord before writing: a busy database must not outlast its 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        for occurrence in later:
            if await repo.posts.find(*occurrence.key) is not None:
                continue  # skipped already: the next one is meant
            reason = f"skipped by {interaction.user.display_name} with /schedule skip"
            post_id = await repo.posts.skip_occurrence(key, lesson.slug, occurrence.post_at,
                                                 occurrence.due_at, f"user:{interaction.user.id}",
                                                 reason)
            if post_id is None:
                continue
            await repo.audit.add(key, interaction.user.id, "schedule_skip",
                             f"{lesson.slug} at {occurrence.post_at.isoformat()}")
            self.wake()
            when = render.discord_timestamp(occurrence.post_at)
            text = (f"Skipped “{lesson.title}” on {when}: it will not be posted then. "
                    f"`/schedule post {lesson.slug}` posts it now instead.")
            await respond(interaction, [render.MessageSpec(content=text)], ephemeral=True)
            return
        raise UserFacingError(f"Every upcoming post of “{lesson.title}” is already skipped.")
