"""What every cog needs: the course of an interaction, lesson autocomplete, the teacher check.

One place for each rule: which channel belongs to which course, who counts as a teacher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

from bot.client.errors import NotInCourse, UnknownLesson
from bot.core import render
from bot.core.config import CourseSettings
from bot.core.lessons import Lesson
from bot.core.lookup import close_matches, find_lesson, lesson_choices

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

T = TypeVar("T")
log = logging.getLogger(__name__)

LESSON_HELP = "The lesson's name (pick one as you type); leave it out for the current lesson."


def course_channel_id(interaction: discord.Interaction[SeminarBot]) -> int | None:
    """The channel that decides the course: a thread's parent, else the channel itself."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return interaction.channel_id


def course_of(interaction: discord.Interaction[SeminarBot]) -> tuple[str, CourseSettings]:
    """The course whose channel (or a thread of it) the command is used in.

    Raises :class:`NotInCourse` naming this server's course channels.
    """
    settings = interaction.client.settings
    channel_id = course_channel_id(interaction)
    found = settings.course_for_channel(channel_id) if channel_id is not None else None
    if found is not None and found[1].guild_id == interaction.guild_id:
        return found
    here = [c for c in settings.courses.values() if c.guild_id == interaction.guild_id]
    if not here:
        raise NotInCourse("No course uses this server yet, so I have no lessons to show here.")
    channels = ", ".join(f"<#{c.channel_id}> ({c.name})" for c in here)
    raise NotInCourse(
        f"This channel is not part of a course. Ask me in your class channel: {channels}."
    )


def unknown_lesson(lessons: dict[str, Lesson], name: str) -> UnknownLesson:
    """The error for a lesson name that matches nothing, suggesting close names."""
    # On one line, without bidi overrides or markdown: the echo cannot garble the sentence.
    shown = render.escape_for_discord(name, max_length=100)
    if not shown:
        return UnknownLesson("The lesson name was blank. Start typing and pick a lesson from "
                             "the list.")
    matches = close_matches(lessons, name)
    if not matches:
        return UnknownLesson(
            f"There is no lesson called “{shown}”. Start typing and pick a lesson from the list."
        )
    options = "; ".join(f"“{render.escape_for_discord(m.title, max_length=100)}” (`{m.slug}`)"
                        for m in matches)
    return UnknownLesson(f"There is no lesson called “{shown}”. Did you mean: {options}?")


async def members_of(guild: discord.Guild | None) -> discord.Guild | None:
    """The server with its member list complete: asked from Discord the first time (the bot
    does not ask for every server's members at start-up), then kept up to date by events."""
    if guild is not None and not guild.chunked:
        await guild.chunk()
    return guild


def roster_of(guild: discord.Guild | None, course: CourseSettings) -> dict[int, str] | None:
    """The course's students (members with its student role), id -> display name.

    ``None`` when the course has no student role (or the role is gone): nobody is known to be
    missing then. Read from the member cache, which the members intent keeps complete.
    """
    if guild is None or course.student_role_id is None:
        return None
    role = guild.get_role(course.student_role_id)
    if role is None:
        return None
    return {m.id: m.display_name for m in role.members if not m.bot}


def usernames_of(guild: discord.Guild | None) -> dict[int, str]:
    """Each member's Discord username (unlike a nickname, it names the account)."""
    return {m.id: m.name for m in guild.members} if guild is not None else {}


def lesson_title(bot: SeminarBot, slug: str) -> str:
    """A lesson's title, or its slug when the lesson file is gone."""
    lesson = bot.lessons.get(slug)
    return lesson.title if lesson is not None else slug


class LessonTransformer(app_commands.Transformer["SeminarBot"]):
    """A lesson argument: autocompleted from the lessons, given to the command as a Lesson.

    A name that matches no lesson gets the "no lesson called ..." sentence, with close
    names; in a channel outside every course, the sentence naming the course channels.
    """

    async def transform(self, interaction: discord.Interaction[SeminarBot],
                        value: str, /) -> Lesson:
        """The lesson the user picked (or typed)."""
        course_of(interaction)  # outside a course, say that first
        lessons = interaction.client.lessons
        found = find_lesson(lessons, value)
        if found is None:
            raise unknown_lesson(lessons, value)
        return found

    async def autocomplete(  # type: ignore[override]  # discord.py types the return loosely
        self, interaction: discord.Interaction[SeminarBot], value: str, /
    ) -> list[app_commands.Choice[str]]:
        """Lessons whose title or name matches what the user has typed so far."""
        return [app_commands.Choice(name=name, value=slug)
                for name, slug in lesson_choices(interaction.client.lessons, value)]


#: The type of a lesson argument: ``lesson: LessonArg`` (or ``LessonArg | None = None``).
LessonArg = app_commands.Transform[Lesson, LessonTransformer]


class NotTeacher(app_commands.CheckFailure):
    """A member without the course's teacher role (or Manage Server) used a teacher command."""

    def __str__(self) -> str:
        return "Only the course's teachers can use this command."


def is_teacher(member: discord.Member, course: CourseSettings) -> bool:
    """Whether ``member`` teaches ``course``: its teacher role, or Manage Server."""
    if member.guild_permissions.manage_guild:
        return True
    return course.teacher_role_id is not None and any(
        role.id == course.teacher_role_id for role in member.roles
    )


def teacher_only() -> Callable[[T], T]:
    """A check for teacher commands, which also hides them from members without Manage Server.

    The default permissions are only a first filter: a server admin may change them, so the
    check itself looks at the course's teacher role every time.
    """

    async def predicate(interaction: discord.Interaction[SeminarBot]) -> bool:
        _key, course = course_of(interaction)
        member = interaction.user
        if not isinstance(member, discord.Member) or not is_teacher(member, course):
            raise NotTeacher()
        return True

    def decorator(func: T) -> T:
        checked = app_commands.check(predicate)(func)
        return app_commands.default_permissions(manage_guild=True)(checked)

    return decorator


async def _teachers_to_dm(bot: SeminarBot, course: CourseSettings) -> list[discord.Member]:
    """The course's teachers to DM: members with its teacher role, else the server's owner."""
    guild = await members_of(bot.get_guild(course.guild_id))
    if guild is None:
        return []
    role = guild.get_role(course.teacher_role_id) if course.teacher_role_id else None
    members = [m for m in role.members if not m.bot] if role else []
    if not members and guild.owner_id is not None:
        owner = guild.get_member(guild.owner_id) or await guild.fetch_member(guild.owner_id)
        members = [owner]
    return members


async def _send_lines(target: discord.abc.Messageable, text: str) -> None:
    for piece in render.chunk_text(text, render.MESSAGE_CONTENT_LIMIT):
        await target.send(piece, allowed_mentions=discord.AllowedMentions.none())


async def notify_teachers(bot: SeminarBot, course_key: str, text: str) -> bool:
    """Tell a course's teachers ``text``; True if it reached someone. Never raises.

    The course's teacher channel if it has one; otherwise (or if that channel refuses) a
    DM to each member with the teacher role, or to the server's owner when no role is set.
    Failures are logged: telling the teacher must never stop what the bot was doing.
    """
    course = bot.settings.courses.get(course_key)
    if course is None or not text.strip():
        return False
    if course.teacher_channel_id is not None:
        try:
            channel = bot.get_channel(course.teacher_channel_id)
            if channel is None:
                channel = await bot.fetch_channel(course.teacher_channel_id)
            if isinstance(channel, discord.abc.Messageable):
                await _send_lines(channel, text)
                return True
            log.warning("Course %s: teacher channel %s cannot hold messages; DMing teachers.",
                        course_key, course.teacher_channel_id)
        except Exception as exc:
            log.warning("Course %s: could not write in teacher channel %s (%r); DMing teachers.",
                        course_key, course.teacher_channel_id, exc)
    told = False
    try:
        teachers = await _teachers_to_dm(bot, course)
    except Exception as exc:
        log.warning("Course %s: could not find the teachers to tell (%r): %s",
                    course_key, exc, text)
        return False
    for teacher in teachers:
        try:
            await _send_lines(teacher, text)
            told = True
        except Exception as exc:
            log.warning("Course %s: could not DM teacher %s (%r).", course_key, teacher.id, exc)
    if not told:
        log.warning("Course %s: no teacher could be told: %s", course_key, text)
    return told
