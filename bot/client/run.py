"""Start-up and shutdown: point discord.py at its servers, open storage, log in, run.

Start path (the same for ``seminar run`` and the integration tests)::

    async with open_bot(settings, sync=False) as bot:   # endpoints, lessons, storage
        exit_code = await serve(bot, token)             # log in, connect, run

:func:`run_bot` wraps that with logging (the token redacted) and SIGINT/SIGTERM handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import discord
import yarl

from bot.client.bot import SeminarBot, create_bot
from bot.client.logs import LOGIN_TROUBLE, NETWORK_ERRORS, cannot_reach, setup_logging
from bot.client.sync import DEVELOPER_PORTAL
from bot.core.config import DEFAULT_API_BASE, Settings
from bot.core.lessons import Lesson, load_lessons
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import MigrationError, upgrade
from storage.repository import Repository

log = logging.getLogger(__name__)

DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py's REST and gateway clients at the configured (or Discord's) servers.

    Both are class attributes of discord.py, so one process runs one bot configuration.
    """
    discord.http.Route.BASE = settings.discord.api_base
    gateway = yarl.URL(settings.discord.gateway_url or DISCORD_GATEWAY)
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway



TOKEN_REJECTED = (
    "Discord rejected the bot token in the environment variable {var}. Open {portal}, choose "
    "your application, open 'Bot', press 'Reset Token', then `export {var}='the-new-token'` "
    "and start Seminar again."
)
INTENTS_MISSING = (
    "Discord refused the privileged intents Seminar needs. Open {portal}, choose your "
    "application, open 'Bot', switch on 'Server Members Intent' and 'Message Content Intent' "
    "under 'Privileged Gateway Intents', save, and start Seminar again."
)


@contextlib.asynccontextmanager
async def open_bot(
    settings: Settings,
    *,
    sync: bool = False,
    lessons: Mapping[str, Lesson] | None = None,
    **options: Any,
) -> AsyncIterator[SeminarBot]:
    """Point discord.py at the configured servers, load lessons, open storage, build the bot.

    The database is upgraded to the newest schema first (:class:`MigrationError` if it
    cannot be reached). On exit the bot is closed and the engine disposed, however the
    block ends.
    """
    configure_endpoints(settings)
    if lessons is None:
        lessons = load_lessons(settings.lessons.folder)
    # storage.migrate.upgrade runs its own event loop: give it a thread.
    await asyncio.to_thread(upgrade, settings.database.url)
    engine = create_engine(settings.database.url)
    try:
        bot = create_bot(settings, lessons, repository=Repository(create_sessionmaker(engine)),
                         force_sync=sync, **options)
        async with bot:
            yield bot
    finally:
        await engine.dispose()


#: Waits between attempts to reach Discord at start-up (the last one repeats).
REACH_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def retry_delay(attempt: int) -> float:
    """The pause before another try to reach Discord (``attempt`` counts from 0)."""
    return REACH_RETRY_DELAYS[min(attempt, len(REACH_RETRY_DELAYS) - 1)]


def _configured(settings: Settings) -> bool:
    return (settings.discord.api_base != DEFAULT_API_BASE
            or settings.discord.gateway_url is not None)


DISCORD_IN_TROUBLE = (
    "Discord answered {status} at {address}: its servers are having trouble (see "
    "https://discordstatus.com)."
)


def login_trouble(settings: Settings, exc: BaseException) -> str:
    """The sentence for a login that failed for want of Discord, not for a bad token."""
    address = settings.discord.api_base
    if isinstance(exc, discord.DiscordServerError):
        return DISCORD_IN_TROUBLE.format(status=exc.status, address=address)
    return cannot_reach(address, exc, configured=_configured(settings))


async def reach_discord(bot: SeminarBot, *, retry: bool) -> bool:
    """Wait until Discord's REST API answers at all (any HTTP status); False if it did not.

    With ``retry``, as a running bot does (the network may come up after the bot, at
    boot), it tries again with growing pauses until it gets an answer or the bot is
    closed, each failure logged as a sentence naming the address and what to check.
    """
    settings = bot.settings
    address = settings.discord.api_base
    attempt = 0
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not bot.is_closed():
            try:
                async with session.get(f"{address}/gateway"):
                    return True
            except NETWORK_ERRORS as exc:
                sentence = cannot_reach(address, exc, configured=_configured(settings))
                if not retry:
                    log.error("%s", sentence)
                    return False
                delay = retry_delay(attempt)
                log.warning("%s Trying again in %g s.", sentence, delay)
                attempt += 1
                await bot.pause(delay)
    return False


async def serve(bot: SeminarBot, token: str) -> int:
    """Log in, connect and run until the bot is closed; return the process exit code.

    A rejected token or missing privileged intents end with a sentence saying what to
    change in the developer portal (exit code 1), not a traceback. Until Discord can be
    reached, it waits and tries again (:func:`reach_discord`); once connected, discord.py
    reconnects by itself after network failures.
    """
    var = bot.settings.discord.token_env
    try:
        for attempt in itertools.count():
            if not await reach_discord(bot, retry=True):
                return 0  # closed (SIGTERM) while waiting for the network
            try:
                await bot.login(token)
                break
            except LOGIN_TROUBLE as exc:
                # The network failed again right after the check, or Discord is in trouble.
                delay = retry_delay(attempt)
                log.warning("%s Trying again in %g s.", login_trouble(bot.settings, exc),
                            delay)
                await bot.pause(delay)
        await bot.connect()
    except discord.LoginFailure:
        log.error(TOKEN_REJECTED.format(var=var, portal=DEVELOPER_PORTAL))
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error(INTENTS_MISSING.format(portal=DEVELOPER_PORTAL))
        return 1
    except discord.ConnectionClosed as exc:
        if exc.code != 4004:
            raise
        # The token was reset in the developer portal while the bot ran: Discord refuses
        # the next RESUME or IDENTIFY with 4004 instead of answering 401 at login.
        log.error(TOKEN_REJECTED.format(var=var, portal=DEVELOPER_PORTAL))
        return 1
    return 0


@contextlib.contextmanager
def close_on_signals(bot: SeminarBot) -> Iterator[None]:
    """Close the bot cleanly on SIGINT and SIGTERM while the block runs."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def stop(name: str) -> None:
        log.info("Received %s: shutting down.", name)
        task = loop.create_task(bot.close())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig.name)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def main(settings: Settings, token: str, *, sync: bool = False) -> int:
    """Run the bot until it is stopped; the exit code for the process."""
    try:
        async with open_bot(settings, sync=sync) as bot:
            with close_on_signals(bot):
                return await serve(bot, token)
    except MigrationError as exc:
        log.error("%s", exc)
        return 1


async def sync_now(settings: Settings, token: str) -> int:
    """Log in over REST only, sync every course guild's commands, and stop; the exit code."""
    try:
        async with open_bot(settings, sync=True) as bot:
            if not await reach_discord(bot, retry=False):
                return 1
            try:
                await bot.login(token)  # runs setup_hook, which syncs
            except discord.LoginFailure:
                log.error(TOKEN_REJECTED.format(var=settings.discord.token_env,
                                                portal=DEVELOPER_PORTAL))
                return 1
            except LOGIN_TROUBLE as exc:
                log.error("%s", login_trouble(settings, exc))
                return 1
            failed = [g for g in bot.course_guild_ids() if g not in bot.synced_guilds]
    except MigrationError as exc:
        log.error("%s", exc)
        return 1
    for guild_id in bot.synced_guilds:
        print(f"Synced the slash commands of server {guild_id}.")
    return 1 if failed else 0


@contextlib.asynccontextmanager
async def rest_client(settings: Settings, token: str) -> AsyncIterator[discord.Client]:
    """A client logged in over REST only (no gateway): :class:`OnlineTrouble` says why not."""
    configure_endpoints(settings)
    client = discord.Client(intents=discord.Intents.none())
    try:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise OnlineTrouble(TOKEN_REJECTED.format(var=settings.discord.token_env,
                                                      portal=DEVELOPER_PORTAL)) from None
        except LOGIN_TROUBLE as exc:
            raise OnlineTrouble(login_trouble(settings, exc)) from None
        yield client
    finally:
        await client.close()


class OnlineTrouble(Exception):
    """Discord could not be asked (a rejected token, no network); the message says why."""


async def online_check(settings: Settings, token: str, lessons: Mapping[str, Lesson],
                       ) -> tuple[list[str], dict[str, list[str]]]:
    """``seminar check --online``: every problem Discord shows, kept for ``seminar schedule``."""
    import datetime as dt

    from bot.client.server_check import check_online, keep_verdicts

    async with rest_client(settings, token) as client:
        general, by_course = await check_online(client, settings, lessons)
    await asyncio.to_thread(upgrade, settings.database.url)
    engine = create_engine(settings.database.url)
    try:
        await keep_verdicts(Repository(create_sessionmaker(engine)), general, by_course,
                            dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()
    return general, by_course


def sync_commands(settings: Settings, token: str) -> int:
    """``seminar sync``: push the slash commands to every course's server now."""
    setup_logging(settings.log_level, token)
    return asyncio.run(sync_now(settings, token))


def run_bot(settings: Settings, token: str, sync: bool = False) -> int:
    """``seminar run``: set up logging and run the bot until SIGINT/SIGTERM; the exit code."""
    setup_logging(settings.log_level, token)
    try:
        return asyncio.run(main(settings, token, sync=sync))
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130
