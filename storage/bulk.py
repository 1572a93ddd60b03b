"""Recording batches of replies in a process of its own (the reply stream's database writer).

A burst of replies keeps the event loop busy with discord.py's parsing. Written from the
bot's process (the loop itself, or a thread beside it), the rows cost the loop the GIL:
measured with ``benchmarks/replies.py``, a batch that takes 130 ms on an idle machine took
over a second during a burst, so replies piled up faster than they were written. In a
process of its own, the writer has a core of its own and its own GIL; the bot's process only
pickles each batch (about 3 us a reply).

The child writes a batch as :meth:`storage.replies.ReplyStore.record` does (one transaction,
duplicates ignored, the students' work rows touched): on PostgreSQL by running it on an
event loop of its own, on SQLite with a plain connection (see :class:`_SQLiteWriter`).
Batches are written one at a time, in the order given.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import multiprocessing
import signal
from collections.abc import Sequence

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url

from storage.base import rowcount
from storage.engine import configure_sqlite, create_engine, create_sessionmaker, in_memory
from storage.models import Reply
from storage.records import NewReply
from storage.replies import ReplyStore, reply_values
from storage.work import touch_sync


class ReplyWriterProcess:
    """Records replies like :meth:`ReplyStore.record`, in a child process."""

    def __init__(self, url: str) -> None:
        if in_memory(url):
            raise ValueError(f"a reply writer process needs a database file, not {url!r}")
        self._url = url
        self._executor = self._start()

    @classmethod
    def for_url(cls, url: str) -> ReplyWriterProcess | None:
        """A writer for a database file or server; None for an in-memory SQLite database
        (another process cannot open it: its replies are written by the bot's process)."""
        try:
            return cls(url)
        except ValueError:
            return None

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the bot's process has threads (a fork would copy their locks).
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_open, initargs=(self._url,))
        executor.submit(_ready)  # start the process now, not at the first batch
        return executor

    def submit(self, replies: Sequence[NewReply]) -> asyncio.Future[int]:
        """Hand replies over to be recorded in one transaction; the future says how many
        were new.

        If the child died (killed, out of memory), a new one is started and the future
        fails: the caller keeps the batch and tries again.
        """
        executor = self._executor
        try:
            future = asyncio.wrap_future(executor.submit(_record, list(replies)))
        except concurrent.futures.BrokenExecutor as error:
            self._restart(executor)
            failed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            failed.set_exception(error)
            return failed
        future.add_done_callback(lambda done: self._restart_if_broken(executor, done))
        return future

    def _restart_if_broken(self, executor: concurrent.futures.ProcessPoolExecutor,
                           done: asyncio.Future[int]) -> None:
        if not done.cancelled() and isinstance(done.exception(),
                                               concurrent.futures.BrokenExecutor):
            self._restart(executor)

    def _restart(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        """Replace a broken executor by a new process (once, however many batches failed)."""
        if self._executor is executor:
            executor.shutdown(wait=False)
            self._executor = self._start()

    async def close(self) -> None:
        """Let the child finish what it was given, close its database connections, stop it."""
        await asyncio.to_thread(self._executor.shutdown, wait=True)


# --- in the child process ----------------------------------------------------------------------

_COLUMNS = list(Reply.__table__.c)
_NAMES = [column.name for column in _COLUMNS]


class _SQLiteWriter:
    """The child's writer on SQLite: one synchronous connection, one ``executemany`` a batch.

    No event loop and no aiosqlite thread (a batch cost three times as much through them),
    and ``executemany`` rather than the repository's multi-row pages: those keep the GIL
    hand-overs few in the bot's process, where none are made here. Values go through the
    columns' own converters (times: UTC, then SQLite's text format), so a row is stored
    exactly as :meth:`ReplyStore.record` stores it (tested).
    """

    def __init__(self, url: str) -> None:
        self.engine = create_sync_engine(make_url(url).set(drivername="sqlite+pysqlite"))
        configure_sqlite(self.engine)
        dialect = self.engine.dialect
        processors = [column.type.dialect_impl(dialect).bind_processor(dialect)
                      for column in _COLUMNS]
        self.convert = [(i, f) for i, f in enumerate(processors) if f is not None]
        self.insert = (f"INSERT OR IGNORE INTO {Reply.__tablename__} ({', '.join(_NAMES)}) "
                       f"VALUES ({', '.join('?' * len(_NAMES))})")

    def record(self, replies: list[NewReply]) -> int:
        rows = []
        for reply in replies:
            values = reply_values(reply)
            row = [values[name] for name in _NAMES]
            for index, convert in self.convert:
                row[index] = convert(row[index])
            rows.append(tuple(row))
        if not rows:
            return 0
        with self.engine.begin() as connection:
            new = rowcount(connection.exec_driver_sql(self.insert, rows))
            touch_sync(connection, [(r.course, r.post_id, r.author_id) for r in replies])
        return new

    def close(self) -> None:
        self.engine.dispose()


class _AsyncWriter:
    """The child's writer on PostgreSQL: :meth:`ReplyStore.record` on its own event loop."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(url)
        self.store = ReplyStore(create_sessionmaker(self.engine))

    def record(self, replies: list[NewReply]) -> int:
        return self.loop.run_until_complete(self.store.record(replies))

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()


_writer: _SQLiteWriter | _AsyncWriter | None = None  # the child's own (set by _open)


def _open(url: str) -> None:
    """Set the child up: its writer, closed at exit; the bot's process decides when to stop.

    Ctrl-C and a service stop reach every process of the group: the child ignores them and
    finishes the batches the bot still hands over while it closes.
    """
    global _writer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _writer = (_SQLiteWriter(url) if make_url(url).get_backend_name() == "sqlite"
               else _AsyncWriter(url))
    atexit.register(_writer.close)


def _ready() -> bool:
    return _writer is not None


def _record(replies: list[NewReply]) -> int:
    assert _writer is not None, "the pool's initializer opens the writer"
    return _writer.record(replies)
