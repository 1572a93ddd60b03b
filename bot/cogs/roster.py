"""``/link`` for students and ``/roster`` for teachers: each Discord member to their student of
the course's roster (imported with ``seminar roster import``), so that exports reach the LMS.

Thin: the matching is :func:`bot.core.roster.matching`, the texts :mod:`bot.core.roster`, the
links :class:`storage.roster.RosterStore`. A student never sees another student's roster data:
``/link`` answers the same sentence whether the id is unknown or someone else's, and those
cases go to the teachers, who decide (``/roster link``). Every link is in the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.client.errors import UserFacingError
from bot.client.interactions import (
    course_of,
    is_teacher,
    members_of,
    notify_teachers,
    roster_of,
    teacher_only,
)
from bot.cogs.teacher import send_pages
from bot.core import render
from bot.core import roster as rosters

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

NOT_LINKED = ("I could not link you with “{typed}”. Your teacher has been asked to check it "
              "and can link you by hand; nothing else is needed from you.")
AUTOCOMPLETE_LIMIT = 25


class RosterCog(commands.Cog):
    """Students link themselves to the roster; teachers see and fix the links."""

    roster = app_commands.Group(
        name="roster", description="Your class roster and who is linked to it (teachers).",
        guild_only=True, default_permissions=discord.Permissions(manage_guild=True))

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot

    # --- /link --------------------------------------------------------------------------------

    @app_commands.command(
        name="link", description="Link your Discord account to your student record (once).")
    @app_commands.describe(
        student_id="The student id, login or school e-mail you use in the school's LMS.")
    @app_commands.guild_only()
    async def link(self, interaction: discord.Interaction[SeminarBot],
                   student_id: app_commands.Range[str, 1, rosters.MAX_TYPED_ID]) -> None:
        """Find the caller on the roster by what they typed, and link them if nobody else is."""
        key, course = course_of(interaction)
        user = interaction.user
        repo = self.bot.repository
        typed = render.escape_for_discord(student_id, max_length=40)
        await interaction.response.defer(ephemeral=True, thinking=True)
        mine = await repo.roster.of_member(key, user.id)
        if mine is not None:
            await interaction.followup.send(
                f"You are already linked to your student record in "
                f"{render.escape_for_discord(course.name, max_length=100)}. If it is not "
                "you, ask your teacher to change it.", ephemeral=True)
            return
        present = await repo.roster.of_course(key, present_only=True)
        if not present:
            await interaction.followup.send(
                "Your teacher has not imported the class roster yet, so there is nothing to "
                "link you to: try again once they have.", ephemeral=True)
            return
        found = rosters.matching(present, student_id)
        outcome = "not on the roster" if not found else "matches several students"
        if len(found) == 1:
            claimed = await repo.roster.claim(key, found[0].key, user.id)
            if claimed == "linked":
                await repo.audit.add(key, user.id, "roster link", f"{user.id} -> {found[0].key}")
                await interaction.followup.send(
                    f"Linked: your participation in "
                    f"{render.escape_for_discord(course.name, max_length=100)} now goes to the "
                    f"school's gradebook under “{typed}”. Your teacher sees the link.",
                    ephemeral=True)
                return
            outcome = {"taken": "already linked to another member",
                       "already": "asked by a member linked to another student",
                       "gone": "not on the roster"}[claimed]
        await repo.audit.add(key, user.id, "link request", f"{user.id}: {outcome}")
        await notify_teachers(
            self.bot, key,
            f"🔗 {user.mention} (`{user.id}`) tried `/link` with “{typed}”: {outcome}. "
            "Link them by hand with `/roster link` if they are your student.")
        await interaction.followup.send(NOT_LINKED.format(typed=typed), ephemeral=True)

    # --- /roster ------------------------------------------------------------------------------

    @roster.command(name="show", description="Unlinked members and roster students.")
    @teacher_only()
    async def show(self, interaction: discord.Interaction[SeminarBot]) -> None:
        """Who is linked, which members are not, and which roster students have no member."""
        key, course = course_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        records = await self.bot.repository.roster.of_course(key)
        members = roster_of(await members_of(interaction.guild), course) or {}
        await send_pages(interaction, rosters.overview_pages(course.name, records, members))

    @roster.command(name="link", description="Link a member to a student of the roster.")
    @app_commands.describe(member="The Discord member.",
                           student="The roster student (pick one as you type).")
    @teacher_only()
    async def link_by_hand(self, interaction: discord.Interaction[SeminarBot],
                           member: discord.User, student: str) -> None:
        """Link a member to a roster student, moving any link either had; audited."""
        key, _course = course_of(interaction)
        repo = self.bot.repository
        records = {r.key: r for r in await repo.roster.of_course(key)}
        record = records.get(student)
        if record is None:
            typed = render.escape_for_discord(student, max_length=40)
            raise UserFacingError(f"No student “{typed}” on this course's roster: pick one from "
                                  "the list as you type (import the roster first with "
                                  "`seminar roster import`).")
        previous = record.user_id
        await repo.roster.link(key, record.key, member.id)
        await repo.audit.add(key, interaction.user.id, "roster link",
                             f"{member.id} -> {record.key}"
                             + (f" (was {previous})" if previous not in (None, member.id) else ""))
        moved = (f" They were linked to <@{previous}> before; that member is unlinked now."
                 if previous not in (None, member.id) else "")
        await interaction.response.send_message(
            f"Linked {member.mention} to **{render.escape_for_discord(record.name)}** "
            f"(`{render.escape_for_discord(record.key, max_length=60)}`).{moved} This was "
            "written to the audit log.", ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none())

    @link_by_hand.autocomplete("student")
    async def _student_choices(self, interaction: discord.Interaction[SeminarBot],
                               current: str) -> list[app_commands.Choice[str]]:
        """Roster students whose name or id contains what is typed: teachers only (discord.py
        runs no command check before an autocomplete, and a roster is school data)."""
        key, course = course_of(interaction)
        member = interaction.user
        if not isinstance(member, discord.Member) or not is_teacher(member, course):
            return []
        records = await self.bot.repository.roster.of_course(key, present_only=True)
        return [app_commands.Choice(name=render.truncate(label, 100), value=record.key)
                for record, label in rosters.choices(records, current)[:AUTOCOMPLETE_LIMIT]]

    @roster.command(name="unlink", description="Unlink a member from the roster.")
    @app_commands.describe(member="The Discord member to unlink.")
    @teacher_only()
    async def unlink(self, interaction: discord.Interaction[SeminarBot],
                     member: discord.User) -> None:
        """Remove a member's link (they may /link again); audited."""
        key, _course = course_of(interaction)
        repo = self.bot.repository
        was = await repo.roster.unlink_member(key, member.id)
        if was is None:
            raise UserFacingError(f"{render.escape_for_discord(member.display_name)} is not "
                                  "linked to this course's roster.")
        await repo.audit.add(key, interaction.user.id, "roster unlink", f"{member.id} -/- {was}")
        await interaction.response.send_message(
            f"Unlinked {member.mention} from `{render.escape_for_discord(was, max_length=60)}`;"
            " they can `/link` again. This was written to the audit log.", ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(RosterCog(bot))
