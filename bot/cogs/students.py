"""``/mystats``: a student's own participation numbers, shown only to them.

Thin: :mod:`bot.gradebook` asks the database for the caller's numbers only (never another
student's), :mod:`bot.core.reports` writes them as one message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import gradebook
from bot.client.interactions import course_of
from bot.core import reports

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot


class StudentsCog(commands.Cog):
    """Commands a student uses about themselves."""

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot

    @app_commands.command(name="mystats", description="Your own participation in this course.")
    @app_commands.guild_only()
    async def mystats(self, interaction: discord.Interaction[SeminarBot]) -> None:
        """Show the caller their replies, words and deadlines, per lesson, privately."""
        key, course = course_of(interaction)
        repo = self.bot.repository
        await interaction.response.defer(ephemeral=True, thinking=True)
        user = interaction.user
        stats = await gradebook.student_stats(repo, key, course, user.id, user.display_name,
                                              now=discord.utils.utcnow())
        titles = {slug: lesson.title for slug, lesson in self.bot.lessons.items()}
        await interaction.followup.send(reports.stats_text(stats, course.name, titles),
                                        ephemeral=True)


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(StudentsCog(bot))
