"""Catch-up: replies, edits and deletions made while the live listener was not listening.

Backfill, at every READY and RESUMED, reads each thread's history after its cursor through
REST and records what the live listener missed, up to the first message the current
gateway connection delivered in that thread (from there the listener has seen it all).
Only backfill moves cursors, and only over history it read: the live listener may have
missed earlier messages. A message read back with an edit updates its record.

At READY (a new session: start-up, or an outage Discord did not replay) edits and deletions
made while nobody listened are caught up too: each thread still read is read from its start
(one request per 100 messages) and every recorded reply no longer in its history is marked
deleted. A sharded bot does this shard by shard: a shard's new session reads the threads in
the servers on that shard, once. A RESUMED session needs none of that: Discord replays what
it missed.

Reads cost only what may have been missed. Discord says what each thread's newest message is
(``last_message_id``, in the guild and thread payloads, kept up to date by every message
event). After a RESUMED a thread is read only when that is newer than every message the bot
has seen in it, live or read back: a resume with nothing missed makes no history request.
At READY a thread that has never held a message (no ``last_message_id``) is not read: it
holds nothing to record or reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Final

import discord

from bot.cogs.participation.recorder import ReplyRecorder, retry_delay
from bot.cogs.participation.threads import LessonThread, LessonThreads

log = logging.getLogger(__name__)

HISTORY_PAGE: Final = 100  # Discord's page size: one transaction per page read
#: Threads read back at once: enough to keep Discord's global limit (50 requests a second)
#: busy while each read waits for its answer, few enough to keep the database's writes short.
CONCURRENT_READS: Final = 16


class CatchUp:
    """Reads lesson threads' history back when something may have been missed.

    Requests made while a run is going on are merged into one more run after it; what
    Discord would not show just now is tried again after a pause.
    """

    def __init__(self, client: discord.Client, threads: LessonThreads,
                 recorder: ReplyRecorder) -> None:
        self.client = client
        self.threads = threads
        self.recorder = recorder
        self.runs = 0  # backfills finished since start
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._all = False
        self._reconcile = False  # the next whole backfill reads threads from their start
        self._wanted: set[int] = set()
        self._failed: set[int] = set()  # threads Discord would not show just now
        # Per thread, the first message the gateway delivered since the connection began:
        # from there on the live listener has seen everything, so backfill stops there.
        self._first_live: dict[int, int] = {}
        # Per thread, the first reply left out because the buffer was full: backfill reads
        # from there (and not from the cursor, which would re-read everything recorded).
        self._first_dropped: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        # Per thread, the newest message the bot has seen in it (live or read back).
        self._newest: dict[int, int] = {}
        self._only_missed = False  # the next whole backfill reads only threads with news
        self._reconcile_shards: set[int] = set()  # shards with a new session, to reconcile
        self.skipped = 0  # threads a resume did not need to read (for the benchmarks)

    @property
    def busy(self) -> bool:
        """Whether a backfill is running or asked for."""
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Stop catching up (what was not read is read at the next start)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- what the live listener saw -----------------------------------------------------------

    def new_connection(self) -> None:
        """A gateway connection began or ended: nothing is known to be seen live on it."""
        self._first_live.clear()

    def seen_live(self, thread_id: int, message_id: int) -> None:
        """The gateway delivered this message: from here on the thread is seen live."""
        self._first_live.setdefault(thread_id, message_id)
        if message_id > self._newest.get(thread_id, 0):
            self._newest[thread_id] = message_id

    def left_out(self, thread_id: int, message_id: int) -> None:
        """A reply was left out of the full buffer: read it (and what follows) back later."""
        self._first_dropped.setdefault(thread_id, message_id)
        self._first_live.pop(thread_id, None)

    # --- requests -------------------------------------------------------------------------------

    def request(
        self, thread_ids: Iterable[int] | None = None, *, left_out: bool = False,
        reconcile: bool = False, only_missed: bool = False, shard_id: int | None = None,
    ) -> None:
        """Read missed replies soon: of these threads, or of every thread (``None``).

        With ``left_out``, only the replies left out of a full buffer, from the first one.
        With ``reconcile``, every thread (or, with ``shard_id``, every thread in the servers
        on that shard) is read from its start, for edits and deletions. With
        ``only_missed`` (a resume), only the threads whose newest message the bot has not
        seen.
        """
        if self._closing:
            return
        if reconcile and shard_id is not None:
            self._reconcile_shards.add(shard_id)
        else:
            self._ask(thread_ids, left_out=left_out, reconcile=reconcile,
                      only_missed=only_missed)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._runs(), name="participation-backfill")

    def _ask(self, thread_ids: Iterable[int] | None, *, left_out: bool, reconcile: bool,
             only_missed: bool) -> None:
        if reconcile:
            self._reconcile = True
            thread_ids = None
        if thread_ids is None and not left_out:
            # A whole backfill already asked for reads every thread: keep it whole.
            self._only_missed = only_missed and (self._only_missed or not self._all)
        if left_out:
            for thread_id, first in self._first_dropped.items():
                self._dropped[thread_id] = min(first, self._dropped.get(thread_id, first))
            self._first_dropped.clear()
        elif thread_ids is None:
            self._all = True
        else:
            self._wanted.update(thread_ids)

    async def _runs(self) -> None:
        """Run backfills until no request is left; what failed is tried again after a pause.

        Waiting for the next reconnect instead could leave replies uncounted for hours.
        """
        failures = 0
        while not self._closing and (self._all or self._wanted or self._dropped
                                     or self._reconcile_shards):
            everything, self._all = self._all, False
            reconcile, self._reconcile = self._reconcile, False
            only_missed, self._only_missed = self._only_missed and not reconcile, False
            wanted, self._wanted = self._wanted, set()
            left_out, self._dropped = self._dropped, {}
            shards, self._reconcile_shards = self._reconcile_shards, set()
            try:
                if everything or wanted:
                    await self.backfill(None if everything else wanted, reconcile=reconcile,
                                        only_missed=only_missed and not wanted)
                if shards and not (everything and reconcile):  # else reconciled just now
                    await self.backfill(reconcile=True, shards=shards)
                if left_out and not everything:  # reading from the cursors covered them
                    await self.backfill_left_out(left_out)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Catching up on missed replies failed; trying again shortly.")
                self._all |= everything
                self._reconcile |= reconcile
                self._only_missed |= only_missed
                self._wanted |= wanted
                self._reconcile_shards |= shards
                for thread_id, first in left_out.items():
                    self._dropped.setdefault(thread_id, first)
            else:
                if not self._failed:
                    failures = 0
                    continue
            self._wanted |= self._failed
            self._failed.clear()
            failures += 1
            await asyncio.sleep(retry_delay(failures))

    # --- reading history ------------------------------------------------------------------------

    async def backfill(self, thread_ids: Iterable[int] | None = None, *,
                       reconcile: bool = False, only_missed: bool = False,
                       shards: set[int] | None = None) -> int:
        """Record replies missed in each thread still read (or these ones); how many were new.

        With ``reconcile``, each thread is read from its start, and edits and deletions made
        while nobody listened reach the records too. With ``only_missed``, a thread is read
        only when Discord's newest message in it is one the bot has not seen. With
        ``shards``, only the threads in the servers on these shards are read.
        """
        if thread_ids is None:
            threads = await self.threads.reload()
            if shards is not None:
                threads = [t for t in threads if self._on_shards(t.guild_id, shards)]
        else:
            threads = [t for t in map(self.threads.get, thread_ids) if t is not None]
        if only_missed:
            wanted = [t for t in threads if self._may_have_missed(t.info.thread_id)]
            self.skipped += len(threads) - len(wanted)
            threads = wanted
        repository = self.recorder.repository
        cursors = await repository.replies.cursors([t.info.thread_id for t in threads])
        if reconcile:
            # A thread that has never held a message has nothing to reconcile or record.
            wanted = [t for t in threads if not self._never_written(t.info.thread_id)]
            self.skipped += len(threads) - len(wanted)
            threads = wanted
        slots = asyncio.Semaphore(CONCURRENT_READS)

        async def read(thread: LessonThread) -> int:
            async with slots:
                return await self._backfill_thread(thread, cursors.get(thread.info.thread_id),
                                                   reconcile=reconcile)

        async with asyncio.TaskGroup() as group:
            reads = [group.create_task(read(thread)) for thread in threads]
        new = sum(task.result() for task in reads)
        self.runs += 1
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

    def _on_shards(self, guild_id: int, shards: set[int]) -> bool:
        """Whether a server is on one of these shards (by Discord's own rule when unseen)."""
        guild = self.client.get_guild(guild_id)
        if guild is not None:
            return guild.shard_id in shards
        return (guild_id >> 22) % (self.client.shard_count or 1) in shards

    def _may_have_missed(self, thread_id: int) -> bool:
        """Whether a thread may hold a message the bot has not seen, by Discord's own word.

        A thread out of the cache is archived: a message there would have unarchived it,
        and that update (or the message) would have been replayed by the resume.
        """
        channel = self.client.get_channel(thread_id)
        if not isinstance(channel, discord.Thread):
            return False
        newest = channel.last_message_id
        return newest is not None and newest > self._newest.get(thread_id, 0)

    def _never_written(self, thread_id: int) -> bool:
        """Whether Discord says a thread has never held a message (no ``last_message_id``)."""
        channel = self.client.get_channel(thread_id)
        return isinstance(channel, discord.Thread) and channel.last_message_id is None

    async def _open(self, thread_id: int) -> discord.Thread | None:
        """The thread to read, or None (gone, or Discord would not show it just now)."""
        client = self.client
        try:
            channel = client.get_channel(thread_id) or await client.fetch_channel(thread_id)
        except discord.NotFound:
            log.info("Lesson thread %s no longer exists on Discord; skipping it.", thread_id)
            return None
        except discord.HTTPException as exc:
            log.warning("Could not open lesson thread %s to catch up (%s %s): %s; trying "
                        "again shortly.", thread_id, exc.status, exc.code, exc.text)
            self._failed.add(thread_id)
            return None
        if not isinstance(channel, discord.Thread):
            log.warning("Lesson channel %s is not a thread; skipping it.", thread_id)
            return None
        return channel

    async def _backfill_thread(self, thread: LessonThread, cursor: int | None, *,
                               start: int | None = None, move_cursor: bool = True,
                               reconcile: bool = False) -> int:
        """Read one thread's history after its cursor (or ``start``); record replies.

        Each page read is recorded with the cursor moved past it (unless ``move_cursor`` is
        False), in one transaction. With ``reconcile`` the whole history is read, and the
        recorded replies it no longer holds are marked deleted.
        """
        thread_id = thread.info.thread_id
        channel = await self._open(thread_id)
        if channel is None:
            return 0
        # A thread's messages all have ids above the thread's own.
        if reconcile:
            start = thread_id
        elif start is None:
            start = cursor if cursor is not None else thread_id
        # Discord's own word for the newest message sent so far (not our clock, which may
        # be off): every message up to it is in the history the read returns, unless deleted.
        newest_sent = channel.last_message_id or 0
        live_from: int | None = None
        seen: set[int] = set()
        complete = False
        new = 0
        page: dict[int, discord.Message] = {}
        try:
            async for message in channel.history(limit=None, after=discord.Object(start),
                                                 oldest_first=True):
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
            self._failed.add(thread_id)
        if page:
            new += await self._record_page(thread, page, move_cursor)
        if complete:
            read = max(seen, default=0)
            if live_from is None and newest_sent > read:
                read = newest_sent  # deleted since: nothing newer is waiting
            if read > self._newest.get(thread_id, 0):
                self._newest[thread_id] = read
        if reconcile and complete:
            read_up_to = max(newest_sent, max(seen, default=0))
            if live_from is not None:  # what the listener saw live was not read here
                read_up_to = min(read_up_to, live_from - 1)
            gone = await self.recorder.mark_gone(thread_id, seen, read_up_to + 1)
            if gone:
                log.info("%d replies in lesson thread %s were deleted while I was away.",
                         gone, thread_id)
        return new

    async def _record_page(self, thread: LessonThread, page: dict[int, discord.Message],
                           move_cursor: bool = True) -> int:
        """Record a page of history and move the thread's cursor past it, in one transaction."""
        replies = [r for m in page.values()
                   if (r := await self.threads.reply_from(m, thread, page))]
        cursors = {thread.info.thread_id: max(page)} if move_cursor else None
        return await self.recorder.record_page(replies, page, cursors)
