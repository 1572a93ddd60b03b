"""Replies benchmark: how fast the bot records a stream of student replies, and its memory.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.replies                  # 100,000 replies, SQLite
    .venv/bin/python -m benchmarks.replies --replies 5000   # a quick run
    .venv/bin/python -m benchmarks.replies --postgresql postgresql+asyncpg://u:p@host/bench

The Discord emulator runs in its own process (``python -m tests.emulator``) with one school:
a class channel, ``--students`` students and one posted lesson with ``--threads`` question
threads. Two clients are measured, each in its own process:

1. *baseline*: Seminar's bot class (same intents, same member and message caches, same
   garbage-collector settings) with no cog loaded and a no-op ``on_message`` (it only
   counts, to know when it is done);
2. *bot*: the real bot, started as ``seminar run`` does (``python -m bot run``), with every
   cog, recording each reply in SQLite, then (with ``--postgresql``) in PostgreSQL, with a
   new emulator and database each time.

Each client in turn is connected alone to the emulator, which streams N replies round-robin
over the threads (the baseline's go to threads of their own, unknown to the bot).
``--together`` connects both at once instead and sends each reply to both: the same stream
under the same machine load, but three busy processes share the cores. A client's rate is N
divided by the time from the first reply sent to the last one seen (baseline) or until all
are in the database (bot); the ratio of the two is the figure. The bot's resident memory,
with its reply writer process (psutil), is read when its 1,000th reply is in the database
and again when all are. Targets: ratio >= 0.8; memory after N within 10% of memory after
1,000. The exit status is 1 when a target is missed.

The emulator, the client and (for the bot) its writer process and the database server share
the machine's cores: on a 2-core machine the emulator's sending takes most of one.

``--profile FILE`` runs the bot under cProfile (slower: the ratio then means nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml
from sqlalchemy import bindparam, text

from tests.databases import wipe_schema
from tests.emulator.control import EmulatorProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
COURSE = "history-101"
LESSON = "stalins-crimes-and-russias-future"
SEND_CHUNK = 500  # replies per control call (the emulator flushes its sockets once per call)
PACED_CHUNK = 100  # replies per control call with --rate
MEMORY_AT = 1_000
TARGET_RATIO = 0.8
TARGET_MEMORY_GROWTH = 0.10
PATIENCE = 60.0  # seconds without progress before the benchmark gives up
REPLY = "reply {i}: Stalin's terror shaped how Russians remember the war and the state."


# --- the baseline client (its own process) ---------------------------------------------------


def run_baseline_client(config: Path, milestones: set[int]) -> None:
    """Connect Seminar's bot class with no cogs; print a JSON line at each milestone count."""
    import discord

    from bot.client.bot import SeminarBot
    from bot.client.run import configure_endpoints
    from bot.core.config import load_settings
    from storage.engine import create_engine, create_sessionmaker
    from storage.repository import Repository

    settings = load_settings(config)
    configure_endpoints(settings)

    class Baseline(SeminarBot):
        """The bot as Seminar builds it, minus every cog: on_message does nothing."""

        seen = 0

        async def setup_hook(self) -> None:
            """Load nothing and sync nothing."""

        async def on_ready(self) -> None:
            # Once the bot's own READY listener (its garbage collector settings) has run.
            await asyncio.sleep(0)
            _say({"ready": time.monotonic()})

        async def on_message(self, message: discord.Message, /) -> None:
            self.seen += 1
            if self.seen in milestones:
                _say({"seen": self.seen, "t": time.monotonic()})

    async def main() -> None:
        # A database it never writes to: the bot needs one, the baseline records nothing.
        engine = create_engine("sqlite+aiosqlite://")
        client = Baseline(settings, {}, repository=Repository(create_sessionmaker(engine)))
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(client.close()))
        async with client:
            await client.start(os.environ[settings.discord.token_env])

    asyncio.run(main())


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


# --- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    """The emulated school and the lesson's threads."""

    emu: EmulatorProcess
    guild_id: int
    channel_id: int
    students: list[int]
    threads: list[int] = field(default_factory=list)  # the posted lesson's, in the database
    other_threads: list[int] = field(default_factory=list)  # the baseline's, unknown to the bot


async def bot_rest(emu: EmulatorProcess, session: aiohttp.ClientSession, method: str,
                   path: str, body: dict[str, Any]) -> Any:
    """Call the emulated Discord REST API as the bot (to post the lesson and its threads)."""
    headers = {"Authorization": f"Bot {emu.token}"}
    async with session.request(method, f"{emu.api_base}{path}", json=body,
                               headers=headers) as response:
        data = await response.json()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data}")
        return data


async def open_threads(world: World, count: int, label: str) -> list[int]:
    """Post a lesson message and a question message with a thread for each of ``count``."""
    async with aiohttp.ClientSession() as session:
        channel = f"/channels/{world.channel_id}/messages"
        await bot_rest(world.emu, session, "POST", channel, {"content": f"Lesson ({label})"})
        threads = []
        for index in range(count):
            question = await bot_rest(world.emu, session, "POST", channel,
                                      {"content": f"Question {index + 1} ({label})?"})
            thread = await bot_rest(world.emu, session, "POST",
                                    f"{channel}/{question['id']}/threads",
                                    {"name": f"Question {index + 1} ({label})"})
            threads.append(int(thread["id"]))
        return threads


async def post_lesson(world: World, count: int, database_url: str) -> None:
    """Post a lesson with ``count`` question threads, as the posting cog would, and record it."""
    from storage.engine import create_engine, create_sessionmaker
    from storage.migrate import upgrade_engine
    from storage.repository import Repository

    world.threads = await open_threads(world, count, "the bot's")
    world.other_threads = await open_threads(world, count, "the baseline's")
    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine)
        repo = Repository(create_sessionmaker(engine))
        now = dt.datetime.now(dt.UTC)
        post_id = await repo.posts.claim(COURSE, LESSON, now, now + dt.timedelta(days=2),
                                        "benchmark")
        assert post_id is not None
        await repo.posts.record_message(post_id, world.channel_id, world.threads[0])
        for index, thread_id in enumerate(world.threads):
            await repo.posts.record_thread(post_id, index, thread_id, thread_id)
        await repo.posts.mark(post_id, "posted")
    finally:
        await engine.dispose()


def write_config(world: World, folder: Path, database_url: str) -> Path:
    """The bot's config.yaml for the emulated school (log level: SEMINAR_BENCH_LOG_LEVEL)."""
    config = {
        "discord": {"api_base": world.emu.api_base, "gateway_url": world.emu.gateway_url},
        "database": {"url": database_url},
        "lessons": {"folder": str(REPO_ROOT / "prompts")},
        "log_level": os.environ.get("SEMINAR_BENCH_LOG_LEVEL", "WARNING"),
        "courses": {COURSE: {"name": "History 101", "guild_id": world.guild_id,
                             "channel_id": world.channel_id}},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def send_replies(world: World, threads: list[int], count: int, sent_ids: list[int],
                       start: int = 0, rate: float | None = None) -> None:
    """Stream ``count`` replies round-robin over ``threads``, adding their ids to ``sent_ids``.

    As fast as the emulator goes, or ``rate`` replies a second (in chunks of 100).
    """
    sent = 0
    turn = 0
    began = time.monotonic()
    chunk = SEND_CHUNK if rate is None else PACED_CHUNK
    while sent < count:
        if rate is not None:
            ahead = began + sent / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        size = min(chunk, count - sent)
        thread = threads[turn % len(threads)]
        turn += 1
        result = await world.emu.call("POST", "user_messages", {
            "channel_id": thread, "author_ids": world.students, "count": size,
            "content": REPLY.replace("{i}", f"{start + sent}+{{i}}")})
        sent_ids += [int(i) for i in result["ids"]]
        sent += size


# --- the clients -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def child(args: list[str], token: str,
                stdout: int | None = None) -> AsyncIterator[asyncio.subprocess.Process]:
    """A client process; stopped with SIGTERM (a clean close, which ends its gateway session)."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "DISCORD_TOKEN": token, "PYTHONPATH": path}
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=REPO_ROOT, env=env, stdout=stdout,
        stdin=asyncio.subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


class BaselineEvents:
    """What the baseline client printed: when it got ready and when it saw each milestone."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        self._stdout = process.stdout
        self.ready = False
        self.seen: dict[int, float] = {}
        self.rss: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.loop_cpu: dict[int, float] = {}
        self._process = process
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for line in self._stdout:
            event = json.loads(line)
            if "ready" in event:
                self.ready = True
            elif "seen" in event:
                # Read the process's figures right away, as for the bot.
                self.rss[event["seen"]] = rss(self._process)
                self.cpu[event["seen"]] = cpu(self._process)
                self.loop_cpu[event["seen"]] = main_thread_cpu(self._process)
                self.seen[event["seen"]] = event["t"]


class Database:
    """Look-ups in the bot's database, SQLite or PostgreSQL (cheap: primary-key seeks)."""

    def __init__(self, url: str) -> None:
        from storage.engine import create_engine

        self.engine = create_engine(url)

    async def has(self, message_id: int) -> bool:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                text("SELECT 1 FROM replies WHERE message_id = :id"), {"id": message_id})).first()
        return row is not None

    async def has_all(self, message_ids: list[int]) -> bool:
        async with self.engine.connect() as connection:
            found = (await connection.execute(
                text("SELECT count(*) FROM replies WHERE message_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)), {"ids": message_ids})).scalar_one()
        return int(found) == len(set(message_ids))

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(
                text("SELECT count(*) FROM replies"))).scalar_one())

    async def close(self) -> None:
        await self.engine.dispose()


async def fresh_database(url: str | None, folder: Path) -> str:
    """The URL of an empty database: a new SQLite file, or ``url`` with its schema wiped."""
    if url is None:
        return f"sqlite+aiosqlite:///{folder / 'seminar.db'}"
    await wipe_schema(url)
    return url


def _family(process: asyncio.subprocess.Process) -> list[psutil.Process]:
    """A client process and the processes it started (the bot's reply writer)."""
    parent = psutil.Process(process.pid)
    return [parent, *parent.children(recursive=True)]


def rss(process: asyncio.subprocess.Process) -> int:
    """Resident memory of a client process and its children, in bytes."""
    total = 0
    for member in _family(process):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def cpu(process: asyncio.subprocess.Process) -> float:
    """CPU seconds (user + system, all threads) a client process and its children have used."""
    total = 0.0
    for member in _family(process):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def main_thread_cpu(process: asyncio.subprocess.Process) -> float:
    """CPU seconds the main thread (the event loop) of a child process has used so far."""
    for thread in psutil.Process(process.pid).threads():
        if thread.id == process.pid:
            return float(thread.user_time + thread.system_time)
    return 0.0


async def _true(value: bool) -> bool:
    return value


async def until(check: Callable[[], Awaitable[bool]], what: str, processes: list[Any],
                seconds: float = PATIENCE) -> None:
    """Poll ``check()`` every 10 ms; fail after ``seconds`` or if a client process exits."""
    deadline = time.monotonic() + seconds
    while not await check():
        for process in processes:
            if process.returncode is not None:
                raise RuntimeError(f"a client exited (status {process.returncode}) while "
                                   f"waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Figures:
    """What each client did with the N replies."""

    replies: int
    together: bool
    pace: float | None = None  # replies a second sent, None: as fast as the emulator goes
    seconds: dict[str, float] = field(default_factory=dict)
    send_seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    loop_cpu_seconds: dict[str, float] = field(default_factory=dict)
    rss_small: dict[str, int] = field(default_factory=dict)
    rss_large: dict[str, int] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    #: The bot's figures by database ("SQLite", "PostgreSQL"), each with its baseline's key.
    baseline_of: dict[str, str] = field(default_factory=dict)

    def rate(self, client: str) -> float:
        return self.replies / self.seconds[client]


@contextlib.asynccontextmanager
async def clients(names: set[str], world: World, config: Path, milestones: str,
                  profile: Path | None) -> AsyncIterator[dict[str, asyncio.subprocess.Process]]:
    """Start the named client processes ("baseline", "bot"); stop them at the end."""
    async with contextlib.AsyncExitStack() as stack:
        started: dict[str, asyncio.subprocess.Process] = {}
        if "baseline" in names:
            started["baseline"] = await stack.enter_async_context(child(
                ["-m", "benchmarks.replies", "--baseline-client", str(config),
                 "--milestones", milestones], world.emu.token, stdout=asyncio.subprocess.PIPE))
        if "bot" in names:
            profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
            started["bot"] = await stack.enter_async_context(child(
                [*profiler, "-m", "bot", "--config", str(config), "run"], world.emu.token))
        yield started


async def measure(world: World, config: Path, database_url: str, figures: Figures,
                  names: set[str], threads: list[int], profile: Path | None,
                  label: str = "", baseline: str = "baseline") -> None:
    """Start these clients, stream the replies into ``threads``, and time each client.

    The bot's figures are kept under ``label`` (its database), the baseline's under
    ``baseline``.
    """
    warm_up = len(threads)
    total = warm_up + figures.replies
    milestones = f"{warm_up},{warm_up + MEMORY_AT},{total}"
    async with clients(names, world, config, milestones, profile) as processes:
        events = BaselineEvents(processes["baseline"]) if "baseline" in names else None
        db = Database(database_url)
        running = list(processes.values())
        try:
            if events is not None:
                await until(lambda: _true(events.ready), "the baseline client", running)
            if "bot" in names:
                # The bot is live once its gateway session is; the warm-up below then waits
                # until its replies are recorded (live, or by the catch-up at READY).
                for _ in range(int(PATIENCE * 10)):
                    stats = await world.emu.call("GET", "stats")
                    if stats["live_sessions"] >= len(processes):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the bot did not connect to the emulator")
            warm_ids: list[int] = []
            await send_replies(world, threads, warm_up, warm_ids)
            if "bot" in names:
                await until(lambda: db.has_all(warm_ids), "the warm-up replies", running)
            if events is not None:
                await until(lambda: _true(warm_up in events.seen), "the warm-up replies",
                            running)

            sent: list[int] = []
            cpu_before = {n: cpu(p) for n, p in processes.items()}
            loop_before = {n: main_thread_cpu(p) for n, p in processes.items()}
            started = time.monotonic()
            sending = asyncio.create_task(send_replies(world, threads, figures.replies, sent,
                                                       warm_up, figures.pace))
            keys = {"baseline": baseline, "bot": label}
            sending.add_done_callback(
                lambda _: figures.send_seconds.update(
                    {keys[name]: time.monotonic() - started for name in names}))
            if "bot" in names:
                figures.baseline_of[label] = baseline
                await follow_bot(figures, label, processes["bot"], db, sending, sent, total,
                                 started)
                bot = processes["bot"]
                figures.cpu_seconds[label] = cpu(bot) - cpu_before["bot"]
                figures.loop_cpu_seconds[label] = main_thread_cpu(bot) - loop_before["bot"]
                recorded = await db.count()
                if recorded != total:
                    raise RuntimeError(f"the bot recorded {recorded:,} replies, not {total:,}")
            if events is not None:
                await until(lambda: _true(total in events.seen),
                            "the baseline client to see them all",
                            running, seconds=1800)
                figures.seconds[baseline] = events.seen[total] - started
                figures.cpu_seconds[baseline] = events.cpu[total] - cpu_before["baseline"]
                figures.loop_cpu_seconds[baseline] = (events.loop_cpu[total]
                                                      - loop_before["baseline"])
                figures.rss_small[baseline] = events.rss[warm_up + MEMORY_AT]
                figures.rss_large[baseline] = events.rss[total]
            await sending
        finally:
            await db.close()
            if events is not None:
                events.task.cancel()


async def follow_bot(figures: Figures, label: str, bot: asyncio.subprocess.Process,
                     db: Database, sending: asyncio.Task[None], sent: list[int], total: int,
                     started: float) -> None:
    """Wait until every reply is in the bot's database, reading its memory on the way."""
    last_count, last_change, last_check = -1, started, started
    while True:
        now = time.monotonic()
        figures.peak_rss[label] = max(figures.peak_rss.get(label, 0), rss(bot))
        if sending.done():
            sending.result()  # raises if sending failed
        if (label not in figures.rss_small and len(sent) >= MEMORY_AT
                and await db.has(sent[MEMORY_AT - 1])):
            figures.rss_small[label] = rss(bot)
        # Counting is a scan: once a second, or when the last reply sent is in.
        if now - last_check > 1.0 or (sending.done() and await db.has(sent[-1])):
            last_check = now
            count = await db.count()
            if count >= total:
                figures.seconds[label] = now - started
                figures.rss_large[label] = rss(bot)
                figures.peak_rss[label] = max(figures.peak_rss[label], figures.rss_large[label])
                return
            if count == last_count and now - last_change > PATIENCE:
                raise RuntimeError(f"the bot stopped recording at {count:,} of {total:,} "
                                   "replies")
            if count != last_count:
                last_count, last_change = count, now
        if bot.returncode is not None:
            raise RuntimeError(f"the bot exited (status {bot.returncode})")
        await asyncio.sleep(0.01)


# --- figures -----------------------------------------------------------------------------------


def machine() -> str:
    """The machine the figures were measured on."""
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.machine()}, {platform.system()} {platform.release()}")


def report(figures: Figures) -> bool:
    """Print the figures; True if both targets are met on every database."""
    mib = 1024 * 1024
    n = figures.replies
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at the end (other "
          "processes share the cores)")
    how = ("both clients connected at once, each reply sent to both" if figures.together
           else "one client after the other, each alone with the emulator")
    pace = f"{figures.pace:,.0f} a second" if figures.pace else "as fast as the emulator goes"
    print(f"{n:,} replies a client, {pace}, {how}")
    ok = True
    for database, baseline in figures.baseline_of.items():
        names = {baseline: f"{baseline} (no-op on_message)",
                 database: f"bot on {database} (recording replies)"}
        for client, name in names.items():
            print(f"{name}: {figures.seconds[client]:.2f} s = {figures.rate(client):,.0f} "
                  f"replies/s (sent in {figures.send_seconds[client]:.2f} s); CPU "
                  f"{1e6 * figures.cpu_seconds[client] / n:.0f} us a reply (event loop "
                  f"{1e6 * figures.loop_cpu_seconds[client] / n:.0f}); memory "
                  f"{figures.rss_small[client] / mib:.1f} MiB after {MEMORY_AT:,} replies, "
                  f"{figures.rss_large[client] / mib:.1f} MiB after {n:,}")
        ratio = figures.rate(database) / figures.rate(baseline)
        growth = figures.rss_large[database] / figures.rss_small[database] - 1
        ratio_ok = ratio >= TARGET_RATIO
        growth_ok = abs(growth) <= TARGET_MEMORY_GROWTH
        print(f"{database}: ratio bot / baseline {ratio:.2f} (target >= {TARGET_RATIO}) "
              f"{'ok' if ratio_ok else 'MISSED'}; memory growth from {MEMORY_AT:,} to {n:,} "
              f"replies {growth:+.1%} (target within {TARGET_MEMORY_GROWTH:.0%}) "
              f"{'ok' if growth_ok else 'MISSED'}; peak {figures.peak_rss[database] / mib:.1f}"
              " MiB")
        ok = ok and ratio_ok and growth_ok
    print("targets met" if ok else "TARGET MISSED")
    return ok


async def run(replies: int, threads: int, students: int, together: bool,
              rate: float | None, profile: Path | None, postgresql: str | None) -> bool:
    """Set up the world, measure the baseline and the bot on each database, print it all."""
    spec = {"guilds": [{"name": "Benchmark High", "roles": [{"name": "Student"}],
                        "channels": [{"name": "history-101"}],
                        "students": students, "student_role": "Student"}]}
    figures = Figures(replies, together, rate)
    databases = {"SQLite": None, **({"PostgreSQL": postgresql} if postgresql else {})}
    with tempfile.TemporaryDirectory(prefix="seminar-bench-") as tmp:
        folder = Path(tmp)
        for label, url in databases.items():
            # A new emulator and database for each: the same world, nothing left over.
            async with EmulatorProcess.run(spec=spec) as emu:
                guild = emu.info["world"]["guilds"][0]
                world = World(emu, int(guild["id"]), int(guild["channels"]["history-101"]),
                              [int(m) for m in guild["members"].values()])
                database_url = await fresh_database(url, folder)
                await post_lesson(world, threads, database_url)
                config = write_config(world, folder, database_url)
                if together:
                    await measure(world, config, database_url, figures, {"baseline", "bot"},
                                  world.threads, profile, label, f"baseline with {label}")
                    continue
                if "baseline" not in figures.seconds:
                    await measure(world, config, database_url, figures, {"baseline"},
                                  world.other_threads, profile)
                await measure(world, config, database_url, figures, {"bot"}, world.threads,
                              profile, label)
    return report(figures)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --baseline-client, be the baseline's client process)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replies",
                                     description="How fast the bot records student replies.")
    parser.add_argument("--replies", type=int, default=100_000,
                        help="replies streamed (default 100,000)")
    parser.add_argument("--threads", type=int, default=10, help="lesson threads (default 10)")
    parser.add_argument("--students", type=int, default=30, help="students (default 30)")
    parser.add_argument("--together", action="store_true",
                        help="run both clients at once on one stream (default: one after "
                             "the other, each alone with the emulator)")
    parser.add_argument("--rate", type=float, metavar="N",
                        help="send N replies a second (default: as fast as the emulator can)")
    parser.add_argument("--postgresql", metavar="URL",
                        default=os.environ.get("SEMINAR_BENCH_DATABASE_URL"),
                        help="also measure the bot on this PostgreSQL database (default: "
                             "$SEMINAR_BENCH_DATABASE_URL); its public schema is DROPPED "
                             "first, so give it a database of its own")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="run the bot under cProfile and write its stats to FILE")
    parser.add_argument("--baseline-client", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--milestones", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_client is not None:
        run_baseline_client(args.baseline_client,
                            {int(n) for n in args.milestones.split(",") if n})
        return 0
    if args.replies < MEMORY_AT:
        parser.error(f"--replies must be at least {MEMORY_AT:,} (memory is read after "
                     f"{MEMORY_AT:,})")
    return 0 if asyncio.run(run(args.replies, args.threads, args.students, args.together,
                                args.rate, args.profile, args.postgresql)) else 1


if __name__ == "__main__":
    sys.exit(main())
