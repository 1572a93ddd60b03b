"""Several shards: each lesson is posted once and each reply recorded once, however many processes.

Discord sends a server's events to one shard, ``(guild_id >> 22) % shard_count``. Two servers,
one course each, sit on the two shards of a two-shard bot; a lesson is due in each a few
seconds after start; students answer in the threads of both (and some of their messages are
delivered twice). The end is read from the database, as a teacher's report reads it.

- Two real ``seminar run`` processes (``shard_ids: [0]`` and ``[1]``) on one PostgreSQL
  database and one emulator: once with each process told only about the course of its shard,
  once with both told about every course (each posts and listens only where its shards are).
  Generated only when SEMINAR_TEST_DATABASE_URL is set (two processes on one SQLite file is
  not a deployment Seminar supports).
- One process running both shards (an ``AutoShardedBot``), on SQLite (and PostgreSQL when
  set); also when Discord drops one shard's session (no resume) while students write.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest
import yaml

from bot.client.bot import SeminarBot, ShardedSeminarBot, shard_of
from bot.client.run import open_bot, serve
from bot.core.config import parse_settings
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.records import Post
from storage.repository import Repository
from tests.databases import PG_URL_VARIABLE, fresh_database_url
from tests.emulator import DiscordEmulator
from tests.emulator.model import INTENT_GUILD_MESSAGES, WAIT_TIMEOUT
from tests.integration.conftest import PROMPTS, SEED, until

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
SHARDS = 2
SEED_TITLE = "Stalin’s Crimes and Russia’s Future"
TOKEN_ENV = "SEMINAR_TEST_TOKEN"


@dataclass
class Server:
    """One school's server on one shard, with its course key and two students."""

    course: str
    shard: int
    guild_id: int
    channel_id: int
    alice: int
    bob: int


def guild_id_on(shard: int) -> int:
    """A server id whose events Discord sends to ``shard`` of :data:`SHARDS`."""
    guild_id = (1_000_000_000 + shard) << 22
    assert shard_of(guild_id, SHARDS) == shard
    return guild_id


def add_server(emulator: DiscordEmulator, course: str, shard: int) -> Server:
    guild = emulator.add_guild(f"School of {course}", id=guild_id_on(shard))
    channel = emulator.add_text_channel(guild.id, course)
    alice = emulator.add_member(guild.id, "alice")
    bob = emulator.add_member(guild.id, "bob")
    return Server(course, shard, guild.id, channel.id, alice.user_id, bob.user_id)


@pytest.fixture
def servers(emulator: DiscordEmulator) -> list[Server]:
    """A history course on shard 0 and a civics course on shard 1."""
    return [add_server(emulator, "history-a", 0), add_server(emulator, "civics-b", 1)]


def course_config(server: Server, post_at: dt.datetime) -> dict[str, Any]:
    """A course whose calendar posts the seed lesson at ``post_at`` (due two days later)."""
    def local(moment: dt.datetime) -> str:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")

    return {
        "name": server.course.title(),
        "guild_id": server.guild_id,
        "channel_id": server.channel_id,
        "timezone": "UTC",
        "calendar": {"entries": [{"lesson": SEED, "post_at": local(post_at),
                                  "due_at": local(post_at + dt.timedelta(days=2))}]},
    }


def config(emulator: DiscordEmulator, database_url: str, shard_ids: list[int],
           courses: dict[str, Any]) -> dict[str, Any]:
    return {
        "discord": {"api_base": emulator.api_base, "gateway_url": emulator.gateway_url,
                    "token_env": TOKEN_ENV, "shard_count": SHARDS, "shard_ids": shard_ids},
        "database": {"url": database_url},
        "lessons": {"folder": str(PROMPTS)},
        "log_level": "INFO",
        "courses": courses,
    }




@contextlib.asynccontextmanager
async def repository(url: str) -> AsyncIterator[Repository]:
    """The shared database, opened as a teacher's report (or ``seminar export``) would."""
    engine = create_engine(url)
    await upgrade_engine(engine)
    try:
        yield Repository(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def posted(repo: Repository, servers: list[Server]) -> dict[str, Post]:
    """Wait until each server's lesson is posted with both threads; the post of each course."""
    async def done() -> dict[str, Post] | None:
        found = {}
        for server in servers:
            posts = await repo.posts.matching(server.course)
            if not posts or posts[0].status == "claimed":
                return None
            if len(await repo.posts.threads_of(posts[0].id)) < 2:
                return None
            found[server.course] = posts[0]
        return found

    return await until(done)


def bot_messages(emulator: DiscordEmulator, channel_id: int) -> list[dict[str, Any]]:
    return [m for m in emulator.messages(channel_id)
            if int(m["author"]["id"]) == emulator.bot_user_id]


def assert_posted_once(emulator: DiscordEmulator, server: Server, post: Post) -> None:
    """One lesson message and a message with a thread per question, in the class channel."""
    assert post.status == "posted" and not post.late and post.attempts == 1
    titles = [m["embeds"][0]["title"] for m in bot_messages(emulator, server.channel_id)]
    assert titles == [SEED_TITLE, "Question 1 of 2", "Question 2 of 2"]
    assert len(emulator.threads(server.channel_id)) == 2


async def deliver_again(emulator: DiscordEmulator, server: Server,
                        message: dict[str, Any]) -> None:
    """The gateway delivers a message's MESSAGE_CREATE a second time (to its shard)."""
    channel = emulator.state.channel(int(message["channel_id"]))
    emulator.gateway.dispatch("MESSAGE_CREATE", emulator.message_event(channel, message),
                              guild_id=server.guild_id, intent=INTENT_GUILD_MESSAGES)
    await emulator.gateway.flush()


async def discuss(emulator: DiscordEmulator, repo: Repository, server: Server,
                  post: Post) -> list[dict[str, Any]]:
    """Alice and Bob answer both questions (Bob replying to Alice once); two messages are
    delivered twice. The four messages, once the bot has recorded them."""
    q1, q2 = [t.thread_id for t in await repo.posts.threads_of(post.id)]
    first = await emulator.user_message(q1, server.alice, "Fear of the past, I think.")
    second = await emulator.user_message(q1, server.bob, "I agree with you, Alice.",
                                         reply_to=int(first["id"]))
    third = await emulator.user_message(q2, server.alice, "Not with the young.")
    await deliver_again(emulator, server, first)
    fourth = await emulator.user_message(q2, server.bob, "Maybe for a while.")
    await deliver_again(emulator, server, fourth)
    messages = [first, second, third, fourth]
    await wait_recorded(repo, messages)
    return messages


async def wait_recorded(repo: Repository, messages: list[dict[str, Any]]) -> None:
    async def all_there() -> bool:
        return all([await repo.replies.get(int(m["id"])) is not None for m in messages])

    await until(all_there)


async def assert_recorded_once(repo: Repository, server: Server,
                               messages: list[dict[str, Any]]) -> None:
    """Each message is one reply of its course; the report's numbers per student."""
    replies = await repo.replies.matching(server.course, include_deleted=True)
    assert sorted(r.message_id for r in replies) == sorted(int(m["id"]) for m in messages)
    assert {r.guild_id for r in replies} == {server.guild_id}
    numbers = {s.author_id: (s.replies, s.questions_answered, s.peer_replies)
               for s in await repo.reports.summary(server.course)}
    alice_replies = sum(int(m["author"]["id"]) == server.alice for m in messages)
    bob_replies = len(messages) - alice_replies
    assert numbers == {server.alice: (alice_replies, 2, 0), server.bob: (bob_replies, 2, 1)}


# --- two processes, one PostgreSQL database ----------------------------------------------------


@dataclass
class Process:
    """A running ``seminar run`` and the file its log goes to."""

    shard: int
    process: asyncio.subprocess.Process
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def writing(path: Path) -> IO[bytes]:
    """``path`` opened for a child process to write its log to."""
    return path.open("wb")


@contextlib.asynccontextmanager
async def seminar_run(config_path: Path, shard: int, log_path: Path,
                      token: str) -> AsyncIterator[Process]:
    """Start ``seminar run`` with ``config_path``; SIGTERM it (and wait) when the block ends."""
    env = {**os.environ, TOKEN_ENV: token}
    with writing(log_path) as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(config_path), "run",
            cwd=REPO, env=env, stdout=log_file, stderr=log_file,
        )
        try:
            yield Process(shard, process, log_path)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


if os.environ.get(PG_URL_VARIABLE):  # not generated without PostgreSQL (never skipped)

    @pytest.mark.parametrize("told", [
        pytest.param("own", id="each-process-told-its-own-course"),
        pytest.param("all", id="both-processes-told-every-course"),
    ])
    async def test_two_shard_processes_on_one_postgresql_database_post_once_record_once(
        emulator: DiscordEmulator, servers: list[Server], tmp_path: Path, told: str
    ) -> None:
        url = await fresh_database_url("postgresql", tmp_path)
        post_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)
        courses = {s.course: course_config(s, post_at) for s in servers}
        paths = []
        for shard in range(SHARDS):
            mine = {s.course: courses[s.course] for s in servers
                    if told == "all" or s.shard == shard}
            path = tmp_path / f"shard-{shard}.yaml"
            # In this order: a process's scheduler goes through history-a before civics-b.
            text = yaml.safe_dump(config(emulator, url, [shard], mine), sort_keys=False)
            path.write_text(text, encoding="utf-8")
            paths.append(path)

        async with contextlib.AsyncExitStack() as stack:

            async def start(shard: int) -> Process:
                return await stack.enter_async_context(seminar_run(
                    paths[shard], shard, tmp_path / f"shard-{shard}.log", emulator.token))

            if told == "own":
                # Started together: both upgrade the new database and connect at once.
                processes = [await start(0), await start(1)]
            else:
                # Shard 1's process is alone when both lessons fall due: it posts its own
                # course and leaves history-a, whose server it cannot see, to shard 0's.
                history, civics = servers
                alone = await start(1)
                async with repository(url) as repo:
                    await posted(repo, [civics])
                    assert await repo.posts.matching(history.course) == []
                processes = [await start(0), alone]
            await emulator.wait_until_connected(timeout=30, shards=SHARDS)
            repo = await stack.enter_async_context(repository(url))
            posts = await posted(repo, servers)
            said = {s.course: await discuss(emulator, repo, s, posts[s.course])
                    for s in servers}
            for server in servers:
                # Each server's commands are answered by the process of its shard.
                answer = await emulator.invoke_command(server.guild_id, server.channel_id,
                                                       server.alice, "lesson")
                assert answer.embeds[0]["title"] == SEED_TITLE
        # Both processes stopped (SIGTERM); what they wrote is final.

        for proc in processes:
            log = proc.log()
            assert proc.process.returncode == 0, log
            assert "Traceback" not in log, log
            assert emulator.token not in log
            served = [s.course for s in servers if s.shard == proc.shard]
            assert f"Running shard(s) {proc.shard} of 2: posting and recording for " \
                   f"{', '.join(served)}" in log
            for server in servers:  # a server's commands are synced by its shard's process
                synced = f"Synced the slash commands of guild {server.guild_id}." in log
                assert synced == (server.shard == proc.shard), log
        for server in servers:
            # Each server's commands were synced once, not once a process.
            synced = emulator.calls_to("PUT", f"/guilds/{server.guild_id}/commands$")
            assert len(synced) == 1
        async with repository(url) as repo:
            for server in servers:
                (post,) = await repo.posts.matching(server.course)
                assert_posted_once(emulator, server, post)
                # Posted by the process whose shard has the server (a claimant names its pid).
                owner = processes[server.shard].process.pid
                assert f":{owner}:" in post.claimed_by
                await assert_recorded_once(repo, server, said[server.course])


# --- one process, both shards ----------------------------------------------------------------


async def fast_identify(shard_id: int | None, *, initial: bool = False) -> None:
    """IDENTIFY at once (Discord's 5 s between a process's IDENTIFYs is not the subject)."""


@contextlib.asynccontextmanager
async def running(settings_data: dict[str, Any], emulator: DiscordEmulator
                  ) -> AsyncIterator[SeminarBot]:
    """The bot started as ``seminar run`` starts it, ready; closed cleanly when the block ends."""
    settings = parse_settings(settings_data)
    async with open_bot(settings, guild_ready_timeout=0.1) as bot:
        bot.before_identify_hook = fast_identify  # type: ignore[method-assign]
        task = asyncio.create_task(serve(bot, emulator.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=WAIT_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        assert ready in done, "the bot did not get ready"
        try:
            yield bot
        finally:
            await asyncio.wait_for(bot.close(), timeout=WAIT_TIMEOUT)
            assert await asyncio.wait_for(task, timeout=WAIT_TIMEOUT) == 0


def both_shards(emulator: DiscordEmulator, servers: list[Server],
                database_url: str) -> dict[str, Any]:
    """One process running shards 0 and 1, both lessons due two seconds from now."""
    post_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    return config(emulator, database_url, [0, 1],
                  {s.course: course_config(s, post_at) for s in servers})


async def test_one_process_running_both_shards_posts_once_and_records_once(
    emulator: DiscordEmulator, servers: list[Server], database_url: str
) -> None:
    data = both_shards(emulator, servers, database_url)
    async with running(data, emulator) as bot, repository(database_url) as repo:
        assert isinstance(bot, ShardedSeminarBot)
        assert {bot.get_guild(s.guild_id).shard_id for s in servers} == {0, 1}  # type: ignore[union-attr]
        assert set(bot.served_courses()) == {s.course for s in servers}
        posts = await posted(repo, servers)
        said = {s.course: await discuss(emulator, repo, s, posts[s.course]) for s in servers}
        for server in servers:
            answer = await emulator.invoke_command(server.guild_id, server.channel_id,
                                                   server.bob, "lesson")
            assert answer.embeds[0]["title"] == SEED_TITLE

    async with repository(database_url) as repo:
        for server in servers:
            (post,) = await repo.posts.matching(server.course)
            assert_posted_once(emulator, server, post)
            await assert_recorded_once(repo, server, said[server.course])


async def test_a_shard_that_loses_its_session_catches_up_from_history(
    emulator: DiscordEmulator, servers: list[Server], database_url: str
) -> None:
    history, civics = servers
    data = both_shards(emulator, servers, database_url)
    async with running(data, emulator) as bot, repository(database_url) as repo:
        posts = await posted(repo, servers)
        first_threads = {s.course: (await repo.posts.threads_of(posts[s.course].id))[0].thread_id
                         for s in servers}
        # Discord drops shard 1's session (no resume) while students write in both servers:
        # shard 0 hears its server live; what is said in shard 1's server is only in history.
        # discord.py's on_ready comes once all shards are ready, so not for one shard alone.
        await emulator.drop_gateway(resumable=False, hold=True, shard_id=1)
        said = {s.course: [await emulator.user_message(
            first_threads[s.course], s.alice, f"Written while shard 1 was away ({s.course}).")]
            for s in servers}
        await wait_recorded(repo, said[history.course])
        identified = emulator.identify_count
        emulator.release_gateway()
        await emulator.wait_for(lambda: emulator.identify_count > identified)
        await wait_recorded(repo, said[civics.course])
        said[civics.course].append(await emulator.user_message(
            first_threads[civics.course], civics.bob, "And now shard 1 is back."))
        await wait_recorded(repo, said[civics.course])
        answer = await emulator.invoke_command(civics.guild_id, civics.channel_id, civics.bob,
                                               "lesson")
        assert answer.embeds[0]["title"] == SEED_TITLE
        assert bot.is_ready()

    async with repository(database_url) as repo:
        for server in servers:
            replies = await repo.replies.matching(server.course, include_deleted=True)
            assert sorted(r.message_id for r in replies) == sorted(
                int(m["id"]) for m in said[server.course])


async def test_a_sharded_start_reads_each_thread_back_once(
    emulator: DiscordEmulator, servers: list[Server], database_url: str
) -> None:
    """At start-up each thread that holds replies is read back once, not once for each
    shard's on_shard_ready and again for the on_ready that follows them."""
    data = both_shards(emulator, servers, database_url)
    async with running(data, emulator), repository(database_url) as repo:
        posts = await posted(repo, servers)
        for server in servers:
            await discuss(emulator, repo, server, posts[server.course])
        threads = [t.thread_id for s in servers
                   for t in await repo.posts.threads_of(posts[s.course].id)]

    first_call = len(emulator.calls)
    async with running(data, emulator) as bot:
        cog = bot.get_cog("ParticipationCog")
        assert cog is not None
        catch_up = cog.catch_up  # type: ignore[attr-defined]
        # Both shards' on_shard_ready came before the on_ready the bot was started up to.
        await emulator.wait_for(lambda: catch_up.runs >= 1 and not catch_up.busy)
        reads = [c.path for c in emulator.calls[first_call:]
                 if c.method == "GET" and c.path.endswith("/messages")]
        assert sorted(reads) == sorted(f"/channels/{t}/messages" for t in threads)
