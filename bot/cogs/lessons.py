"""``/lesson``, ``/resources`` and ``/transcript``: what students ask about a lesson.

Thin: finding the lesson is :mod:`bot.core.lookup`, drawing it is :mod:`bot.core.render`.
Every answer is ephemeral, so asking never clutters the class discussion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.client.errors import NothingToShow
from bot.client.interactions import LESSON_HELP, LessonArg, course_of
from bot.client.messages import respond
from bot.core import calendar, render
from bot.core.lessons import Lesson
from bot.core.lookup import PostedLesson, current_lesson

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

class LessonsCog(commands.Cog):
    """Commands that show a lesson, its readings and its transcript."""

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot

    async def posted_lessons(self, course_key: str) -> list[PostedLesson]:
        """The course's most recently posted lesson, with when it was posted, if any."""
        post = await self.bot.repository.posts.latest(course_key)
        if post is None:
            return []
        return [PostedLesson(post.lesson, post.posted_at or post.scheduled_at)]

    async def lesson_for(
        self, interaction: discord.Interaction[SeminarBot], named: Lesson | None
    ) -> Lesson:
        """The named lesson, or the course's current one; errors say what to do instead."""
        key, course = course_of(interaction)
        if named is not None:
            return named
        lesson = current_lesson(
            self.bot.lessons,
            now=discord.utils.utcnow(),
            posted=await self.posted_lessons(key),
            scheduled=calendar.occurrences(key, course),
        )
        if lesson is None:
            raise NothingToShow("There are no lessons yet: your teacher has not added any.")
        return lesson

    @app_commands.command(name="lesson", description="Show a lesson: summary and questions.")
    @app_commands.describe(lesson=LESSON_HELP)
    @app_commands.guild_only()
    async def lesson_command(
        self, interaction: discord.Interaction[SeminarBot], lesson: LessonArg | None = None
    ) -> None:
        """Show the current or named lesson: title, date, summary and the questions."""
        found = await self.lesson_for(interaction, lesson)
        await respond(interaction, render.overview_messages(found), ephemeral=True)

    @app_commands.command(name="resources", description="List a lesson's readings with links.")
    @app_commands.describe(lesson=LESSON_HELP)
    @app_commands.guild_only()
    async def resources_command(
        self, interaction: discord.Interaction[SeminarBot], lesson: LessonArg | None = None
    ) -> None:
        """List the current or named lesson's readings, with a link button for each link."""
        found = await self.lesson_for(interaction, lesson)
        await respond(interaction, render.resources_messages(found), ephemeral=True)

    @app_commands.command(name="transcript", description="Get a lesson's transcript as a file.")
    @app_commands.describe(lesson=LESSON_HELP)
    @app_commands.guild_only()
    async def transcript_command(
        self, interaction: discord.Interaction[SeminarBot], lesson: LessonArg | None = None
    ) -> None:
        """Send the current or named lesson's transcript as a text file, privately."""
        found = await self.lesson_for(interaction, lesson)
        file = render.transcript_file(found)
        if file is None:
            raise NothingToShow(f"“{found.title}” has no transcript. Try /lesson or /resources.")
        text = render.truncate(f"The transcript of “{found.title}”.", render.MESSAGE_CONTENT_LIMIT)
        message = render.MessageSpec(content=text, files=(file,))
        await respond(interaction, [message], ephemeral=True)


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(LessonsCog(bot))
