"""District benchmark: many classes on one bot, with Discord's rate limits on.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.district                 # 1,000 servers (several minutes)
    .venv/bin/python -m benchmarks.district --servers 100   # a quick run
    .venv/bin/python -m benchmarks.district --postgresql postgresql+asyncpg://u:p@host/bench

The emulator runs in its own process with ``--servers`` servers, each with a class channel,
a teacher and a student role, ``--students`` students, and a course whose posted lesson has
``--threads`` open question threads (recorded in the bot's database, as the posting cog
leaves them). Then Discord's rate limits are switched on (tests/emulator/ratelimit.py:
per-route buckets, 50 requests a second in all) and the real bot starts (``python -m bot
run``): one process on SQLite; then, with ``--postgresql``, two processes of one shard each
on PostgreSQL (a new emulator with two shards, the same world). Printed for each:

1. start-up until every course is served (connected, commands synced, threads read back: the
   bot's last start-up request): the time, the requests, the bot's memory (its processes
   together), per course too;
2. a resume with nothing missed: the history requests it made (target 0);
3. an outage Discord could not resume, during which ``--outage-replies`` replies are written
   across ``--outage-threads`` threads: the time until all are recorded, next to the floor
   that the rate limits set for the requests catching up needs (target at most 1.5x). Two
   processes share the bot's limits (Discord counts them per bot): the floor is the same.

The exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchmarks.replies import REPO_ROOT, Database, child, fresh_database, rss
from tests.emulator.control import EmulatorProcess
from tests.emulator.ratelimit import GLOBAL_PER_SECOND

LESSON = "stalins-crimes-and-russias-future"
HISTORY = "GET /channels/{id}/messages"
TARGET_RESUME_READS = 0
TARGET_FLOOR_RATIO = 1.5
PATIENCE = 600.0  # seconds without progress before the benchmark gives up
REPLY = "reply {i}: the archives were opened and the families finally learnt the truth."


def spec(servers: int, students: int) -> dict[str, Any]:
    """The emulated district: one server per class."""
    return {"guilds": [{
        "name": f"School {n:04d}",
        "roles": [{"name": "Teacher"}, {"name": "Student"}],
        "channels": [{"name": "class"}],
        "students": students, "student_role": "Student",
    } for n in range(servers)]}


def write_config(emu: EmulatorProcess, world: dict[str, Any], folder: Path,
                 database_url: str, shard: int | None = None, shards: int = 1) -> Path:
    """The bot's config: every course; with ``shard``, that shard of ``shards`` only."""
    courses = {f"class-{n:04d}": {
        "name": guild["name"], "guild_id": guild["id"],
        "channel_id": guild["channels"]["class"],
        "teacher_role_id": guild["roles"]["Teacher"],
        "student_role_id": guild["roles"]["Student"],
    } for n, guild in enumerate(world["guilds"])}
    discord: dict[str, Any] = {"api_base": emu.api_base, "gateway_url": emu.gateway_url}
    if shard is not None:
        discord |= {"shard_count": shards, "shard_ids": [shard]}
    config = {"discord": discord, "database": {"url": database_url},
              "lessons": {"folder": str(REPO_ROOT / "prompts")},
              "log_level": "WARNING", "courses": courses}
    path = folder / f"config-{shard if shard is not None else 'all'}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def record_posts(database_url: str, world: dict[str, Any],
                       threads: dict[str, list[int]]) -> None:
    """Each course's lesson, posted and its threads open, as the posting cog records them."""
    from storage.engine import create_engine, create_sessionmaker
    from storage.migrate import upgrade_engine
    from storage.repository import Repository

    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine)
        repo = Repository(create_sessionmaker(engine))
        now = dt.datetime.now(dt.UTC)
        for n, guild in enumerate(world["guilds"]):
            channel = guild["channels"]["class"]
            post_id = await repo.posts.claim(f"class-{n:04d}", LESSON, now,
                                             now + dt.timedelta(days=7), "benchmark")
            assert post_id is not None
            ids = threads[str(channel)]
            await repo.posts.record_message(post_id, channel, ids[0])
            for index, thread_id in enumerate(ids):
                await repo.posts.record_thread(post_id, index, thread_id, thread_id)
            await repo.posts.mark(post_id, "posted")
    finally:
        await engine.dispose()


async def history_reads(emu: EmulatorProcess) -> int:
    stats = await emu.call("GET", "stats")
    return int(stats["calls_by_route"].get(HISTORY, 0))


async def answered_history_reads(emu: EmulatorProcess) -> int:
    """History reads Discord answered (a read refused with a 429 is made again)."""
    stats = await emu.call("GET", "stats")
    return int(stats["calls_by_route"].get(HISTORY, 0)
               - stats["refused_by_route"].get(HISTORY, 0))


async def wait_for(check: Any, what: str, bots: list[asyncio.subprocess.Process]) -> float:
    """Poll ``check`` (async, truthy when done) until it holds; the seconds it took."""
    started = time.monotonic()
    while not await check():
        for bot in bots:
            if bot.returncode is not None:
                raise RuntimeError(f"a bot process exited ({bot.returncode}) while waiting "
                                   f"for {what}")
        if time.monotonic() - started > PATIENCE:
            raise RuntimeError(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def run(servers: int, students: int, threads_each: int, outage_replies: int,
              outage_threads: int, postgresql: str | None) -> bool:
    total_threads = servers * threads_each
    print(f"machine: {psutil.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.machine()}, {platform.system()} {platform.release()}")
    print(f"{servers:,} servers, a course each, {students} students, {threads_each} open "
          f"lesson threads per course ({total_threads:,} threads); Discord's rate limits on "
          f"({GLOBAL_PER_SECOND} requests/s in all)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="seminar-district-") as tmp:
        folder = Path(tmp)
        print("SQLite, one process:")
        ok &= await scenario(folder, await fresh_database(None, folder), 1, servers, students,
                             threads_each, outage_replies, outage_threads)
        if postgresql is not None:
            print("PostgreSQL, two processes of one shard each:")
            ok &= await scenario(folder, await fresh_database(postgresql, folder), 2, servers,
                                 students, threads_each, outage_replies, outage_threads)
    return ok


async def scenario(folder: Path, database_url: str, processes: int, servers: int,
                   students: int, threads_each: int, outage_replies: int,
                   outage_threads: int) -> bool:
    """Measure one deployment: ``processes`` bot processes (one shard each when several)."""
    async with EmulatorProcess.run(spec=spec(servers, students), shards=processes) as emu:
        world = emu.info["world"]
        threads = await emu.call("POST", "open_threads", {"threads": {
            str(g["channels"]["class"]): [f"Question {i + 1}" for i in range(threads_each)]
            for g in world["guilds"]}})
        await record_posts(database_url, world, threads)
        configs = ([write_config(emu, world, folder, database_url)] if processes == 1 else
                   [write_config(emu, world, folder, database_url, shard, processes)
                    for shard in range(processes)])
        await emu.call("POST", "rate_limits", {"enabled": True})
        stats = await emu.call("GET", "stats")
        calls_before, limited_before = stats["calls"], stats["rate_limited"]
        started = time.monotonic()
        async with contextlib.AsyncExitStack() as stack:
            bots = [await stack.enter_async_context(
                child(["-m", "bot", "--config", str(config), "run"], emu.token))
                for config in configs]
            # 1. Start-up: served once connected and every start-up request is answered
            # (commands synced, threads read back): the bot is then quiet.
            await wait_for(lambda: _identified(emu, processes), "the connection", bots)
            startup = await quiet(emu) - started
            stats = await emu.call("GET", "stats")
            memory = sum(rss(bot) for bot in bots)
            print(f"  start-up to every course served: {startup:.1f} s, "
                  f"{stats['calls'] - calls_before:,} requests "
                  f"({stats['rate_limited'] - limited_before:,} of them answered 429, "
                  f"{stats['calls_by_route'].get(HISTORY, 0):,} history reads), "
                  f"memory {memory / 2**20:.1f} MiB = {memory / servers / 1024:.1f} KiB "
                  "a course")

            # 2. A resume with nothing missed.
            before = await history_reads(emu)
            resumes = (await emu.call("GET", "stats"))["resume_count"]
            await emu.call("POST", "drop_gateway", {"resumable": True})
            await wait_for(lambda: _resumed(emu, resumes + processes), "the resume", bots)
            await quiet(emu)  # the catch-up after a resume starts at once
            resume_reads = await history_reads(emu) - before
            mark = "ok" if resume_reads <= TARGET_RESUME_READS else "MISSED"
            print(f"  resume with nothing missed: {resume_reads} history requests "
                  f"(target {TARGET_RESUME_READS}) {mark}")

            # 3. An outage Discord cannot resume, with replies written meanwhile.
            db = Database(database_url)
            try:
                recorded_before = await db.count()
                await emu.call("POST", "drop_gateway", {"resumable": False, "hold": True})
                students_of = {str(g["channels"]["class"]): list(g["members"].values())
                               for g in world["guilds"]}
                busy = [(tid, students_of[channel]) for channel, ids in threads.items()
                        for tid in ids][:outage_threads]
                each = max(1, outage_replies // len(busy))
                for thread_id, authors in busy:
                    await emu.call("POST", "user_messages", {
                        "channel_id": thread_id, "author_ids": authors, "count": each,
                        "content": REPLY})
                written = each * len(busy)
                reads_before = await answered_history_reads(emu)
                stats = await emu.call("GET", "stats")
                calls_before, sessions = stats["calls"], stats["identify_count"]
                limited_before = stats["rate_limited"]
                await emu.call("POST", "release_gateway")
                # From the new sessions on (discord.py's reconnect back-off is not ours).
                reconnect = await wait_for(lambda: _identified(emu, sessions + processes),
                                           "the new sessions", bots)
                ready = time.monotonic()
                await wait_for(lambda: _recorded(db, recorded_before + written),
                               "the missed replies", bots)
                caught_up = time.monotonic() - ready
            finally:
                await db.close()
            stats = await emu.call("GET", "stats")
            reads = (stats["calls_by_route"].get(HISTORY, 0)
                     - stats["refused_by_route"].get(HISTORY, 0) - reads_before)
            requests = stats["calls"] - calls_before
            floor = reads / GLOBAL_PER_SECOND
            ratio = caught_up / floor if floor else float("inf")
            mark_floor = "ok" if ratio <= TARGET_FLOOR_RATIO else "MISSED"
            print(f"  outage without resume, {written:,} replies in {len(busy):,} threads: "
                  f"reconnected in {reconnect:.1f} s, then all recorded in "
                  f"{caught_up:.1f} s; {requests:,} requests "
                  f"({stats['rate_limited'] - limited_before:,} answered 429, "
                  f"{reads:,} history reads answered); the rate limits' floor for those reads "
                  f"{floor:.1f} s; {ratio:.2f}x the floor (target <= "
                  f"{TARGET_FLOOR_RATIO}) {mark_floor}")
    return resume_reads <= TARGET_RESUME_READS and ratio <= TARGET_FLOOR_RATIO


async def quiet(emu: EmulatorProcess, seconds: float = 2.0) -> float:
    """Wait until the bot has made no request for ``seconds``; when its last one came."""
    last, last_at = -1, time.monotonic()
    while True:
        calls = int((await emu.call("GET", "stats"))["calls"])
        if calls != last:
            last, last_at = calls, time.monotonic()
        elif time.monotonic() - last_at >= seconds:
            return last_at
        await asyncio.sleep(0.2)


async def _identified(emu: EmulatorProcess, count: int) -> bool:
    return int((await emu.call("GET", "stats"))["identify_count"]) >= count


async def _resumed(emu: EmulatorProcess, count: int) -> bool:
    return int((await emu.call("GET", "stats"))["resume_count"]) >= count


async def _recorded(db: Database, count: int) -> bool:
    return await db.count() >= count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--threads", type=int, default=6, help="open lesson threads a course")
    parser.add_argument("--outage-replies", type=int, default=10_000)
    parser.add_argument("--outage-threads", type=int, default=600)
    parser.add_argument("--postgresql", metavar="URL",
                        default=os.environ.get("SEMINAR_BENCH_DATABASE_URL"),
                        help="also run two processes of one shard each on this PostgreSQL "
                             "database (default: $SEMINAR_BENCH_DATABASE_URL); its public "
                             "schema is DROPPED first, so give it a database of its own")
    args = parser.parse_args(argv)
    ok = asyncio.run(run(args.servers, args.students, args.threads, args.outage_replies,
                         min(args.outage_threads, args.servers * args.threads),
                         args.postgresql))
    if not ok:
        print("TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
