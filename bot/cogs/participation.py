"""Participation: every student reply in a lesson thread becomes one record, whatever happens.

Thin: what a reply counts for is :mod:`bot.core.participation_rules`; storage is the
repository. This cog receives Discord's events and turns them into plain values:

- ``on_message`` in a lesson thread (a dict lookup; anything else returns at once) queues a
  reply in a :class:`~bot.core.participation_rules.ReplyBuffer`; a writer task writes batches, one
  transaction each, so a burst does not cost a commit per message. On SQLite the batches go
  to one database thread (:mod:`storage.bulk`), so that a busy event loop does not slow the
  writes down.
- Raw edit and delete events update the reply (waiting in the buffer or recorded); a deleted
  reply is marked, not erased.
- Backfill, at every READY and RESUMED, reads each thread's history after its cursor through
  REST and records what the live listener missed, up to the first message the current
  gateway connection delivered in that thread (from there the listener has seen it all).
  Only backfill moves cursors, and only over history it read: the live listener may have
  missed earlier messages. A message read back with an edit updates its record.
- At READY (a new session: start-up, or an outage Discord did not replay) edits and
  deletions made while nobody listened are caught up too: each thread still read is read
  from its start (one request per 100 messages) and every recorded reply no longer in its
  history is marked deleted. A RESUMED session needs none of that: Discord replays the
  edits and deletions it missed.

A crash between batches loses the replies waiting in the buffer, but not for long: they are
in Discord's history after the thread's cursor, where the next backfill finds them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.core.participation_rules import (
    Batch,
    Edit,
    Person,
    ReplyBuffer,
    UnmatchedChanges,
    count_characters,
    count_words,
    discussion_closes_at,
    is_late,
    peer_of,
    still_read,
)
from storage.bulk import ThreadedReplyWriter
from storage.repository import NewReply, Repository, ThreadInfo

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot
    from bot.core.config import CourseSettings

log = logging.getLogger(__name__)

# A batch is written once BATCH_SIZE replies wait or the oldest has waited BATCH_DELAY
# seconds. Replies that piled up during a write go together, up to MAX_BATCH: a row costs
# about 60 us in a batch of 100 and 30 us in a batch of 1,000 (SQLite, both threads).
BATCH_SIZE: Final = 500
BATCH_DELAY: Final = 0.5
MAX_BATCH: Final = 5_000
MAX_IN_FLIGHT: Final = 2  # batches queued in the database thread at once
MAX_WAITING: Final = 20_000  # past this (database down), replies are left to backfill
HISTORY_PAGE: Final = 100  # Discord's page size: one transaction per page read
RETRY_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0)
# How far back lesson posts are looked up: no lesson stays open for discussion a year.
LOOKBACK: Final = dt.timedelta(days=366)

COUNTED_TYPES: Final = frozenset({discord.MessageType.default, discord.MessageType.reply})


@dataclasses.dataclass(frozen=True, slots=True)
class LessonThread:
    """A lesson thread the bot reads, with what each reply in it needs."""

    info: ThreadInfo
    guild_id: int
    store_text: bool
    closes_at: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ParticipationCog(commands.Cog):
    """Records student replies in lesson threads: live, batched, and backfilled from history."""

    def __init__(self, bot: SeminarBot, repository: Repository) -> None:
        self.bot = bot
        self.repository = repository
        # On SQLite, batches are written from a worker thread (see storage.bulk).
        self.bulk: ThreadedReplyWriter | None = None
        self.threads: dict[int, LessonThread] = {}
        self.buffer: ReplyBuffer[NewReply] = ReplyBuffer(
            max_size=BATCH_SIZE, max_delay=BATCH_DELAY, max_batch=MAX_BATCH)
        self.unmatched = UnmatchedChanges()
        self.max_waiting = MAX_WAITING
        self.left_out = 0  # replies left out of a full buffer (for backfill), since start
        self._loop = asyncio.get_running_loop()
        self._write_lock = asyncio.Lock()
        self._waiting = asyncio.Event()  # the buffer holds replies
        self._full = asyncio.Event()  # the buffer holds a whole batch
        self._closing = False
        self._dropped = False
        # Per thread, the first reply left out because the buffer was full: backfill reads
        # from there (and not from the cursor, which would re-read everything recorded).
        self._first_dropped: dict[int, int] = {}
        self._backfill_dropped: dict[int, int] = {}
        self._writer: asyncio.Task[None] | None = None
        # Batches handed to the database thread and not yet written (see flush).
        self._in_flight: set[asyncio.Task[bool]] = set()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._retry_at = 0.0
        self._failures = 0
        self._backfill_task: asyncio.Task[None] | None = None
        self._backfill_all = False
        self._reconcile = False  # the next whole backfill reads threads from their start
        self._backfill_threads: set[int] = set()
        self._backfill_failed: set[int] = set()  # threads Discord would not show just now
        # Per thread, the first message the gateway delivered since the connection began:
        # from there on the live listener has seen everything, so backfill stops there.
        self._first_live: dict[int, int] = {}
        self.backfill_runs = 0

    # --- life cycle -----------------------------------------------------------------------

    async def cog_load(self) -> None:
        """Load the lesson threads and start the writer (backfill waits for READY)."""
        await self.reload_threads()
        self.bulk = ThreadedReplyWriter.for_url(self.bot.settings.database.url)
        if self.bulk is not None:
            # One thread: batches are written one at a time, in the order they were taken.
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="participation-db")
        self._writer = asyncio.create_task(self._write_loop(), name="participation-writer")

    async def cog_unload(self) -> None:
        """Stop reading, then write every reply still waiting (before storage closes)."""
        self._closing = True
        if self._backfill_task is not None:
            self._backfill_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backfill_task
        self._waiting.set()
        self._full.set()
        if self._writer is not None:
            await self._writer
        await self._settle()
        if self.buffer:
            log.error("Shutting down with %d replies not written (the database refused "
                      "them); the next start reads them back from Discord.", len(self.buffer))
        if self._executor is not None:
            self._executor.shutdown()
        if self.bulk is not None:
            self.bulk.close()

    # --- the thread map -------------------------------------------------------------------

    def lesson_thread(self, info: ThreadInfo) -> LessonThread | None:
        """What the listener keeps about a thread; None if its course is not served here."""
        course: CourseSettings | None = self.bot.settings.courses.get(info.course)
        if course is None or not self.bot.serves_guild(course.guild_id):
            return None  # a server on another process's shard: that process reads it
        return LessonThread(info, course.guild_id, course.store_text,
                            discussion_closes_at(info.scheduled_at, info.due_at))

    async def reload_threads(self) -> list[LessonThread]:
        """Refresh the in-memory map from the database; the threads still read, by post time."""
        now = _utcnow()
        infos = await self.repository.open_threads(posted_since=now - LOOKBACK,
                                                   include_locked=True)
        loaded = [t for t in map(self.lesson_thread, infos)
                  if t is not None and still_read(t.closes_at, now)]
        # Merge, not replace: a thread announced while the query ran must stay.
        merged = {tid: t for tid, t in self.threads.items() if still_read(t.closes_at, now)}
        merged.update((t.info.thread_id, t) for t in loaded)
        self.threads = merged
        return loaded

    @commands.Cog.listener()
    async def on_seminar_thread_opened(self, info: ThreadInfo) -> None:
        """A question thread was just opened: read it from now on (and what came before)."""
        thread = self.lesson_thread(info)
        if thread is None or self._closing:
            return
        self.threads[info.thread_id] = thread
        # A student may have answered between the thread's creation and this event.
        self.request_backfill([info.thread_id])

    # --- live replies ---------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Queue a student's message in a lesson thread as a reply; ignore everything else."""
        thread_id = message.channel.id
        thread = self.threads.get(thread_id)
        if thread is None:
            return
        if len(self.buffer) >= self.max_waiting:
            # Replies come faster than the database takes them: leave this one to backfill,
            # which must then read this thread up to a message seen after it.
            self._dropped = True
            self.left_out += 1
            self._first_dropped.setdefault(thread_id, message.id)
            self._first_live.pop(thread_id, None)
            return
        if thread_id not in self._first_live:
            self._first_live[thread_id] = message.id
        if not self.counts(message, thread):
            return
        replied = None if message.reference is None else await self._replied_to(message, None)
        reply = self.new_reply(message, thread, replied)
        if self.buffer.add(reply.message_id, reply, self._loop.time()):
            self._waiting.set()
            if self.buffer.full:
                self._full.set()

    @staticmethod
    def counts(message: discord.Message, thread: LessonThread) -> bool:
        """Whether a message in a lesson thread is a student's reply that counts.

        Not a bot's or a webhook's, not a system message (thread created, pin...), not the
        thread's starter, not written after the discussion closed.
        """
        return not (message.author.bot or message.webhook_id is not None
                    or message.type not in COUNTED_TYPES or message.id == thread.info.thread_id
                    or message.created_at >= thread.closes_at)

    async def reply_from(
        self, message: discord.Message, thread: LessonThread,
        earlier: Mapping[int, discord.Message] | None = None,
    ) -> NewReply | None:
        """The reply record of a message, or None if it does not count as a reply.

        ``earlier``: messages read in the same history page, to find a replied-to author.
        """
        if not self.counts(message, thread):
            return None
        replied = None if message.reference is None else await self._replied_to(message, earlier)
        return self.new_reply(message, thread, replied)

    @staticmethod
    def new_reply(message: discord.Message, thread: LessonThread,
                  replied: tuple[int | None, Person | None] | None) -> NewReply:
        """The reply record of a counted message (``replied``: what it replies to, if any)."""
        author = message.author
        created_at = message.created_at
        content = message.content
        reply_to_message_id, replied_to = replied if replied is not None else (None, None)
        mentioned = [Person(u.id, u.bot) for u in message.mentions] if message.mentions else ()
        info = thread.info
        return NewReply(
            message_id=message.id,
            thread_id=info.thread_id,
            post_id=info.post_id,
            question_index=info.question_index,
            course=info.course,
            lesson=info.lesson,
            guild_id=thread.guild_id,
            author_id=author.id,
            author_name=author.display_name,
            created_at=created_at,
            word_count=count_words(content),
            char_count=count_characters(content),
            reply_to_message_id=reply_to_message_id,
            reply_to_author_id=peer_of(author.id, replied_to, mentioned),
            late=is_late(created_at, info.due_at),
            text=content if thread.store_text else None,
            edited_at=message.edited_at,
        )

    async def _replied_to(
        self, message: discord.Message, earlier: Mapping[int, discord.Message] | None
    ) -> tuple[int | None, Person | None]:
        """The id of the message a reply answers, and its author when it can be found.

        Looked up in the event itself, the client's cache, the batch being read, the
        buffer, then the database (which holds only members' replies, never bots').
        """
        reference = message.reference
        if (reference is None or reference.message_id is None
                or reference.type is not discord.MessageReferenceType.reply):
            return None, None
        target_id = reference.message_id
        target = reference.resolved
        if not isinstance(target, discord.Message):
            target = reference.cached_message
        if target is None and earlier is not None:
            target = earlier.get(target_id)
        if target is not None:
            return target_id, Person(target.author.id, target.author.bot)
        waiting = self.buffer.get(target_id)
        if waiting is not None:
            return target_id, Person(waiting.author_id)
        recorded = await self.repository.reply(target_id)
        if recorded is not None:
            return target_id, Person(recorded.author_id)
        return target_id, None

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Update a reply's counts (and stored text) after its author edits it."""
        thread = self.threads.get(payload.channel_id)
        if thread is None:
            return
        message = payload.message
        # Discord also sends updates that are no edit (a link preview appearing).
        if message.edited_at is None or "content" not in payload.data:
            return
        content = message.content
        edit = Edit(message.edited_at, count_words(content), count_characters(content),
                    content if thread.store_text else None)
        waiting = self.buffer.get(message.id)
        if waiting is not None:
            if waiting.edited_at is None or waiting.edited_at <= edit.at:
                self.buffer.replace(message.id, _edited(waiting, edit))
            return
        async with self._write_lock:
            await self._settle()
            if not await self._apply_edit(message.id, edit):
                self.unmatched.edited(message.id, edit)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """Mark a reply deleted (kept, so the teacher can see it existed)."""
        if payload.channel_id in self.threads:
            await self.mark_deleted([payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Mark every reply of a bulk delete deleted."""
        if payload.channel_id in self.threads:
            await self.mark_deleted(payload.message_ids)

    async def mark_deleted(self, message_ids: Iterable[int]) -> None:
        """Mark replies deleted now, waiting in the buffer or recorded."""
        at = _utcnow()
        recorded = [m for m in message_ids if not self.buffer.mark_deleted(m, at)]
        if not recorded:
            return
        async with self._write_lock:
            await self._settle()
            changed = await self.repository.mark_deleted_many(recorded, at)
            if changed < len(recorded):
                for message_id in recorded:
                    self.unmatched.deleted(message_id, at)

    # --- writing batches ------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Write batches as they become due, until the cog unloads and the buffer is empty."""
        while True:
            await self._waiting.wait()
            if self._closing:
                await self._settle()  # a batch that failed in the thread comes back first
            pause = self._retry_at - self._loop.time()
            if pause > 0 and not self._closing:
                await asyncio.sleep(pause)  # a write failed: give the database a moment
            delay = self.buffer.time_left(self._loop.time())
            if delay > 0 and not self._closing:
                # Give a batch up to BATCH_DELAY to fill, unless it fills sooner. Not when
                # it is due already: each await costs a loop turn, and a turn is long during
                # a burst of replies.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), delay)
            written = await self.flush()
            if self._closing and (not written or not self.buffer):
                return

    async def flush(self) -> bool:
        """Take one batch of waiting replies and write it, in one transaction.

        With the database thread (SQLite), the batch is handed over and this returns at
        once: awaiting each write would cost loop turns, and replies would pile up while
        a burst keeps the loop busy. Up to MAX_IN_FLIGHT batches wait there, in order.
        Otherwise (and when shutting down) the batch is written before this returns. False
        if the database failed (the batch then waits again, ahead of newer replies).
        """
        async with self._write_lock:
            batch = self.buffer.take(self._loop.time())
            if not self.buffer:
                self._waiting.clear()
            if not self.buffer.full:
                self._full.clear()
            if not batch:
                return True
            if self._executor is None or self._closing:
                return await self._write_batch(batch)
            while len(self._in_flight) >= MAX_IN_FLIGHT:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(self._write_batch(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            return True

    async def _settle(self) -> None:
        """Wait until every batch handed to the database thread is written (or failed)."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def _write_batch(self, batch: Batch[NewReply]) -> bool:
        """Record a batch, then the edits and deletions that concern it; False on failure."""
        started = self._loop.time()
        replies = list(batch.replies.values())
        try:
            if self.bulk is not None and self._executor is not None:
                await self._loop.run_in_executor(self._executor, self.bulk.record, replies)
            else:
                await self.repository.record_replies(replies)
            # A backfill may have recorded a message before its edit.
            await self._apply_edits(replies)
            for at, ids in batch.deleted_by_time().items():
                await self.repository.mark_deleted_many(ids, at)
            await self._apply_unmatched(batch.replies)
        except Exception:
            self.buffer.put_back(batch, self._loop.time())
            self._waiting.set()
            self._failures += 1
            delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS)) - 1]
            self._retry_at = self._loop.time() + delay
            log.exception("Could not record %d replies; trying again in %.0f s.",
                          len(replies), delay)
            return False
        self._failures = 0
        log.debug("Recorded %d replies in %.0f ms (%d waiting).", len(replies),
                  1000 * (self._loop.time() - started), len(self.buffer))
        if self._dropped and not self.buffer and not self._closing:
            self._dropped = False
            log.warning("Replies came faster than the database took them; reading the ones "
                        "left out back from Discord.")
            self.request_backfill(left_out=True)
        return True

    async def _apply_unmatched(self, message_ids: Iterable[int]) -> None:
        """Apply edits and deletions that arrived before these replies were recorded."""
        edits, deletions = self.unmatched.pop(message_ids)
        for message_id, edit in edits.items():
            await self._apply_edit(message_id, edit)
        for message_id, at in deletions.items():
            await self.repository.mark_deleted_many([message_id], at)

    async def _apply_edits(self, replies: Iterable[NewReply]) -> None:
        """Bring records up to these replies' edits.

        A reply recorded before it was edited keeps its old counts when it is recorded again
        (the insert changes nothing), so its edit is applied to the record (an older edit
        never wins over a newer one).
        """
        for reply in replies:
            if reply.edited_at is not None:
                await self._apply_edit(reply.message_id, Edit(
                    reply.edited_at, reply.word_count, reply.char_count, reply.text))

    async def _apply_edit(self, message_id: int, edit: Edit) -> bool:
        return await self.repository.mark_edited(
            message_id, edit.at, edit.word_count, edit.char_count, edit.text)

    # --- backfill -------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        """The gateway connection dropped: what comes next may not follow what came before."""
        self._first_live.clear()

    @commands.Cog.listener()
    async def on_connect(self) -> None:
        """A new gateway connection: nothing has been seen live on it yet."""
        self._first_live.clear()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """A new session (start-up or after an outage without resume): catch up on all."""
        self.request_backfill(reconcile=True)

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        """One shard has a new session: catch up (a sharded bot's on_ready waits for all)."""
        self.request_backfill(reconcile=True)

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        """A resumed session: Discord replayed what it kept, catch up on anything else."""
        self.request_backfill()

    def request_backfill(
        self, thread_ids: Iterable[int] | None = None, *, left_out: bool = False,
        reconcile: bool = False,
    ) -> None:
        """Read missed replies soon: of these threads, or of every thread (``None``).

        With ``left_out``, only the replies left out of a full buffer, from the first one.
        With ``reconcile``, every thread is read from its start, for edits and deletions.
        Requests made while a backfill runs are merged into one more run after it.
        """
        if self._closing:
            return
        if reconcile:
            self._reconcile = True
            thread_ids = None
        if left_out:
            for thread_id, first in self._first_dropped.items():
                self._backfill_dropped[thread_id] = min(
                    first, self._backfill_dropped.get(thread_id, first))
            self._first_dropped.clear()
        elif thread_ids is None:
            self._backfill_all = True
        else:
            self._backfill_threads.update(thread_ids)
        if self._backfill_task is None or self._backfill_task.done():
            self._backfill_task = asyncio.create_task(self._backfill_runs(),
                                                      name="participation-backfill")

    async def _backfill_runs(self) -> None:
        """Run backfills until no request is left; what failed is tried again after a pause.

        Waiting for the next reconnect instead could leave replies uncounted for hours.
        """
        failures = 0
        while not self._closing and (self._backfill_all or self._backfill_threads
                                     or self._backfill_dropped):
            everything, self._backfill_all = self._backfill_all, False
            reconcile, self._reconcile = self._reconcile, False
            wanted, self._backfill_threads = self._backfill_threads, set()
            left_out, self._backfill_dropped = self._backfill_dropped, {}
            try:
                if everything or wanted:
                    await self.backfill(None if everything else wanted, reconcile=reconcile)
                if left_out and not everything:  # reading from the cursors covered them
                    await self.backfill_left_out(left_out)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Catching up on missed replies failed; trying again shortly.")
                self._backfill_all |= everything
                self._reconcile |= reconcile
                self._backfill_threads |= wanted
                for thread_id, first in left_out.items():
                    self._backfill_dropped.setdefault(thread_id, first)
            else:
                if not self._backfill_failed:
                    failures = 0
                    continue
            self._backfill_threads |= self._backfill_failed
            self._backfill_failed.clear()
            failures += 1
            await asyncio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1])

    async def backfill(self, thread_ids: Iterable[int] | None = None, *,
                       reconcile: bool = False) -> int:
        """Record replies missed in each thread still read (or these ones); how many were new.

        With ``reconcile``, each thread is read from its start, and edits and deletions made
        while nobody listened reach the records too.
        """
        if thread_ids is None:
            threads = await self.reload_threads()
        else:
            threads = [self.threads[t] for t in thread_ids if t in self.threads]
        cursors = await self.repository.get_cursors([t.info.thread_id for t in threads])
        new = 0
        for thread in threads:
            new += await self._backfill_thread(thread, cursors.get(thread.info.thread_id),
                                               reconcile=reconcile)
        self.backfill_runs += 1
        if new:
            log.info("Caught up on %d missed replies.", new)
        return new

    async def backfill_left_out(self, first_left_out: dict[int, int]) -> int:
        """Record the replies left out of a full buffer; how many were new.

        Reads each thread from its first reply left out, and leaves its cursor alone: what
        came before that was not read here (the next full backfill reads it again).
        """
        new = 0
        for thread_id, first in first_left_out.items():
            thread = self.threads.get(thread_id)
            if thread is not None:
                new += await self._backfill_thread(thread, None, start=first - 1,
                                                   move_cursor=False)
        if new:
            log.info("Recorded %d replies left out while the database was behind.", new)
        return new

    async def _backfill_thread(self, thread: LessonThread, cursor: int | None, *,
                               start: int | None = None, move_cursor: bool = True,
                               reconcile: bool = False) -> int:
        """Read one thread's history after its cursor (or ``start``); record replies.

        Each page read is recorded with the cursor moved past it (unless ``move_cursor`` is
        False), in one transaction. With ``reconcile`` the whole history is read, and the
        recorded replies it no longer holds are marked deleted.
        """
        thread_id = thread.info.thread_id
        try:
            channel = self.bot.get_channel(thread_id) or await self.bot.fetch_channel(thread_id)
        except discord.NotFound:
            log.info("Lesson thread %s no longer exists on Discord; skipping it.", thread_id)
            return 0
        except discord.HTTPException as exc:
            log.warning("Could not open lesson thread %s to catch up (%s %s): %s; trying "
                        "again shortly.", thread_id, exc.status, exc.code, exc.text)
            self._backfill_failed.add(thread_id)
            return 0
        if not isinstance(channel, discord.Thread):
            log.warning("Lesson channel %s is not a thread; skipping it.", thread_id)
            return 0
        # A thread's messages all have ids above the thread's own.
        if reconcile:
            start = thread_id
        elif start is None:
            start = cursor if cursor is not None else thread_id
        after = discord.Object(start)
        # Discord's own word for the newest message sent so far (not our clock, which may
        # be off): every message up to it is in the history the read returns, unless deleted.
        newest_sent = channel.last_message_id or 0
        live_from: int | None = None
        seen: set[int] = set()
        complete = False
        new = 0
        page: dict[int, discord.Message] = {}
        try:
            async for message in channel.history(limit=None, after=after, oldest_first=True):
                live_from = self._first_live.get(thread_id)
                if live_from is not None and message.id >= live_from:
                    break  # the live listener has everything from here on
                live_from = None
                seen.add(message.id)
                page[message.id] = message
                if len(page) >= HISTORY_PAGE:
                    new += await self._record_page(thread, page, move_cursor)
                    page = {}
            complete = True
        except discord.Forbidden:
            log.warning("I may not read the history of lesson thread %s: give me 'Read "
                        "Message History' in #%s.", thread_id, channel.parent or channel.name)
        except discord.HTTPException as exc:
            log.warning("Reading lesson thread %s failed (%s %s): %s; trying again shortly.",
                        thread_id, exc.status, exc.code, exc.text)
            self._backfill_failed.add(thread_id)
        if page:
            new += await self._record_page(thread, page, move_cursor)
        if reconcile and complete:
            read_up_to = max(newest_sent, max(seen, default=0))
            if live_from is not None:  # what the listener saw live was not read here
                read_up_to = min(read_up_to, live_from - 1)
            await self._mark_gone(thread_id, seen, read_up_to + 1)
        return new

    async def _mark_gone(self, thread_id: int, seen: set[int], below: int) -> None:
        """Mark deleted the recorded replies below ``below`` that the history read lacks."""
        async with self._write_lock:
            await self._settle()
            gone = await self.repository.standing_reply_ids(thread_id, below=below) - seen
            if gone:
                await self.repository.mark_deleted_many(gone, _utcnow())
                log.info("%d replies in lesson thread %s were deleted while I was away.",
                         len(gone), thread_id)

    async def _record_page(self, thread: LessonThread, page: dict[int, discord.Message],
                           move_cursor: bool = True) -> int:
        """Record a page of history and move the thread's cursor past it, in one transaction."""
        replies = [r for m in page.values() if (r := await self.reply_from(m, thread, page))]
        cursors = {thread.info.thread_id: max(page)} if move_cursor else None
        async with self._write_lock:
            new = await self.repository.record_replies(replies, cursors=cursors)
            # Recorded live before it was edited while nobody listened, say.
            await self._apply_edits(replies)
            await self._apply_unmatched(page)
        return new


def _edited(reply: NewReply, edit: Edit) -> NewReply:
    """A waiting reply with an edit applied."""
    text = edit.text if edit.text is not None else reply.text
    return dataclasses.replace(reply, word_count=edit.word_count, char_count=edit.char_count,
                               text=text, edited_at=edit.at)


async def setup(bot: SeminarBot) -> None:
    """Add the participation cog (called by ``bot.load_extension``)."""
    await bot.add_cog(ParticipationCog(bot, bot.repository))
