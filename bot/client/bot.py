"""Seminar's discord.py bot and its sharded form: intents, cogs, the settings they share."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable, Mapping
from typing import Any

import discord
from discord.ext import commands

from bot.client.errors import SeminarTree
from bot.client.sync import sync_guilds
from bot.client.timers import DueLoop
from bot.core.config import CourseSettings, Settings
from bot.core.lessons import Lesson
from storage.repository import Repository

log = logging.getLogger(__name__)

# The cogs the bot loads, in order. Adding a cog is adding its module here.
EXTENSIONS: tuple[str, ...] = (
    "bot.cogs.lessons",
    "bot.cogs.posting",
    "bot.cogs.participation",
    "bot.cogs.teacher",
    "bot.cogs.roster",
    "bot.cogs.answers",
    "bot.cogs.students",
    "bot.cogs.reminders",
)


def _intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    intents.members = True
    return intents


class SeminarBot(commands.Bot):
    """Seminar's bot: holds the settings, lessons and storage the cogs use."""

    def __init__(
        self,
        settings: Settings,
        lessons: Mapping[str, Lesson],
        *,
        repository: Repository,
        force_sync: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=SeminarTree,
            # A district's thousand servers would take the gateway's 120 requests a minute
            # for member lists at start-up (9 minutes); each server's members are asked for
            # when first needed instead (bot.client.interactions.members_of).
            chunk_guilds_at_startup=False,
            **options,
        )
        self.settings = settings
        self.lessons: dict[str, Lesson] = dict(lessons)
        self.force_sync = force_sync
        self.repository = repository
        self.synced_guilds: list[int] = []
        #: Called with every message received (see on_message); cogs add theirs in cog_load.
        self.message_readers: list[Callable[[discord.Message], None]] = []
        self.closing = asyncio.Event()  # set when close() begins: waits end at once
        #: The one due-loop: posts, thread locks, reminders and purges register jobs here.
        self.timers = DueLoop()
        self.add_listener(self._freeze_long_lived, "on_ready")

    async def close(self) -> None:
        """Close the bot (cogs unload, the gateway and HTTP sessions close)."""
        self.closing.set()
        # discord.py may dispatch a READY it was still waiting for after closing, when its
        # loop is gone: nothing may listen for it then (cogs are unloaded by super().close).
        self.remove_listener(self._freeze_long_lived, "on_ready")
        await self.timers.close()  # a job in progress stops here; each is safe to rerun
        await super().close()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the bot starts closing meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def setup_hook(self) -> None:
        """Load the cogs, give every course guild the commands, and sync them if they changed."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.timers.start(ready=self.wait_until_ready)
        for guild_id in self.course_guild_ids():
            self.tree.copy_global_to(guild=discord.Object(guild_id))
        await sync_guilds(self, force=self.force_sync)

    async def _freeze_long_lived(self) -> None:
        """At READY: keep what start-up built (discord.py's caches, lessons, settings) out of
        the garbage collector's way.

        discord.py makes several objects a message, and every few hundred of them Python's
        collector walks older objects too, start-up's among them: during a reply stream the
        event loop spent a fifth of its time there (``benchmarks/replies.py``). Frozen,
        they are skipped. A new session's READY collects first, so that the caches of the
        session before are not kept forever.
        """
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    async def on_message(self, message: discord.Message, /) -> None:
        """Hand every message to the message readers (Seminar has only slash commands).

        discord.py runs each event listener in a task of its own: for a reply stream, a
        cog's ``on_message`` listener would double the tasks per message, the costliest step
        after discord.py's own parsing (``benchmarks/replies.py``). A reader is a plain
        function, called here in the one task discord.py starts for the bot's own listener.
        """
        for read in self.message_readers:
            read(message)

    def course_guild_ids(self) -> list[int]:
        """The guilds that hold a configured course, each once."""
        return list(dict.fromkeys(c.guild_id for c in self.settings.courses.values()))

    def serves_guild(self, guild_id: int) -> bool:
        """Whether this process receives the guild's events (always, when not sharded)."""
        return True

    def served_courses(self) -> dict[str, CourseSettings]:
        """The configured courses whose server this process's shards receive.

        Only these are posted and listened to here: a process sees neither the members nor
        the messages of a server on another process's shard, so that process does them.
        """
        return {key: course for key, course in self.settings.courses.items()
                if self.serves_guild(course.guild_id)}


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


class ShardedSeminarBot(SeminarBot, commands.AutoShardedBot):
    """Seminar's bot over several shards (``discord.shard_count`` in the config).

    With ``discord.shard_ids`` this process runs only those shards; other processes, on the
    same database, run the rest. Each process posts and records only for the courses whose
    server is on one of its shards, so every process may be given the same course list.
    """

    async def setup_hook(self) -> None:
        """Say which courses this process serves, then set up as an unsharded bot does."""
        served = self.served_courses()
        others = [key for key in self.settings.courses if key not in served]
        shards = self.shard_ids if self.shard_ids is not None else range(self.shard_count or 1)
        log.info("Running shard(s) %s of %s: posting and recording for %s%s.",
                 ", ".join(map(str, shards)), self.shard_count,
                 ", ".join(served) or "no course",
                 f" (the servers of {', '.join(others)} are on other shards)" if others else "")
        await super().setup_hook()

    def serves_guild(self, guild_id: int) -> bool:
        """Whether one of this process's shards receives the guild's events."""
        if self.shard_count is None:  # discord.py asks Discord for the count at start-up
            return True
        return self.shard_ids is None or shard_of(guild_id, self.shard_count) in self.shard_ids


def create_bot(
    settings: Settings,
    lessons: Mapping[str, Lesson],
    *,
    repository: Repository,
    force_sync: bool = False,
    **options: Any,
) -> SeminarBot:
    """The bot for ``settings``: sharded when the config sets a shard count.

    ``options`` go to discord.py's client (tests shorten ``guild_ready_timeout``).
    """
    common: dict[str, Any] = {"repository": repository, "force_sync": force_sync, **options}
    shards = settings.discord
    if shards.shard_count is not None:
        return ShardedSeminarBot(settings, lessons, shard_count=shards.shard_count,
                                 shard_ids=shards.shard_ids, **common)
    return SeminarBot(settings, lessons, **common)

