"""The online check, Discord side: read each course's server as the bot sees it, and judge it
with :mod:`bot.core.server_check`.

Works on a connected bot (its cache) and on a client logged in over REST only
(``seminar check --online``, ``seminar init``). A course whose server cannot be read is a
problem of that course only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

import discord

from bot.core.config import CourseSettings, Settings
from bot.core.lessons import Lesson
from bot.core.server_check import (
    PERMISSION_NAMES,
    AppSeen,
    ChannelKind,
    ChannelSeen,
    ServerSeen,
    Verdict,
    app_problems,
    course_problems,
    verdict_key,
)
from storage.repository import Repository

log = logging.getLogger(__name__)

KINDS: dict[discord.ChannelType, ChannelKind] = {
    discord.ChannelType.text: "text",
    discord.ChannelType.forum: "forum",
    discord.ChannelType.news: "announcement",
    discord.ChannelType.voice: "voice",
    discord.ChannelType.stage_voice: "voice",
    discord.ChannelType.category: "category",
}


def _seen(channel: discord.abc.GuildChannel, me: discord.Member) -> ChannelSeen:
    allowed = channel.permissions_for(me)
    return ChannelSeen(channel.id, channel.name, KINDS.get(channel.type, "other"),
                       frozenset(name for name in PERMISSION_NAMES if getattr(allowed, name)))


async def read_server(client: discord.Client, guild_id: int) -> ServerSeen | None:
    """A server as the bot sees it (None when it is not in it); from the cache when connected."""
    guild = client.get_guild(guild_id)
    if guild is not None and guild.me is not None:
        me = guild.me
        channels: list[discord.abc.GuildChannel] = list(guild.channels)
    else:
        try:
            guild = await client.fetch_guild(guild_id)
            channels = list(await guild.fetch_channels())
            assert client.user is not None
            me = await guild.fetch_member(client.user.id)
        except (discord.NotFound, discord.Forbidden):
            return None
    return ServerSeen(guild.id, guild.name, {c.id: _seen(c, me) for c in channels},
                      {r.id: r.name for r in guild.roles})


async def read_app(client: discord.Client) -> AppSeen:
    """The application: its id and whether its privileged intents are on."""
    info = await client.application_info()
    flags = info.flags
    return AppSeen(info.id, flags.gateway_guild_members or flags.gateway_guild_members_limited,
                   flags.gateway_message_content or flags.gateway_message_content_limited)


def uses_answer_first(course: CourseSettings, lessons: Mapping[str, Lesson]) -> bool:
    """Whether any lesson of the course's calendar is posted answer-first."""
    if course.answer_first:
        return True
    named = [e.lesson for e in course.calendar.entries]
    if course.calendar.weekly is not None:
        named += course.calendar.weekly.lessons
    return any(lessons[s].answer_first for s in named if s in lessons)


async def check_online(client: discord.Client, settings: Settings,
                       lessons: Mapping[str, Lesson],
                       courses: Mapping[str, CourseSettings] | None = None,
                       ) -> tuple[list[str], dict[str, list[str]]]:
    """The application's problems and each course's, read from Discord now."""
    general = app_problems(await read_app(client))
    by_course: dict[str, list[str]] = {}
    servers: dict[int, ServerSeen | None] = {}
    for key, course in (courses if courses is not None else settings.courses).items():
        try:
            if course.guild_id not in servers:
                servers[course.guild_id] = await read_server(client, course.guild_id)
            by_course[key] = course_problems(key, course, servers[course.guild_id],
                                             answer_first=uses_answer_first(course, lessons))
        except discord.HTTPException as exc:
            by_course[key] = [f"course {key}: Discord would not show its server ({exc.status} "
                              f"{exc.text or exc}): try again in a moment"]
    return general, by_course


async def keep_verdicts(repo: Repository, general: list[str],
                        by_course: Mapping[str, list[str]], now: dt.datetime) -> None:
    """Keep each course's verdict, for ``seminar schedule`` and ``/schedule list``."""
    for key, problems in by_course.items():
        await repo.state.set(verdict_key(key), Verdict(now, tuple(general + problems)).to_json())


async def verdict_of(repo: Repository, course_key: str) -> Verdict | None:
    """A course's last online check, if any was kept."""
    text = await repo.state.get(verdict_key(course_key))
    return Verdict.from_json(text) if text is not None else None


async def stored_verdicts(url: str, keys: list[str]) -> dict[str, Verdict | None]:
    """Each course's last online check from the database at ``url`` ({} if unreadable)."""
    from storage.engine import create_engine, create_sessionmaker

    engine = create_engine(url)
    try:
        repo = Repository(create_sessionmaker(engine))
        return {key: await verdict_of(repo, key) for key in keys}
    except Exception:  # no database yet, or an older one: nothing was checked then
        return {}
    finally:
        await engine.dispose()
