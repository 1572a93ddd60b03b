"""The reply recorder: a buffer of replies written in batches, edits and deletions applied.

No discord.py here: replies arrive as :class:`~storage.repository.NewReply` values, so a
burst does not cost a commit per message. Batches are written one transaction each, by a
process of their own (:mod:`storage.bulk`), so that the writes neither wait for a busy event
loop nor slow it down. An edit or a deletion of a reply not recorded yet waits for it
(:class:`~bot.core.participation_rules.UnmatchedChanges`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Final

from bot.core.participation_rules import Batch, Edit, ReplyBuffer, UnmatchedChanges
from storage.bulk import ReplyWriterProcess
from storage.records import NewReply, utcnow
from storage.repository import Repository

log = logging.getLogger(__name__)

# A batch is written once BATCH_SIZE replies wait or the oldest has waited BATCH_DELAY
# seconds. Replies that piled up during a write go together, up to MAX_BATCH: a row costs
# about 60 us in a batch of 100 and 30 us in a batch of 1,000 (SQLite, both threads).
BATCH_SIZE: Final = 500
BATCH_DELAY: Final = 0.5
MAX_BATCH: Final = 5_000
MAX_IN_FLIGHT: Final = 16  # batches handed to the writer process at once
MAX_WAITING: Final = 20_000  # past this (database down), replies are left to backfill
RETRY_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0)


def retry_delay(failures: int) -> float:
    """The pause after ``failures`` failures in a row (at least one)."""
    return RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]


def edited(reply: NewReply, edit: Edit) -> NewReply:
    """A waiting reply with an edit applied."""
    text = edit.text if edit.text is not None else reply.text
    return dataclasses.replace(reply, word_count=edit.word_count, char_count=edit.char_count,
                               text=text, edited_at=edit.at)


class ReplyRecorder:
    """Records replies exactly once: buffered, written in batches, retried when it fails.

    ``on_caught_up`` is called when the buffer empties after replies were left out of it
    (the database was behind): those are in Discord's history, for catch-up to read.
    """

    def __init__(self, repository: Repository, database_url: str, *,
                 on_caught_up: Callable[[], None]) -> None:
        self.repository = repository
        self.buffer: ReplyBuffer[NewReply] = ReplyBuffer(
            max_size=BATCH_SIZE, max_delay=BATCH_DELAY, max_batch=MAX_BATCH)
        self.unmatched = UnmatchedChanges()
        self.max_waiting = MAX_WAITING
        self.left_out = 0  # replies left out of a full buffer (for backfill), since start
        #: Held while writing, so that an edit or a page of history lands after its batch.
        self.lock = asyncio.Lock()
        self._database_url = database_url
        self._on_caught_up = on_caught_up
        self._loop = asyncio.get_running_loop()
        self._waiting = asyncio.Event()  # the buffer holds replies
        self._full = asyncio.Event()  # the buffer holds a whole batch
        self._closing = False
        self._dropped = False
        self._process: ReplyWriterProcess | None = None
        self._writer: asyncio.Task[None] | None = None
        # Batches handed to the writer process and not yet written (see flush).
        self._in_flight: set[asyncio.Task[bool]] = set()
        self._adding: set[asyncio.Task[None]] = set()  # replies being completed (see track)
        self._retry_at = 0.0
        self._failures = 0

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer task and the writer process (none for an in-memory database)."""
        self._process = ReplyWriterProcess.for_url(self._database_url)
        self._writer = asyncio.create_task(self._write_loop(), name="participation-writer")

    async def close(self) -> None:
        """Write every reply still waiting, then stop (before storage closes)."""
        if self._adding:
            await asyncio.wait(set(self._adding))
        self._closing = True
        self._waiting.set()
        self._full.set()
        if self._writer is not None:
            await self._writer
        await self.settle()
        if self.buffer:
            log.error("Shutting down with %d replies not written (the database refused "
                      "them); the next start reads them back from Discord.", len(self.buffer))
        if self._process is not None:
            await self._process.close()

    # --- replies, edits, deletions ------------------------------------------------------------

    @property
    def full(self) -> bool:
        """Whether the buffer holds as many replies as it may (the database is behind)."""
        return len(self.buffer) >= self.max_waiting

    def leave_out(self) -> None:
        """Count a reply left out of the full buffer: catch-up reads it back later."""
        self._dropped = True
        self.left_out += 1

    def add(self, reply: NewReply) -> None:
        """Queue a reply for the next batch (a duplicate of a waiting one changes nothing)."""
        if self.buffer.add(reply.message_id, reply, self._loop.time()):
            self._waiting.set()
            if self.buffer.full:
                self._full.set()
                self._hand_over()

    def track(self, adding: Coroutine[None, None, None]) -> None:
        """Run ``adding`` (a reply's look-ups, then :meth:`add`) in a task; close waits for it."""
        task = asyncio.create_task(adding)
        self._adding.add(task)
        task.add_done_callback(self._adding.discard)

    async def edit(self, message_id: int, edit: Edit) -> None:
        """Apply an author's edit to a waiting or recorded reply (or keep it for later)."""
        waiting = self.buffer.get(message_id)
        if waiting is not None:
            if waiting.edited_at is None or waiting.edited_at <= edit.at:
                self.buffer.replace(message_id, edited(waiting, edit))
            return
        async with self.lock:
            await self.settle()
            if not await self._apply_edit(message_id, edit):
                self.unmatched.edited(message_id, edit)

    async def mark_deleted(self, message_ids: Iterable[int]) -> None:
        """Mark replies deleted now, waiting in the buffer or recorded."""
        at = utcnow()
        recorded = [m for m in message_ids if not self.buffer.mark_deleted(m, at)]
        if not recorded:
            return
        async with self.lock:
            await self.settle()
            changed = await self.repository.replies.mark_deleted(recorded, at)
            if changed < len(recorded):
                for message_id in recorded:
                    self.unmatched.deleted(message_id, at)

    async def record_page(self, replies: list[NewReply], read: Mapping[int, object],
                          cursors: dict[int, int] | None) -> int:
        """Record replies read from history (and move cursors), in one transaction.

        ``read``: every message id of the page, for edits and deletions that waited.
        """
        async with self.lock:
            new = await self.repository.replies.record(replies, cursors=cursors)
            # Recorded live before it was edited while nobody listened, say.
            await self._apply_edits(replies)
            await self._apply_unmatched(read)
        return new

    async def mark_gone(self, thread_id: int, seen: set[int], below: int) -> int:
        """Mark deleted the recorded replies below ``below`` that a history read lacks."""
        async with self.lock:
            await self.settle()
            gone = await self.repository.replies.standing_ids(thread_id, below=below) - seen
            if gone:
                await self.repository.replies.mark_deleted(gone, utcnow())
        return len(gone)

    # --- writing batches ----------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Write batches as they become due, until closing and the buffer is empty."""
        while True:
            await self._waiting.wait()
            if self._closing:
                await self.settle()  # a batch that failed in the thread comes back first
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

        With the writer process, the batch is handed over and this returns at once:
        awaiting each write would cost loop turns, and replies would pile up while a burst
        keeps the loop busy. Up to MAX_IN_FLIGHT batches wait there, in order.
        Otherwise (and when shutting down) the batch is written before this returns. False
        if the database failed (the batch then waits again, ahead of newer replies).
        """
        async with self.lock:
            batch = self.buffer.take(self._loop.time())
            if not self.buffer:
                self._waiting.clear()
            if not self.buffer.full:
                self._full.clear()
            if not batch:
                return True
            if self._process is None or self._closing:
                return await self._write_batch(batch)
            while len(self._in_flight) >= MAX_IN_FLIGHT:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            self._start_batch(self._process, batch)
            return True

    def _hand_over(self) -> None:
        """Hand a full batch to the writer process now, without waiting for a loop turn.

        During a burst, discord.py reads the gateway messages already received one after
        another without letting other tasks run: a writer waiting for its turn let replies
        pile up by the ten thousand (``benchmarks/replies.py``). Not while an edit, a
        deletion or a history page holds the lock (they wait for the batches in flight).
        """
        if (self._process is None or self._closing or self.lock.locked()
                or len(self._in_flight) >= MAX_IN_FLIGHT or self._loop.time() < self._retry_at):
            return
        batch = self.buffer.take(self._loop.time())
        if not self.buffer:
            self._waiting.clear()
        if not self.buffer.full:
            self._full.clear()
        self._start_batch(self._process, batch)

    def _start_batch(self, process: ReplyWriterProcess, batch: Batch[NewReply]) -> None:
        """Give a batch to the writer process; a task finishes it (see _write_batch)."""
        written = process.submit(list(batch.replies.values()))
        task = asyncio.create_task(self._write_batch(batch, written))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self) -> None:
        """Write every reply waiting now, and wait for the batches in flight."""
        while self.buffer and await self.flush():
            pass
        await self.settle()

    async def settle(self) -> None:
        """Wait until every batch handed to the writer process is written (or failed)."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def _write_batch(self, batch: Batch[NewReply],
                           written: Awaitable[int] | None = None) -> bool:
        """Record a batch (or wait until the writer process has: ``written``), then the
        edits and deletions that concern it; False on failure."""
        started = self._loop.time()
        replies = list(batch.replies.values())
        try:
            if written is not None:
                await written
            else:
                await self.repository.replies.record(replies)
            # A backfill may have recorded a message before its edit.
            await self._apply_edits(replies)
            for at, ids in batch.deleted_by_time().items():
                await self.repository.replies.mark_deleted(ids, at)
            await self._apply_unmatched(batch.replies)
        except Exception:
            self.buffer.put_back(batch, self._loop.time())
            self._waiting.set()
            self._failures += 1
            delay = retry_delay(self._failures)
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
            self._on_caught_up()
        return True

    async def _apply_unmatched(self, message_ids: Iterable[int]) -> None:
        """Apply edits and deletions that arrived before these replies were recorded."""
        edits, deletions = self.unmatched.pop(message_ids)
        for message_id, edit in edits.items():
            await self._apply_edit(message_id, edit)
        for message_id, at in deletions.items():
            await self.repository.replies.mark_deleted([message_id], at)

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
        return await self.repository.replies.mark_edited(
            message_id, edit.at, edit.word_count, edit.char_count, edit.text)
