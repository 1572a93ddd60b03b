"""The participation cog: listens to Discord's events and defers to the modules beside it.

- A message in a lesson thread (a dict lookup; anything else returns at once) becomes
  a reply for the :class:`~bot.cogs.participation.recorder.ReplyRecorder`.
- Raw edit and delete events update the reply (waiting in the buffer or recorded); a
  deleted reply is marked, not erased.
- Connection events tell :class:`~bot.cogs.participation.catchup.CatchUp` what may have
  been missed: everything at READY, what was not replayed at RESUMED.

A crash between batches loses the replies waiting in the buffer, but not for long: they are
in Discord's history after the thread's cursor, where the next backfill finds them.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import gradebook
from bot.cogs.participation.catchup import CatchUp
from bot.cogs.participation.recorder import ReplyRecorder
from bot.cogs.participation.threads import (
    LessonThread,
    LessonThreads,
    counts,
    new_reply,
    own_words,
)
from bot.core.participation_rules import Edit, count_characters
from storage.records import ThreadInfo

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)


class ParticipationCog(commands.Cog):
    """Records student replies in lesson threads: live, batched, and backfilled from history."""

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        self.recorder = ReplyRecorder(bot.repository, bot.settings.database.url,
                                      on_caught_up=self._read_left_out)
        self.threads = LessonThreads(bot.settings, self.recorder, bot.serves_guild,
                                     lambda: bot.lessons)
        self.catch_up = CatchUp(bot, self.threads, self.recorder)
        self._closing = False

    def _read_left_out(self) -> None:
        self.catch_up.request(left_out=True)

    async def cog_load(self) -> None:
        """Load the lesson threads and start the writer (catch-up waits for READY).

        The config's extensions are stored first, so that replies are marked late against
        each student's own due time from the first one.
        """
        for key, course in self.bot.served_courses().items():
            await gradebook.sync_extensions(self.bot.repository, key, course)
        await self.threads.reload_extensions()
        await self.threads.reload()
        self.recorder.start()
        self.bot.message_readers.append(self.read_message)

    @commands.Cog.listener()
    async def on_seminar_extension(self, course: str, lesson: str, student: int,
                                   due_at: dt.datetime) -> None:
        """A teacher gave a student their own due time: mark their next replies against it.

        Replies already recorded were re-marked with the extension; one still waiting in the
        buffer is written, then re-marked, so that none keeps the old mark.
        """
        self.threads.extended[(course, lesson, student)] = due_at
        await self.recorder.drain()
        await self.bot.repository.extensions.grant_remark(course, lesson, student)

    async def cog_unload(self) -> None:
        """Stop reading, then write every reply still waiting (before storage closes)."""
        self._closing = True
        self.bot.message_readers.remove(self.read_message)
        await self.catch_up.close()
        await self.recorder.close()

    @commands.Cog.listener()
    async def on_seminar_thread_opened(self, info: ThreadInfo) -> None:
        """A question thread was just opened: read it from now on (and what came before)."""
        if self._closing or self.threads.add(info) is None:
            return
        # A student may have answered between the thread's creation and this event.
        self.catch_up.request([info.thread_id])

    # --- live replies -------------------------------------------------------------------------

    def read_message(self, message: discord.Message) -> None:
        """Queue a student's message in a lesson thread as a reply; ignore everything else.

        A message reader (:attr:`SeminarBot.message_readers`), not a listener: no task of
        its own, unless the message answers another one that must be looked up.
        """
        thread_id = message.channel.id
        thread = self.threads.get(thread_id)
        if thread is None:
            return
        if self.recorder.full:
            # Replies come faster than the database takes them: leave this one to backfill,
            # which must then read this thread up to a message seen after it.
            self.recorder.leave_out()
            self.catch_up.left_out(thread_id, message.id)
            return
        self.catch_up.seen_live(thread_id, message.id)
        if not counts(message, thread):
            return
        if message.reference is not None:
            self.recorder.track(self._add_reply_to(message, thread))
            return
        self.recorder.add(new_reply(message, thread, None,
                                    due_at=self.threads.due_for(thread, message.author.id)))

    async def _add_reply_to(self, message: discord.Message, thread: LessonThread) -> None:
        """Queue a reply that answers a message (looked up in the cache, buffer or database).

        If the look-up fails (the database is down), the reply is left to catch-up, as one
        left out of a full buffer is.
        """
        try:
            replied = await self.threads.replied_to(message, None)
        except Exception:
            log.exception("Could not look up the message %s answers; reading it back from "
                          "Discord later.", message.id)
            self.recorder.leave_out()
            self.catch_up.left_out(thread.info.thread_id, message.id)
            return
        self.recorder.add(new_reply(message, thread, replied,
                                    due_at=self.threads.due_for(thread, message.author.id)))

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Update a reply's counts (and stored text) after its author edits it."""
        thread = self.threads.get(payload.channel_id)
        if thread is None:
            return
        message = payload.message
        # Discord also sends updates that are no edit (a link preview appearing); the bot's
        # own messages are no reply (an answer-first answer's edits are recorded by its cog).
        if (message.edited_at is None or "content" not in payload.data
                or payload.data.get("author", {}).get("bot")):
            return
        content = message.content
        replied = await self.threads.replied_to(message, None)
        await self.recorder.edit(message.id, Edit(
            message.edited_at, own_words(content, thread, replied), count_characters(content),
            content if thread.store_text else None))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """Mark a reply deleted (kept, so the teacher can see it existed)."""
        if payload.channel_id in self.threads:
            await self.recorder.mark_deleted([payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Mark every reply of a bulk delete deleted."""
        if payload.channel_id in self.threads:
            await self.recorder.mark_deleted(payload.message_ids)

    # --- the gateway connection -----------------------------------------------------------------

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        """The gateway connection dropped: what comes next may not follow what came before."""
        self.catch_up.new_connection()

    @commands.Cog.listener()
    async def on_connect(self) -> None:
        """A new gateway connection: nothing has been seen live on it yet."""
        self.catch_up.new_connection()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """A new session (start-up or after an outage without resume): catch up on all.

        A sharded bot's on_ready comes after each of its shards' on_shard_ready, which asked
        for the same, shard by shard: asked again, every thread would be read twice.
        """
        if not isinstance(self.bot, discord.AutoShardedClient):
            self.catch_up.request(reconcile=True)

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        """One shard has a new session: catch up on the threads in its servers."""
        self.catch_up.request(reconcile=True, shard_id=shard_id)

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        """A resumed session: Discord replayed what it kept; read only the threads whose
        newest message the bot has not seen (none, when nothing was missed)."""
        self.catch_up.request(only_missed=True)
