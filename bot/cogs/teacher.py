"""``/participation report|export``, ``/extend``, ``/forget``, and the daily retention purge.

Thin: the numbers come from :mod:`bot.gradebook` (SQL) and are graded and drawn by
:mod:`bot.core.reports`. Every answer is ephemeral: a report never shows in the class channel.
``/participation`` is a group (``report`` and ``export``) because Discord does not let a
command have both options and subcommands.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import gradebook, privacy
from bot.client.errors import APOLOGY, UserFacingError, send_ephemeral
from bot.client.interactions import (
    LessonArg,
    course_of,
    lesson_title,
    members_of,
    roster_of,
    teacher_only,
    usernames_of,
)
from bot.core import charts, lms, render, reports
from bot.core.calendar import parse_course_time
from bot.core.config import CourseSettings

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

PAGES_TIMEOUT = 600.0  # seconds the Previous/Next buttons keep working
CONFIRM_TIMEOUT = 120.0
# How long a button waits for the database before acknowledging the click first (Discord
# wants an answer within 3 s).
ANSWER_WITHIN = 2.0
RETENTION_EVERY = dt.timedelta(days=1)
RETENTION_RETRY = dt.timedelta(hours=1)
RETENTION_JOB = "retention"
NOT_YOURS = "These buttons belong to the teacher who asked for this; run the command yourself."


class OwnedView(discord.ui.View):
    """Buttons only the member who ran the command may press; failures become a sentence."""

    def __init__(self, owner_id: int, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Let the owner through; tell anyone else the buttons are not theirs."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception,
                       item: discord.ui.Item[Any], /) -> None:
        """Log a failed button with context; the teacher gets the usual short apology."""
        log.error("Button %s of %s failed (user %s)", getattr(item, "custom_id", "?"),
                  type(self).__name__, interaction.user.id, exc_info=error)
        await send_ephemeral(interaction, APOLOGY)


class PagesView(OwnedView):
    """Previous/Next buttons over report pages, for the teacher who asked only."""

    def __init__(self, owner_id: int, pages: list[str], *, timeout: float = PAGES_TIMEOUT) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.pages = pages
        self.index = 0
        self.message: discord.WebhookMessage | None = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def _show(self, interaction: discord.Interaction[Any], step: int) -> None:
        self.index = max(0, min(len(self.pages) - 1, self.index + step))
        self._update_buttons()
        await interaction.response.edit_message(content=self.pages[self.index], view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary,
                       custom_id="seminar:pages:previous")
    async def previous(self, interaction: discord.Interaction[Any],
                       _button: discord.ui.Button[PagesView]) -> None:
        """Show the page before."""
        await self._show(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary,
                       custom_id="seminar:pages:next")
    async def next(self, interaction: discord.Interaction[Any],
                   _button: discord.ui.Button[PagesView]) -> None:
        """Show the page after."""
        await self._show(interaction, +1)

    async def on_timeout(self) -> None:
        """Grey the buttons out, so a stale report does not look clickable."""
        self.previous.disabled = self.next.disabled = True
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)


async def send_pages(interaction: discord.Interaction[SeminarBot], pages: list[str],
                     file: discord.File | None = None) -> None:
    """The first page (with the file, if any) and Previous/Next buttons when needed."""
    kwargs: dict[str, Any] = {"content": pages[0], "ephemeral": True, "wait": True}
    if file is not None:
        kwargs["file"] = file
    view = PagesView(interaction.user.id, pages) if len(pages) > 1 else None
    if view is not None:
        kwargs["view"] = view
    message = await interaction.followup.send(**kwargs)
    if view is not None:
        view.message = message


class ForgetView(OwnedView):
    """Delete / Cancel for ``/forget``: only the teacher who asked can press them."""

    def __init__(self, cog: TeacherCog, owner_id: int, course_key: str,
                 student: discord.abc.User) -> None:
        super().__init__(owner_id, timeout=CONFIRM_TIMEOUT)
        self.cog = cog
        self.course_key = course_key
        self.student = student
        self.asked: discord.Interaction[Any] | None = None

    @discord.ui.button(label="Delete their records", style=discord.ButtonStyle.danger,
                       custom_id="seminar:forget:confirm")
    async def confirm(self, interaction: discord.Interaction[Any],
                      _button: discord.ui.Button[ForgetView]) -> None:
        """Delete the student's records, log it, and say what was deleted."""
        self.stop()
        forgetting = asyncio.ensure_future(
            self.cog.forget(self.course_key, self.student.id, interaction.user.id))
        try:
            deleted = await asyncio.wait_for(asyncio.shield(forgetting), ANSWER_WITHIN)
        except TimeoutError:
            # A busy database: acknowledge the click before Discord's 3 s run out, and
            # show the outcome when the deletion is done.
            await interaction.response.defer()
            deleted = await forgetting
        name = render.escape_for_discord(self.student.display_name)
        content = (f"Deleted the records of **{name}** (`{self.student.id}`): "
                   f"{deleted} repl{'y' if deleted == 1 else 'ies'}, their reminder marks and "
                   "settings. This was written to the audit log.")
        if interaction.response.is_done():
            await interaction.edit_original_response(content=content, view=None)
        else:
            await interaction.response.edit_message(content=content, view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary,
                       custom_id="seminar:forget:cancel")
    async def cancel(self, interaction: discord.Interaction[Any],
                     _button: discord.ui.Button[ForgetView]) -> None:
        """Leave everything as it is."""
        self.stop()
        await interaction.response.edit_message(content="Cancelled: nothing was deleted.",
                                                view=None)

    async def on_timeout(self) -> None:
        """Nothing is deleted without an answer; say so and remove the buttons."""
        if self.asked is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.asked.edit_original_response(
                    content="No answer within two minutes: nothing was deleted.", view=None)


class TeacherCog(commands.Cog):
    """Participation reports, the gradebook export, forgetting a student, and retention."""

    participation = app_commands.Group(
        name="participation",
        description="See who took part in the discussions (teachers).",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        self.last_purge: dt.datetime | None = None  # when the retention purge last ran

    async def cog_load(self) -> None:
        """Register the daily retention purge (it first runs once the bot is ready)."""
        self.bot.timers.add(RETENTION_JOB, self._purge_job)

    async def cog_unload(self) -> None:
        """Stop the retention purge."""
        self.bot.timers.remove(RETENTION_JOB)

    # --- /participation report ---------------------------------------------------------------

    @participation.command(name="report", description="Replies, words and deadlines per student.")
    @app_commands.describe(
        lesson="Only this lesson (pick one as you type); leave it out for the whole course.",
        student="Only this student, lesson by lesson.",
        chart="Attach a bar chart of the replies.",
    )
    @teacher_only()
    async def report(
        self,
        interaction: discord.Interaction[SeminarBot],
        lesson: LessonArg | None = None,
        student: discord.User | None = None,
        chart: bool = False,
    ) -> None:
        """Show the course's (or a lesson's, or a student's) participation, paged."""
        key, course = course_of(interaction)
        slug = lesson.slug if lesson is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        repo = self.bot.repository
        now = discord.utils.utcnow()
        title = lesson_title(self.bot, slug) if slug else None
        chart_data: dict[str, int] | list[reports.StudentSummary]
        if student is not None:
            pages, chart_data = await self._student_pages(key, course, student, slug, now)
        else:
            summaries = await gradebook.course_report(
                repo, key, course, roster_of(await members_of(interaction.guild), course),
                lesson=slug, now=now, explained=False)
            page_title = reports.report_title(course, title, summaries)
            answered = await repo.reports.answered(key, lesson=slug)
            footer = reports.left_alone_line(reports.left_alone(summaries, answered))
            pages = reports.table_pages(summaries, title=page_title, footer=footer)
            chart_data = (summaries if slug else
                          await gradebook.lesson_chart_counts(repo, key))
        file = None
        if chart:
            heading = reports.chart_title(course, title, student.display_name if student else None)
            # matplotlib takes a moment: draw off the event loop so the bot stays responsive.
            missing: list[str] = []
            png = await asyncio.to_thread(charts.chart_png, chart_data, heading,
                                          missing=missing)
            if missing:
                log.warning("The chart drew some characters as boxes (%s): install the fonts "
                            "the README lists under Charts.", "; ".join(missing[:5]))
            file = discord.File(io.BytesIO(png), filename="participation.png")
        await send_pages(interaction, pages, file)

    async def _student_pages(
        self, key: str, course: CourseSettings, student: discord.User, slug: str | None,
        now: dt.datetime,
    ) -> tuple[list[str], dict[str, int] | list[reports.StudentSummary]]:
        """One student's report: per lesson over the course, or their line for one lesson."""
        repo = self.bot.repository
        if slug is not None:
            summaries = await gradebook.course_report(
                repo, key, course, {student.id: student.display_name}, lesson=slug,
                student=student.id, now=now)
            title = reports.report_title(course, lesson_title(self.bot, slug), summaries)
            return reports.table_pages(summaries, title=title), summaries
        stats = await gradebook.student_stats(repo, key, course, student.id,
                                              student.display_name, now=now)
        titles = {slug_: lesson.title for slug_, lesson in self.bot.lessons.items()}
        text = reports.stats_text(stats, course.name, titles, for_teacher=True)
        counts = {line.lesson: line.replies for line in stats.lessons}
        return [text], counts

    # --- /participation export ---------------------------------------------------------------

    @participation.command(name="export",
                           description="The gradebook: CSV, Excel, or a file your LMS imports.")
    @app_commands.describe(
        lesson="Only this lesson (pick one as you type); leave it out for the whole course.",
        format="csv, xlsx, or the import file of Canvas, Moodle or OneRoster (needs the roster)",
        items="Canvas, Moodle, OneRoster: one grade item for the course total, or one per "
              "lesson",
        match_by="Moodle: the user field Moodle finds students by")
    @app_commands.choices(format=[app_commands.Choice(name=what[:100], value=name)
                                  for name, what in lms.FORMATS.items()])
    @teacher_only()
    async def export(
        self, interaction: discord.Interaction[SeminarBot], lesson: LessonArg | None = None,
        format: str = "csv", items: lms.Items = "total", match_by: lms.MoodleKey = "email",
    ) -> None:
        """Attach the course's (or a lesson's) gradebook in the format asked."""
        key, course = course_of(interaction)
        slug = lesson.slug if lesson is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        repo = self.bot.repository
        titles = {slug_: lesson.title for slug_, lesson in self.bot.lessons.items()}
        members = roster_of(await members_of(interaction.guild), course)
        usernames = usernames_of(interaction.guild)
        try:
            export = await gradebook.export(
                repo, key, course, members, usernames, lesson=slug,
                now=discord.utils.utcnow(), titles=titles, file_format=format, items=items,
                moodle_key=match_by)
        except lms.ExportProblem as exc:
            raise UserFacingError(f"{exc}.") from None
        kind = format if format in lms.LMS_FORMATS else "participation"
        stem = render.truncate(f"{key}-{slug or 'course'}-{kind}", 80)
        files = [discord.File(io.BytesIO(export.data), filename=f"{stem}.{export.extension}")]
        if export.left_out is not None:
            files.append(discord.File(io.BytesIO(export.left_out),
                                      filename=f"{stem}-not-on-roster.csv"))
        what = f"“{lesson_title(self.bot, slug)}”" if slug else "the whole course"
        # Logged before it is sent: an export that reached the teacher is always in the log.
        await repo.audit.add(key, interaction.user.id, "export",
                             f"participation {format.upper()} of {slug or 'the course'}: "
                             f"{export.rows} rows"
                             + (f", {export.left_out_rows} left out" if export.left_out else ""))
        await interaction.followup.send(
            reports.export_message(render.escape_for_discord(what, max_length=120), format,
                                   export.rows, export.left_out_rows, export.unlinked),
            files=files, ephemeral=True)

    # --- /extend ------------------------------------------------------------------------------

    @app_commands.command(name="extend",
                          description="Give one student a later due time for a lesson (teachers).")
    @app_commands.describe(
        student="The student who gets more time.",
        lesson="The lesson (pick one as you type).",
        until="Their new due time, in the course's time zone, e.g. 2026-12-10 23:59.",
    )
    @app_commands.guild_only()
    @teacher_only()
    async def extend(self, interaction: discord.Interaction[SeminarBot], student: discord.User,
                     lesson: LessonArg, until: str) -> None:
        """Move one student's due time for one lesson; their late marks and score follow."""
        key, course = course_of(interaction)
        try:
            due = parse_course_time(until, course.zone)
        except ValueError as exc:
            typed = render.escape_for_discord(until, max_length=40)
            raise UserFacingError(f"“{typed}” {exc}.") from None
        # A time already past is allowed: excusing a late reply after the fact is an
        # extension too (the late marks and the score follow it at once).
        now = discord.utils.utcnow()
        await interaction.response.defer(ephemeral=True, thinking=True)
        repo = self.bot.repository
        remarked = await repo.extensions.grant(key, lesson.slug, student.id, due,
                                               granted_by=interaction.user.id, now=now)
        await repo.audit.add(key, interaction.user.id, "extend",
                             f"{student.id} {lesson.slug} until {due.isoformat()}")
        self.bot.dispatch("seminar_extension", key, lesson.slug, student.id, due)
        name = render.escape_for_discord(student.display_name)
        title = render.escape_for_discord(lesson.title, max_length=100)
        changed = (f" {remarked} of their replies changed between late and on time."
                   if remarked else "")
        await interaction.followup.send(
            f"**{name}** now has until {render.discord_timestamp(due, 'F')} for “{title}”: "
            f"their late marks, score and reminders follow it.{changed} This was written to "
            "the audit log; they see it in /mystats.", ephemeral=True)

    # --- /forget -----------------------------------------------------------------------------

    @app_commands.command(name="forget", description="Delete one student's records (teachers).")
    @app_commands.describe(student="The student whose participation records to delete.")
    @app_commands.guild_only()
    @teacher_only()
    async def forget_command(
        self, interaction: discord.Interaction[SeminarBot], student: discord.User
    ) -> None:
        """Ask the teacher to confirm, then delete the student's records in this course."""
        key, course = course_of(interaction)
        view = ForgetView(self, interaction.user.id, key, student)
        name = render.escape_for_discord(student.display_name)
        await interaction.response.send_message(
            f"Delete every record of **{name}** (`{student.id}`) in "
            f"{render.escape_for_discord(course.name, max_length=100)}? Their replies are "
            "erased from the reports and exports, with their reminder settings. Their messages "
            "in Discord stay. This cannot be undone.",
            view=view, ephemeral=True)
        view.asked = interaction

    async def forget(self, course_key: str, user_id: int, actor_id: int) -> int:
        """Delete a student's records and write it to the audit log; replies deleted."""
        return await privacy.forget_student(self.bot.repository, course_key, user_id, actor_id)

    # --- retention ---------------------------------------------------------------------------

    async def _purge_job(self, now: dt.datetime) -> dt.datetime:
        """Purge now, then again a day later (purging is idempotent)."""
        try:
            await privacy.purge_expired(self.bot.repository, self.bot.settings.courses, now)
        except Exception:
            log.exception("The daily retention purge failed; trying again in %s.",
                          RETENTION_RETRY)
            return now + RETENTION_RETRY
        self.last_purge = now
        return now + RETENTION_EVERY


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(TeacherCog(bot))
