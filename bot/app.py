"""The discord.py bot: intents, cogs, the command tree's one error handler, command sync, start-up.

Start path (the same for ``seminar run`` and the integration tests)::

    async with open_bot(settings, token, sync=False) as bot:   # endpoints, lessons, storage
        exit_code = await serve(bot, token)                    # log in, connect, run

:func:`run_bot` wraps that with logging (the token redacted) and SIGINT/SIGTERM handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Protocol, TypeGuard

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.core.config import DEFAULT_API_BASE, CourseSettings, Settings
from bot.core.lessons import Lesson, load_lessons
from bot.errors import UserFacingError
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import MigrationError, upgrade
from storage.repository import Repository

log = logging.getLogger(__name__)

DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DEVELOPER_PORTAL = "https://discord.com/developers/applications"

# The cogs the bot loads, in order. Adding a cog is adding its module here.
EXTENSIONS: tuple[str, ...] = (
    "bot.cogs.lessons",
    "bot.cogs.posting",
    "bot.cogs.participation",
    "bot.cogs.teacher",
    "bot.cogs.students",
    "bot.cogs.reminders",
)

# Permissions the bot needs in a class channel, named the way Discord's settings name them.
NEEDED_PERMISSIONS: dict[str, str] = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
    "create_public_threads": "Create Public Threads",
    "manage_threads": "Manage Threads",
}

SERVER_TROUBLE = "Discord had a problem answering just now: please try the command again."
# Discord's code for "Interaction has already been acknowledged": an answer whose reply was
# lost (a 5xx after Discord had taken it) and was sent again by discord.py's retry.
ALREADY_ACKNOWLEDGED = 40060
APOLOGY = (
    "Sorry, something went wrong on my side. Please try again in a moment; if it keeps "
    "happening, tell your teacher (the details are in the bot's log)."
)


# --- endpoints and logging -----------------------------------------------------------------


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py's REST and gateway clients at the configured (or Discord's) servers.

    Both are class attributes of discord.py, so one process runs one bot configuration.
    """
    discord.http.Route.BASE = settings.discord.api_base
    gateway = yarl.URL(settings.discord.gateway_url or DISCORD_GATEWAY)
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


class RedactToken(logging.Filter):
    """Replaces the bot token wherever it would appear in a log record, tracebacks included."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def _redact(self, text: str) -> str:
        return text.replace(self.token, "[token]")

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = self._redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


#: Failures that mean "Discord could not be reached", not a bug to show a traceback for.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    OSError, aiohttp.ClientError, asyncio.TimeoutError, discord.GatewayNotFound)
#: ...and failures that mean Discord itself is in trouble for now (a 5xx at login).
LOGIN_TROUBLE: tuple[type[Exception], ...] = (*NETWORK_ERRORS, discord.DiscordServerError)
CANNOT_REACH = (
    "Cannot reach Discord at {address}: {reason}. Check this machine's network connection "
    "and DNS{config}."
)


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words a teacher or an operator can act on."""
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, socket.gaierror):
        return "its name could not be looked up (DNS)"
    if isinstance(cause, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, asyncio.TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, discord.GatewayNotFound):
        return "it did not say where its gateway is"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


def cannot_reach(address: str, exc: BaseException, *, configured: bool) -> str:
    """The sentence for a failed connection to ``address``."""
    config = (", and discord.api_base and discord.gateway_url in the config" if configured
              else "")
    return CANNOT_REACH.format(address=address, reason=network_reason(exc), config=config)


class NetworkTrouble(logging.Filter):
    """discord.py's reconnect messages as one line with the reason, not a traceback.

    While the bot runs, discord.py reconnects by itself after a network failure, logging
    "Attempting a reconnect in N s" with the whole traceback of the failure each time.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("discord.") or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if exc is None or not isinstance(exc, NETWORK_ERRORS):
            return True
        record.msg = f"Lost the connection to Discord ({network_reason(exc)}). {record.msg}"
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: str, token: str) -> None:
    """Log to stderr at ``level``, with the token redacted from every record."""
    discord.utils.setup_logging(level=logging.getLevelNamesMapping()[level], root=True)
    redact = RedactToken(token)
    trouble = NetworkTrouble()
    for handler in logging.getLogger().handlers:
        handler.addFilter(trouble)
        handler.addFilter(redact)


# --- command sync state ----------------------------------------------------------------------


class CommandHashStore(Protocol):
    """Where the hash of the last synced command set is kept (the database's bot state)."""

    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...


class MemoryHashStore:
    """Command hashes kept only while the process runs, for a bot without a database."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get_state(self, key: str) -> str | None:
        return self.values.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self.values[key] = value


def command_set_hash(payload: list[dict[str, Any]]) -> str:
    """A stable hash of a command set's payload (as sent to Discord)."""
    text = json.dumps(sorted(payload, key=lambda c: str(c.get("name"))), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the command tree and its error handler ------------------------------------------------


def _missing_permissions(interaction: discord.Interaction[Any]) -> list[str]:
    have = interaction.app_permissions
    return [label for name, label in NEEDED_PERMISSIONS.items() if not getattr(have, name)]


def _forbidden_sentence(interaction: discord.Interaction[Any]) -> str:
    missing = _missing_permissions(interaction)
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        return (f"I can't do that here: I need the {names} permission(s) in this channel. "
                "Please ask a server admin to give them to me.")
    return ("Discord did not let me do that in this channel: please ask a server admin to "
            "check my permissions here.")


def user_message(interaction: discord.Interaction[Any], error: Exception) -> str | None:
    """The sentence a user sees for a known error, or ``None`` when it is a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        return str(error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server channel, not in direct messages."
    if isinstance(error, app_commands.BotMissingPermissions):
        names = ", ".join(f"'{p.replace('_', ' ').title()}'" for p in error.missing_permissions)
        return f"I need the {names} permission(s) in this channel to do that."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} second(s)."
    if isinstance(error, app_commands.CheckFailure):
        text = str(error)
        return text if text and not text.startswith("The check functions") else (
            "You can't use this command here.")
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand {error.value!r}: please pick one of the suggestions."
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return ("This command was just updated and Discord hasn't caught up yet: please "
                "try again in a minute.")
    if isinstance(error, discord.Forbidden):
        return _forbidden_sentence(interaction)
    return None


def _already_acknowledged(error: BaseException) -> TypeGuard[discord.HTTPException]:
    """Whether Discord refused an answer because an earlier one, reply lost, was taken."""
    return isinstance(error, discord.HTTPException) and error.code == ALREADY_ACKNOWLEDGED


class SeminarTree(app_commands.CommandTree["SeminarBot"]):
    """The command tree, with one error handler for every slash command."""

    async def on_error(
        self, interaction: discord.Interaction[SeminarBot], error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        context = (f"/{command} (guild {interaction.guild_id}, channel {interaction.channel_id},"
                   f" user {interaction.user.id})")
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        text = user_message(interaction, error)
        if text is not None:
            log.info("Command %s: told the user: %s", context, text)
        elif isinstance(original, discord.DiscordServerError) or _already_acknowledged(original):
            # Discord's own trouble: worth a line in the log, not a traceback.
            log.warning("Command %s: Discord answered %s %s: %s", context,
                        original.status, original.code, original.text)
            text = SERVER_TROUBLE
        else:
            log.error("Command %s failed", context, exc_info=original)
            text = APOLOGY
        await send_ephemeral(interaction, text)


async def send_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """Tell the user ``text`` privately, whether or not the interaction was answered yet."""
    try:
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message(text, ephemeral=True)
                return
            except discord.HTTPException as exc:
                if not _already_acknowledged(exc):
                    raise
                # Discord took an earlier answer whose reply was lost: follow that one up.
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:
        # The interaction may have expired, or Discord is down: the log is all we have.
        log.warning("Could not tell user %s about an error (%s %s): %s",
                    interaction.user.id, exc.status, exc.code, exc.text)
    except Exception as exc:  # the last resort must not raise (while shutting down, say)
        log.warning("Could not tell user %s about an error: %r", interaction.user.id, exc)


# --- the bot ---------------------------------------------------------------------------------


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
        repository: Repository | None = None,
        command_hashes: CommandHashStore | None = None,
        force_sync: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=SeminarTree,
            **options,
        )
        self.settings = settings
        self.lessons: dict[str, Lesson] = dict(lessons)
        self.command_hashes: CommandHashStore = command_hashes or MemoryHashStore()
        self.force_sync = force_sync
        # None only in tests that need no database.
        self.repository = repository
        self.synced_guilds: list[int] = []
        self.closing = asyncio.Event()  # set when close() begins: waits end at once

    async def close(self) -> None:
        """Close the bot (cogs unload, the gateway and HTTP sessions close)."""
        self.closing.set()
        await super().close()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the bot starts closing meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def setup_hook(self) -> None:
        """Load the cogs, give every course guild the commands, and sync them if they changed."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        for guild_id in self.course_guild_ids():
            self.tree.copy_global_to(guild=discord.Object(guild_id))
        await self.sync_commands(force=self.force_sync)

    async def on_message(self, message: discord.Message, /) -> None:
        """Ignore messages here: Seminar has only slash commands (cogs listen for replies)."""

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

    def command_payload(self, guild_id: int) -> list[dict[str, Any]]:
        """The commands a guild gets, as Discord receives them."""
        guild = discord.Object(guild_id)
        return [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]

    async def sync_commands(self, *, force: bool = False) -> list[int]:
        """Sync each course guild's commands if they changed since the last sync (or ``force``).

        Returns the guilds synced. A guild that refuses (the bot was not invited with the
        ``applications.commands`` scope, or was removed) is logged with what to do.
        """
        synced: list[int] = []
        for guild_id in self.course_guild_ids():
            digest = command_set_hash(self.command_payload(guild_id))
            key = f"commands:{self.application_id}:{guild_id}"
            if not force and await self.command_hashes.get_state(key) == digest:
                log.info("Slash commands of guild %s are up to date.", guild_id)
                continue
            try:
                await self.tree.sync(guild=discord.Object(guild_id))
            except discord.Forbidden:
                log.error(
                    "Discord refused the slash commands for server %s: invite the bot to it "
                    "with the 'bot' and 'applications.commands' scopes (%s > your application "
                    "> OAuth2 > URL Generator), then run `seminar sync`.",
                    guild_id, DEVELOPER_PORTAL,
                )
                continue
            except discord.HTTPException as exc:
                log.error("Syncing the slash commands of server %s failed (%s %s): %s; run "
                          "`seminar sync` to try again.", guild_id, exc.status, exc.code, exc.text)
                continue
            await self.command_hashes.set_state(key, digest)
            log.info("Synced the slash commands of guild %s.", guild_id)
            synced.append(guild_id)
        self.synced_guilds += synced
        return synced


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
    repository: Repository | None = None,
    force_sync: bool = False,
    command_hashes: CommandHashStore | None = None,
    **options: Any,
) -> SeminarBot:
    """The bot for ``settings``: sharded when the config sets a shard count.

    ``options`` go to discord.py's client (tests shorten ``guild_ready_timeout``).
    """
    if command_hashes is None:
        command_hashes = repository if repository is not None else MemoryHashStore()
    common: dict[str, Any] = {
        "repository": repository, "command_hashes": command_hashes, "force_sync": force_sync,
        **options,
    }
    shards = settings.discord
    if shards.shard_count is not None:
        return ShardedSeminarBot(settings, lessons, shard_count=shards.shard_count,
                                 shard_ids=shards.shard_ids, **common)
    return SeminarBot(settings, lessons, **common)


# --- start-up and shutdown -------------------------------------------------------------------

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
    command_hashes: CommandHashStore | None = None,
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
                         force_sync=sync, command_hashes=command_hashes, **options)
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
