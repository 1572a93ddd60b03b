"""DiscordEmulator: the server, its state, what users do, and the faults tests inject."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from aiohttp import web

from . import rest
from .gateway import Gateway, Session
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionResult,
    ResponseMessage,
)
from .model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    GUILD_CATEGORY,
    GUILD_FORUM,
    GUILD_TEXT,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    MANAGE_THREADS,
    PRIVATE_THREAD,
    PRIVILEGED_INTENTS,
    PUBLIC_THREAD,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    WAIT_TIMEOUT,
    Channel,
    Guild,
    Member,
    Overwrite,
    Role,
    User,
    utcnow,
)
from .ratelimit import RateLimiter
from .records import Call, Injection, Upload
from .state import State

DEFAULT_TOKEN = "emulator-bot-token"
BOT_USER_ID = 1_000_000_000_000_000_001
APPLICATION_ID = 1_000_000_000_000_000_002


class ActionRejected(Exception):
    """A user action the real Discord client would not allow (e.g. posting in a locked thread)."""


async def wait_until(predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT,
                     message: str | None = None, *,
                     changed: asyncio.Event | None = None) -> Any:
    """Wait until predicate() is truthy (checked every 50 ms, or when `changed` is set)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = end - loop.time()
        if remaining <= 0:
            raise TimeoutError(message or f"condition not met within {timeout}s")
        if changed is None:
            await asyncio.sleep(min(remaining, 0.05))
            continue
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), min(remaining, 0.05))


class DiscordEmulator:
    """A Discord API v10 server (REST + gateway) on 127.0.0.1 for the real discord.py client.

    See tests/emulator/README.md for how to point a client at it.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_user_id: int = BOT_USER_ID,
        application_id: int = APPLICATION_ID,
        bot_name: str = "Seminar",
        shard_count: int = 1,
        heartbeat_interval_ms: int = 2500,
        interaction_deadline: float | None = 3.0,
        privileged_intents: int = PRIVILEGED_INTENTS,
        send_all_members: bool = False,
        nonce_window: float = 120.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.shard_count = shard_count
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline
        self.privileged_intents = privileged_intents
        self.send_all_members = send_all_members
        self.nonce_window = nonce_window
        self.host = host
        self.port = port
        self.state = State(bot_user_id=bot_user_id, application_id=application_id,
                           bot_name=bot_name)
        self.gateway = Gateway(self)
        self.calls: list[Call] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.internal_errors: list[str] = []
        self.injections: list[Injection] = []
        #: Discord's rate limits, off unless a benchmark or a test turns them on.
        self.rate_limits = RateLimiter()
        self.interactions: list[InteractionResult] = []
        self._interactions_by_id: dict[int, InteractionResult] = {}
        self._interactions_by_token: dict[str, InteractionResult] = {}
        self.ephemeral_messages: dict[int, ResponseMessage] = {}
        # (guild id, command name) -> role and user ids a server admin allowed to use it
        self.command_overrides: dict[tuple[int, str], set[int]] = {}
        self._nonces: dict[tuple[int, int, str], tuple[float, int]] = {}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._extra_routes: list[Callable[[web.Application], None]] = []

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 (a free port unless one was given) and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        for add in self._extra_routes:
            add(app)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._api)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every gateway socket and the HTTP server."""
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def add_routes(self, add: Callable[[web.Application], None]) -> None:
        """Register extra HTTP routes (used by the control endpoints); call before start()."""
        self._extra_routes.append(add)

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The REST base: discord.http.Route.BASE / config discord.api_base."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway: DiscordWebSocket.DEFAULT_GATEWAY / config discord.gateway_url."""
        return f"ws://{self.host}:{self.port}/"

    @property
    def bot_user_id(self) -> int:
        """The bot's user id."""
        return self.state.bot.id

    @property
    def application_id(self) -> int:
        """The application id (commands are registered under it)."""
        return self.state.application_id

    @property
    def identify_count(self) -> int:
        """How many IDENTIFYs the gateway accepted."""
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        """How many RESUMEs the gateway accepted."""
        return self.gateway.resume_count

    # ---- change notification ---------------------------------------------------------------

    def notify(self) -> None:
        """Wake everything waiting in wait_for()."""
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT,
                       message: str | None = None) -> Any:
        """Wait until predicate() is truthy and return its value; else raise TimeoutError.

        Re-checked whenever the emulator's state changes and at least every 50 ms, so
        the predicate may also look at the bot's side (its cache, its database).
        """
        return await wait_until(predicate, timeout, message, changed=self._changed)

    async def wait_until_connected(self, timeout: float = WAIT_TIMEOUT,
                                   shards: int | None = None) -> None:
        """Wait until `shards` sessions (default: shard_count) finished IDENTIFY or RESUME."""
        wanted = shards if shards is not None else self.shard_count
        await self.wait_for(lambda: len(self.gateway.live_sessions()) >= wanted, timeout,
                            f"fewer than {wanted} gateway session(s) connected after {timeout}s")
        await self.gateway.flush()

    # ---- building the world ----------------------------------------------------------------

    def add_guild(self, name: str = "School", *, id: int | None = None,
                  owner_id: int | None = None) -> Guild:
        """Create a guild (the bot is a member with every permission but Administrator)."""
        guild = self.state.add_guild(name, id=id, owner_id=owner_id)
        self.gateway.dispatch("GUILD_CREATE", self.state.guild_create_payload(
            guild, all_members=self.send_all_members), guild_id=guild.id)
        return guild

    def add_role(self, guild_id: int, name: str, *, permissions: int = 0, id: int | None = None,
                 color: int = 0, hoist: bool = False, mentionable: bool = False) -> Role:
        """Create a role."""
        role = self.state.add_role(guild_id, name, permissions=permissions, id=id, color=color,
                                   hoist=hoist, mentionable=mentionable)
        self.gateway.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild_id),
                                                    "role": role.payload()},
                              guild_id=guild_id, intent=INTENT_GUILDS)
        return role

    def add_category(self, guild_id: int, name: str, *, id: int | None = None) -> Channel:
        """Create a channel category."""
        return self._add_channel(guild_id, name, GUILD_CATEGORY, id=id)

    def add_text_channel(self, guild_id: int, name: str, *, id: int | None = None,
                         parent_id: int | None = None, topic: str | None = None,
                         overwrites: Iterable[Overwrite] = ()) -> Channel:
        """Create a text channel."""
        return self._add_channel(guild_id, name, GUILD_TEXT, id=id, parent_id=parent_id,
                                 topic=topic, overwrites=list(overwrites))

    def add_forum_channel(self, guild_id: int, name: str, *, tags: Iterable[str] = (),
                          id: int | None = None, parent_id: int | None = None,
                          topic: str | None = None) -> Channel:
        """Create a forum channel with the given post tags."""
        return self._add_channel(guild_id, name, GUILD_FORUM, id=id, parent_id=parent_id,
                                 topic=topic, tags=list(tags))

    def _add_channel(self, guild_id: int, name: str, kind: int, **options: Any) -> Channel:
        channel = self.state.add_channel(guild_id, name, kind, **options)
        self.gateway.dispatch("CHANNEL_CREATE", self.state.channel_payload(channel),
                              guild_id=guild_id, intent=INTENT_GUILDS)
        return channel

    def add_user(self, username: str, *, id: int | None = None, bot: bool = False,
                 global_name: str | None = None) -> User:
        """Create a user who is in no guild yet."""
        return self.state.add_user(username, id=id, bot=bot, global_name=global_name)

    def add_member(self, guild_id: int, username: str | None = None, *,
                   roles: Iterable[int] = (), bot: bool = False, id: int | None = None,
                   nick: str | None = None, user_id: int | None = None,
                   joined_at: datetime | None = None) -> Member:
        """Add a member to a guild: a new user called `username`, or the existing `user_id`."""
        if user_id is not None:
            user = self.state.user(user_id)
        else:
            if username is None:
                raise ValueError("add_member needs a username or an existing user_id")
            user = self.state.add_user(username, id=id, bot=bot)
        member = self.state.add_member(guild_id, user, roles=list(roles), nick=nick,
                                       joined_at=joined_at)
        self.gateway.dispatch("GUILD_MEMBER_ADD", {
            **self.state.member_payload(guild_id, user.id), "guild_id": str(guild_id),
        }, guild_id=guild_id, intent=INTENT_GUILD_MEMBERS)
        return member

    def set_member_roles(self, guild_id: int, user_id: int, roles: Iterable[int]) -> Member:
        """Replace a member's roles (GUILD_MEMBER_UPDATE)."""
        member = self.state.member(guild_id, user_id)
        member.roles = list(roles)
        self._member_updated(guild_id, user_id)
        return member

    def _member_updated(self, guild_id: int, user_id: int) -> None:
        self.gateway.dispatch("GUILD_MEMBER_UPDATE", {
            **self.state.member_payload(guild_id, user_id), "guild_id": str(guild_id),
        }, guild_id=guild_id, intent=INTENT_GUILD_MEMBERS)

    def add_thread(self, parent_id: int, name: str, *, owner_id: int | None = None,
                   message_id: int | None = None, archived: bool = False, locked: bool = False,
                   private: bool = False, created_at: datetime | None = None,
                   applied_tags: Iterable[int] = ()) -> Channel:
        """Create a thread directly (e.g. one that existed before the bot started)."""
        parent = self.state.channel(parent_id)
        kind = 12 if private else PUBLIC_THREAD
        thread = self.state.add_thread(parent, name, owner_id=owner_id or self.bot_user_id,
                                       kind=kind, id=message_id, created_at=created_at,
                                       applied_tags=list(applied_tags))
        thread.archived, thread.locked = archived, locked
        self._thread_created(thread)
        return thread

    def set_bot_permissions(self, guild_id: int, channel_id: int | None = None, *,
                            deny: int = 0, allow: int = 0) -> None:
        """Take permissions from the bot: guild-wide (its role) or in one channel (overwrite)."""
        if channel_id is None:
            role = self.state.bot_role(guild_id)
            role.permissions = (ALL_PERMISSIONS & ~ADMINISTRATOR & ~deny) | allow
            self.gateway.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id),
                                                        "role": role.payload()},
                                  guild_id=guild_id, intent=INTENT_GUILDS)
            return
        self.set_overwrite(channel_id, self.bot_user_id, member=True, allow=allow, deny=deny)

    def set_overwrite(self, channel_id: int, target_id: int, *, member: bool,
                      allow: int = 0, deny: int = 0) -> None:
        """Set a channel permission overwrite for a role or a member (CHANNEL_UPDATE)."""
        channel = self.state.channel(channel_id)
        channel.overwrites = [o for o in channel.overwrites if o.id != target_id]
        if allow or deny:
            channel.overwrites.append(Overwrite(id=target_id, type=1 if member else 0,
                                                allow=allow, deny=deny))
        self._channel_updated(channel)

    def block_dms(self, user_id: int) -> None:
        """Make DMs to a user fail as when they closed their DMs (403, code 50007)."""
        self.state.dm_blocked.add(user_id)

    # ---- inspection ------------------------------------------------------------------------

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """A channel's (or thread's) messages, oldest first."""
        return list(self.state.messages.get(channel_id, []))

    def message(self, message_id: int) -> dict[str, Any] | None:
        """A stored message by id (None if deleted or unknown)."""
        return self.state.message_index.get(message_id)

    def threads(self, parent_id: int) -> list[dict[str, Any]]:
        """Threads (and forum posts) under a channel, oldest first, archived ones included."""
        threads = [c for c in self.state.channels.values()
                   if c.parent_id == parent_id and c.is_thread and not c.deleted]
        return [self.state.thread_payload(t) for t in sorted(threads, key=lambda t: t.id)]

    def channel(self, channel_id: int) -> dict[str, Any]:
        """A channel's current payload."""
        return self.state.channel_payload(self.state.channel(channel_id))

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Registered application commands: global ones, or those of one guild."""
        return [copy.deepcopy(c) for c in self.state.commands.get(guild_id, {}).values()]

    def dms(self, user_id: int) -> list[dict[str, Any]]:
        """Messages in the DM channel between the bot and a user, oldest first."""
        channel_id = self.state.dm_channels.get(user_id)
        return self.messages(channel_id) if channel_id is not None else []

    def attachment_content(self, attachment: dict[str, Any]) -> bytes:
        """The bytes of an attachment payload taken from a message."""
        return self.state.attachments[int(attachment["id"])].content

    def calls_to(self, method: str | None = None, path_regex: str = "") -> list[Call]:
        """The REST calls whose method and path match."""
        pattern = re.compile(path_regex)
        return [c for c in self.calls
                if (method is None or c.method == method.upper()) and pattern.search(c.path)]

    # ---- faults ----------------------------------------------------------------------------

    def inject(self, method: str | None = "POST", path_regex: str = ".*", status: int = 429,
               *, times: int | None = 1, retry_after: float = 0.5, json: Any = None,
               perform: bool = False, is_global: bool = False, after: int = 0) -> Injection:
        """Answer the next `times` matching REST calls with `status` (None = forever).

        429 answers carry `Via` and a JSON body with `retry_after`, as Discord's do. With
        perform=True the request is carried out first and only the answer is replaced (a
        response lost after Discord acted). The first `after` matching calls pass untouched.
        """
        injection = Injection(method=method, pattern=re.compile(path_regex), status=status,
                              times=times, retry_after=retry_after, body=json,
                              perform=perform, is_global=is_global, after=after)
        self.injections.append(injection)
        return injection

    def clear_injections(self) -> None:
        """Forget every planned fault."""
        self.injections.clear()

    async def drop_gateway(self, resumable: bool = True, *, hold: bool = False,
                           shard_id: int | None = None) -> None:
        """Close the gateway sockets (only shard `shard_id`'s, if given).

        RESUME works afterwards only if resumable. With hold=True reconnecting clients get no
        HELLO until release_gateway(); events that happen meanwhile are buffered (resumable)
        or lost to the gateway (not).
        """
        await self.gateway.drop(resumable=resumable, hold=hold, shard_id=shard_id)

    def release_gateway(self) -> None:
        """End an outage started with drop_gateway(hold=True)."""
        self.gateway.release()

    @contextlib.asynccontextmanager
    async def gateway_outage(self, resumable: bool = True) -> AsyncIterator[None]:
        """Keep the gateway down for the duration of the block, then let the bot back in."""
        await self.drop_gateway(resumable, hold=True)
        try:
            yield
        finally:
            self.release_gateway()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every connected client."""
        await self.gateway.request_reconnect()

    # ---- what users do ---------------------------------------------------------------------

    def _require_member(self, channel: Channel, user_id: int) -> User:
        user = self.state.user(user_id)
        if channel.guild_id is not None and user_id not in self.state.guild(
                channel.guild_id).members:
            raise ActionRejected(f"{user.username} is not a member of guild {channel.guild_id}")
        return user

    def _check_user_can_post(self, channel: Channel, user: User) -> None:
        if channel.guild_id is None:
            return
        if channel.type in (GUILD_FORUM, GUILD_CATEGORY):
            raise ActionRejected(f"#{channel.name} is not a text channel")
        permissions = self.state.permissions_in(channel, user.id)
        needed = SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES
        if not permissions & needed:
            raise ActionRejected(f"{user.username} may not send messages in #{channel.name}")
        if channel.is_thread and channel.locked and not permissions & MANAGE_THREADS:
            raise ActionRejected(f"thread #{channel.name} is locked")
        if not self.state.can_read(channel, user.id):
            raise ActionRejected(f"Missing Access: {user.username} cannot see #{channel.name}")

    async def user_message(self, channel_id: int, author_id: int, content: str = "", *,
                           reply_to: int | None = None, mentions: Iterable[int] = (),
                           files: Iterable[tuple[str, bytes]] = (),
                           embeds: Iterable[dict[str, Any]] = (),
                           created_at: datetime | None = None) -> dict[str, Any]:
        """A user posts a message (MESSAGE_CREATE); returns the stored message.

        `created_at` backdates the message (its id encodes that time), e.g. a reply
        written while the bot was offline or before a deadline.
        """
        channel = self.state.channel(channel_id)
        author = self._require_member(channel, author_id)
        self._check_user_can_post(channel, author)
        body: dict[str, Any] = {"content": content, "mentions": list(mentions),
                                "embeds": list(embeds)}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to), "channel_id": str(channel_id)}
        uploads = [Upload(index=i, filename=name, content=data, content_type=None)
                   for i, (name, data) in enumerate(files)]
        message = self.create_message(channel, author, body, uploads, created_at=created_at)
        await self.gateway.flush()
        return message

    async def user_edit(self, channel_id: int, message_id: int, content: str) -> dict[str, Any]:
        """A user edits their message (MESSAGE_UPDATE)."""
        channel = self.state.channel(channel_id)
        message = self.state.message(channel_id, message_id)
        message = self.edit_message(channel, message, {"content": content}, [])
        await self.gateway.flush()
        return message

    async def user_delete(self, channel_id: int, message_id: int) -> None:
        """A user deletes a message (MESSAGE_DELETE)."""
        channel = self.state.channel(channel_id)
        self.delete_message(channel, self.state.message(channel_id, message_id))
        await self.gateway.flush()

    async def user_dm(self, user_id: int, content: str) -> dict[str, Any]:
        """A user writes to the bot in DMs."""
        channel = self.state.dm_channel(user_id)
        message = self.create_message(channel, self.state.user(user_id), {"content": content}, [])
        await self.gateway.flush()
        return message

    async def user_create_thread(self, channel_id: int, author_id: int, name: str, *,
                                 message_id: int | None = None, content: str | None = None,
                                 tags: Iterable[str] = ()) -> dict[str, Any]:
        """A user opens a thread: from a message, a bare thread, or a forum post."""
        parent = self.state.channel(channel_id)
        author = self._require_member(parent, author_id)
        tag_ids = [int(t["id"]) for t in parent.available_tags if t["name"] in set(tags)]
        thread = self.create_thread(parent, name, author.id, message_id=message_id,
                                    applied_tags=tag_ids)
        if parent.type == GUILD_FORUM:
            self.create_message(thread, author, {"content": content or ""}, [], id=thread.id)
        await self.gateway.flush()
        return self.state.thread_payload(thread)

    async def user_update_thread(self, thread_id: int, *, archived: bool | None = None,
                                 locked: bool | None = None) -> dict[str, Any]:
        """A moderator archives/unarchives or locks/unlocks a thread (THREAD_UPDATE)."""
        thread = self.state.channel(thread_id)
        changes = {k: v for k, v in (("archived", archived), ("locked", locked)) if v is not None}
        self.update_channel(thread, changes)
        await self.gateway.flush()
        return self.state.thread_payload(thread)

    # ---- interactions ----------------------------------------------------------------------

    def _new_interaction(self, kind: int, guild_id: int | None, channel_id: int, user_id: int,
                         data: dict[str, Any], *, locale: str,
                         message: dict[str, Any] | None = None) -> InteractionResult:
        channel = self.state.channel(channel_id)
        user = self.state.user(user_id)
        if channel.guild_id != guild_id:
            raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
        if guild_id is not None and user_id not in self.state.guild(guild_id).members:
            raise ActionRejected(f"{user.username} is not a member of guild {guild_id}")
        if not [s for s in self.gateway.sessions.values()
                if s.shard_id == self.state.shard_of(guild_id, s.shard_count)]:
            raise RuntimeError("no bot is connected to the gateway for this guild; wait for "
                               "the bot to be ready before acting as a user")
        interaction_id = self.state.ids.next()
        token = "emu." + secrets.token_urlsafe(24)
        channel_data = {**self.state.channel_payload(channel),
                        "permissions": str(self.state.permissions_in(channel, user_id))}
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "channel_id": str(channel.id),
            "channel": channel_data,
            "app_permissions": str(self.state.bot_permissions_in(channel)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            guild = self.state.guild(guild_id)
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                member=self.state.member_payload(guild_id, user_id, permissions_in=channel),
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
            )
        else:
            payload.update(user=user.payload(), authorizing_integration_owners={"1": str(user_id)},
                           context=1)
        if message is not None:
            payload["message"] = message
        result = InteractionResult(id=interaction_id, token=token, kind=kind, guild_id=guild_id,
                                   channel_id=channel_id, user_id=user_id, payload=payload,
                                   deadline=self.interaction_deadline, notify=self.notify)
        self.interactions.append(result)
        self._interactions_by_id[interaction_id] = result
        self._interactions_by_token[token] = result
        self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return result

    def interaction_by_token(self, token: str) -> InteractionResult | None:
        """The interaction a webhook token belongs to."""
        return self._interactions_by_token.get(token)

    def interaction_by_id(self, interaction_id: int) -> InteractionResult | None:
        """An interaction by id."""
        return self._interactions_by_id.get(interaction_id)

    def allow_command(self, guild_id: int, name: str, *, role_id: int | None = None,
                      user_id: int | None = None) -> None:
        """Let a role or user use a command despite its default permissions (Server Settings >
        Integrations, as an admin would); ``role_id=guild_id`` is @everyone."""
        allowed = self.command_overrides.setdefault((guild_id, name), set())
        allowed.update(i for i in (role_id, user_id) if i is not None)

    def _check_may_use(self, guild_id: int | None, channel_id: int, user_id: int, name: str,
                       kind: int = 1) -> None:
        """Refuse what Discord would not even show the user: a command they lack rights for."""
        command = self.state.find_command(guild_id, name, kind)
        user = self.state.user(user_id)
        if guild_id is None:
            contexts = command.get("contexts")
            if command.get("dm_permission") is False or (contexts is not None
                                                         and 1 not in contexts):
                raise ActionRejected(f"/{name} cannot be used in DMs")
            return
        required = command.get("default_member_permissions")
        if required is None:
            return
        member = self.state.member(guild_id, user_id)
        allowed = self.command_overrides.get((guild_id, name), set())
        # The @everyone role's id is the guild's: every member has it.
        if user_id in allowed or guild_id in allowed or allowed.intersection(member.roles):
            return
        permissions = self.state.permissions_in(self.state.channel(channel_id), user_id)
        needed = int(required)
        if permissions & ADMINISTRATOR or permissions == ALL_PERMISSIONS:
            return
        if needed == 0 or permissions & needed != needed:
            raise ActionRejected(
                f"{user.username} cannot see /{name}: it needs permissions {needed} "
                f"(default_member_permissions) and no override allows them")

    def _command_data(self, guild_id: int | None, name: str, options: dict[str, Any] | None,
                      subcommand: str | Iterable[str] | None, *, kind: int = 1,
                      focused: str | None = None, focused_value: Any = None) -> dict[str, Any]:
        command = self.state.find_command(guild_id, name, kind)
        path = subcommand.split() if isinstance(subcommand, str) else list(subcommand or [])
        resolved: dict[str, dict[str, Any]] = {}
        schema = command.get("options") or []
        chain: list[dict[str, Any]] = []
        for part in path:
            match = next((o for o in schema if o.get("name") == part and o.get("type") in (1, 2)),
                         None)
            if match is None:
                raise LookupError(f"/{name} has no subcommand or group {part!r}")
            chain.append(match)
            schema = match.get("options") or []
        if any(o.get("type") in (1, 2) for o in schema):
            names = [o["name"] for o in schema if o.get("type") in (1, 2)]
            raise LookupError(f"/{name} needs a subcommand: one of {', '.join(names)}")
        leaf = rest.build_options(self, guild_id, schema, dict(options or {}), resolved,
                                  focused=focused, focused_value=focused_value)
        for group in reversed(chain):
            leaf = [{"type": group["type"], "name": group["name"], "options": leaf}]
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": kind,
                                "options": leaf}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    async def invoke_command(self, guild_id: int | None, channel_id: int, user_id: int,
                             name: str, options: dict[str, Any] | None = None,
                             subcommand: str | Iterable[str] | None = None, *,
                             timeout: float = WAIT_TIMEOUT, locale: str = "en-US",
                             wait: bool = True) -> InteractionResult:
        """A user runs a slash command; returns once they see a final answer (or it failed).

        `options` maps option names to values (ids for users, roles and channels;
        (filename, bytes) for attachments); their types come from the registered command.
        `subcommand` is "sub" or "group sub".
        """
        self._check_may_use(guild_id, channel_id, user_id, name)
        data = self._command_data(guild_id, name, options, subcommand)
        result = self._new_interaction(APPLICATION_COMMAND, guild_id, channel_id, user_id, data,
                                       locale=locale)
        if wait:
            await result.wait_settled(timeout)
        return result

    async def invoke_context_menu(self, guild_id: int | None, channel_id: int, user_id: int,
                                  name: str, target_id: int, *, timeout: float = WAIT_TIMEOUT,
                                  locale: str = "en-US") -> InteractionResult:
        """A user runs a user or message context-menu command on a target."""
        if target_id in self.state.message_index:
            kind = 3
            resolved: dict[str, Any] = {"messages": {
                str(target_id): self.state.message_index[target_id]}}
        else:
            kind = 2
            resolved = {"users": {str(target_id): self.state.user(target_id).payload()}}
            if guild_id is not None and target_id in self.state.guild(guild_id).members:
                resolved["members"] = {str(target_id): self.state.member_payload(
                    guild_id, target_id, with_user=False,
                    permissions_in=self.state.channel(channel_id))}
        self._check_may_use(guild_id, channel_id, user_id, name, kind)
        command = self.state.find_command(guild_id, name, kind)
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": kind,
                                "target_id": str(target_id), "resolved": resolved}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        result = self._new_interaction(APPLICATION_COMMAND, guild_id, channel_id, user_id, data,
                                       locale=locale)
        await result.wait_settled(timeout)
        return result

    async def autocomplete(self, guild_id: int | None, channel_id: int, user_id: int, name: str,
                           *, focused: str, value: str = "",
                           options: dict[str, Any] | None = None,
                           subcommand: str | Iterable[str] | None = None,
                           timeout: float = WAIT_TIMEOUT,
                           locale: str = "en-US") -> list[dict[str, Any]]:
        """A user types `value` into option `focused`; returns the choices the bot offered."""
        self._check_may_use(guild_id, channel_id, user_id, name)
        data = self._command_data(guild_id, name, options, subcommand, focused=focused,
                                  focused_value=value)
        result = self._new_interaction(AUTOCOMPLETE, guild_id, channel_id, user_id, data,
                                       locale=locale)
        await result.wait_for(lambda r: r.choices is not None or r.failed, timeout)
        if result.failed:
            raise TimeoutError(f"the bot did not answer autocomplete for /{name} {focused}")
        return list(result.choices or [])

    def _find_component_message(self, message_id: int) -> tuple[dict[str, Any], bool]:
        message = self.state.message_index.get(message_id)
        if message is not None:
            return message, False
        ephemeral = self.ephemeral_messages.get(message_id)
        if ephemeral is not None and not ephemeral.deleted:
            return ephemeral.payload, True
        raise LookupError(f"message {message_id} does not exist")

    async def _component(self, guild_id: int | None, channel_id: int, user_id: int,
                         message_id: int, custom_id: str, *, values: list[str] | None,
                         timeout: float, locale: str) -> InteractionResult:
        message, _ = self._find_component_message(message_id)
        found = [c for c in _walk_components(message.get("components") or [])
                 if c.get("custom_id") == custom_id]
        if not found:
            ids = [c.get("custom_id") for c in _walk_components(message.get("components") or [])
                   if c.get("custom_id")]
            raise LookupError(f"message {message_id} has no component {custom_id!r} "
                              f"(it has: {ids})")
        component = found[0]
        if component.get("disabled"):
            raise ActionRejected(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component.get("id") is not None:
            data["id"] = component["id"]
        if values is not None:
            data["values"] = list(values)
        result = self._new_interaction(MESSAGE_COMPONENT, guild_id, channel_id, user_id, data,
                                       locale=locale, message=copy.deepcopy(message))
        result.source_message_id = message_id
        await result.wait_settled(timeout)
        return result

    async def click_button(self, guild_id: int | None, channel_id: int, user_id: int,
                           message_id: int, custom_id: str, *, timeout: float = WAIT_TIMEOUT,
                           locale: str = "en-US") -> InteractionResult:
        """A user clicks a button; returns once they see the bot's answer."""
        return await self._component(guild_id, channel_id, user_id, message_id, custom_id,
                                     values=None, timeout=timeout, locale=locale)

    async def select_menu(self, guild_id: int | None, channel_id: int, user_id: int,
                          message_id: int, custom_id: str, values: Iterable[str], *,
                          timeout: float = WAIT_TIMEOUT,
                          locale: str = "en-US") -> InteractionResult:
        """A user picks `values` in a select menu."""
        return await self._component(guild_id, channel_id, user_id, message_id, custom_id,
                                     values=list(values), timeout=timeout, locale=locale)

    async def submit_modal(self, shown: InteractionResult, values: dict[str, Any], *,
                           timeout: float = WAIT_TIMEOUT,
                          locale: str = "en-US") -> InteractionResult:
        """The user fills in the modal the bot showed (`shown.modal`) and submits it.

        `values` maps each field's custom_id to its text (a list of values for selects).
        """
        modal = shown.modal
        if modal is None:
            raise LookupError(f"the bot showed no modal in answer to this interaction: {shown!r}")
        fields = [c for c in _walk_components(modal.get("components") or [])
                  if c.get("custom_id") is not None]
        known = {c["custom_id"] for c in fields}
        wrong = sorted(set(values) - known)
        if wrong:
            raise LookupError(f"the modal has no field(s) {wrong} (it has: {sorted(known)})")
        for field_ in fields:
            if field_.get("type") == 4 and field_.get("required", True) and not values.get(
                    field_["custom_id"], field_.get("value")):
                raise ValueError(f"modal field {field_['custom_id']!r} is required")
        data = {"custom_id": modal["custom_id"],
                "components": _submitted(modal.get("components") or [], values)}
        message = None
        if shown.source_message_id is not None:
            message, _ = self._find_component_message(shown.source_message_id)
            message = copy.deepcopy(message)
        result = self._new_interaction(MODAL_SUBMIT, shown.guild_id, shown.channel_id,
                                       shown.user_id, data, locale=locale, message=message)
        result.source_message_id = shown.source_message_id
        await result.wait_settled(timeout)
        return result

    # ---- operations shared by REST and user actions ----------------------------------------

    def message_event(self, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
        """A message as the gateway sends it: with guild_id and the author's member."""
        data = dict(message)
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            author_id = int(message["author"]["id"])
            if author_id in self.state.guild(channel.guild_id).members:
                data["member"] = self.state.member_payload(channel.guild_id, author_id,
                                                           with_user=False)
        return data

    def _dispatch_message(self, event: str, channel: Channel, message: dict[str, Any]) -> None:
        data = self.message_event(channel, message)
        intent = INTENT_GUILD_MESSAGES if channel.guild_id is not None else INTENT_DIRECT_MESSAGES

        def visible(session: Session) -> bool:
            return self.gateway.may_read_content(session, data)

        self.gateway.dispatch(event, data, guild_id=channel.guild_id, intent=intent,
                              content_visible=visible)

    def create_message(self, channel: Channel, author: User, body: dict[str, Any],
                       uploads: list[Upload], *, created_at: datetime | None = None,
                       message_type: int = 0, id: int | None = None,
                       dispatch: bool = True) -> dict[str, Any]:
        """Store a message and send MESSAGE_CREATE (an archived, unlocked thread reopens)."""
        attachments = rest.attachments_from(self, channel.id, body, uploads, existing=[])
        message = self.state.new_message(channel, author, body, attachments=attachments,
                                         message_type=message_type, created_at=created_at, id=id)
        if channel.is_thread:
            # Posting joins the thread, and reopens it when archived (a locked one only for
            # someone who may manage threads).
            channel.thread_members.setdefault(author.id, utcnow())
            self._add_pinged(channel, author.id, body, message)
            may_manage = self.state.permissions_in(channel, author.id) & MANAGE_THREADS
            if channel.archived and (not channel.locked or may_manage):
                self.update_channel(channel, {"archived": False})
        if dispatch:
            self._dispatch_message("MESSAGE_CREATE", channel, message)
        self.notify()
        return message

    def _add_pinged(self, thread: Channel, author_id: int, body: dict[str, Any],
                    message: dict[str, Any]) -> None:
        """A ping in a private thread adds the pinged members to it, when its author may
        invite (the thread is invitable, or they may manage threads): Discord's rule, and
        the way a careless reminder would let a student read a thread before answering."""
        if thread.type != PRIVATE_THREAD:
            return
        may_manage = self.state.permissions_in(thread, author_id) & MANAGE_THREADS
        if not (thread.invitable or may_manage):
            return
        allowed = body.get("allowed_mentions")
        mentioned = [int(u["id"]) for u in message.get("mentions") or []]
        if allowed is not None:
            listed = {int(u) for u in allowed.get("users") or []}
            everyone = "users" in (allowed.get("parse") or [])
            mentioned = [u for u in mentioned if everyone or u in listed]
        guild = self.state.guild(thread.guild_id) if thread.guild_id is not None else None
        for user_id in mentioned:
            if guild is not None and user_id in guild.members:
                thread.thread_members.setdefault(user_id, utcnow())

    def read_as(self, user_id: int, channel_id: int) -> list[dict[str, Any]]:
        """The messages a user's client shows in a channel (oldest first), or ActionRejected
        with Discord's "Missing Access" when they may not read it: what a student sees, by
        the client, a link, a search or a notification."""
        channel = self.state.channel(channel_id)
        if channel.guild_id is not None and not self.state.can_read(channel, user_id):
            raise ActionRejected(f"Missing Access: user {user_id} cannot read #{channel.name}")
        return list(reversed(self.state.history(channel_id, limit=10_000)))

    def edit_message(self, channel: Channel, message: dict[str, Any], body: dict[str, Any],
                     uploads: list[Upload]) -> dict[str, Any]:
        """Apply an edit to a stored message and send MESSAGE_UPDATE."""
        attachments = None
        if "attachments" in body or uploads:
            attachments = rest.attachments_from(self, channel.id, body, uploads,
                                                existing=message.get("attachments") or [])
        self.state.apply_edit(message, body, attachments)
        self._dispatch_message("MESSAGE_UPDATE", channel, message)
        self.notify()
        return message

    def delete_message(self, channel: Channel, message: dict[str, Any]) -> None:
        """Remove a stored message and send MESSAGE_DELETE."""
        self.state.remove_message(message)
        data: dict[str, Any] = {"id": message["id"], "channel_id": message["channel_id"]}
        intent = INTENT_GUILD_MESSAGES
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        else:
            intent = INTENT_DIRECT_MESSAGES
        self.gateway.dispatch("MESSAGE_DELETE", data, guild_id=channel.guild_id, intent=intent)
        self.notify()

    def create_thread(self, parent: Channel, name: str, owner_id: int, *,
                      message_id: int | None = None, kind: int = PUBLIC_THREAD,
                      auto_archive_duration: int = 1440, applied_tags: list[int] | None = None,
                      invitable: bool = True) -> Channel:
        """Open a thread (THREAD_CREATE); from a message, the thread takes the message's id."""
        thread = self.state.add_thread(parent, name, owner_id=owner_id, kind=kind, id=message_id,
                                       auto_archive_duration=auto_archive_duration,
                                       applied_tags=applied_tags, invitable=invitable)
        if message_id is not None:
            starter = self.state.message_index.get(message_id)
            if starter is not None:
                starter["flags"] = int(starter.get("flags") or 0) | 32
                starter["thread"] = self.state.thread_payload(thread, with_bot_member=False)
        self._thread_created(thread)
        return thread

    def _thread_created(self, thread: Channel) -> None:
        data = {**self.state.thread_payload(thread), "newly_created": True}
        self.gateway.dispatch("THREAD_CREATE", data, guild_id=thread.guild_id,
                              intent=INTENT_GUILDS)
        self.notify()

    def update_channel(self, channel: Channel, changes: dict[str, Any]) -> Channel:
        """Apply channel or thread edits and send CHANNEL_UPDATE / THREAD_UPDATE."""
        for key, value in changes.items():
            if key == "archived":
                if bool(value) != channel.archived:
                    channel.archive_timestamp = utcnow()
                channel.archived = bool(value)
            elif key == "locked":
                channel.locked = bool(value)
            elif key == "name":
                channel.name = str(value)
            elif key == "topic":
                channel.topic = value
            elif key == "applied_tags":
                channel.applied_tags = [int(t) for t in value or []]
            elif key == "auto_archive_duration":
                channel.auto_archive_duration = int(value)
            elif key == "rate_limit_per_user":
                channel.rate_limit_per_user = int(value or 0)
            elif key == "nsfw":
                channel.nsfw = bool(value)
            elif key == "invitable":
                channel.invitable = bool(value)
            elif key == "available_tags":
                channel.available_tags = [
                    {**t, "id": str(t.get("id") or self.state.ids.next())} for t in value or []]
            elif key == "permission_overwrites":
                channel.overwrites = [Overwrite(id=int(o["id"]), type=int(o["type"]),
                                                allow=int(o.get("allow") or 0),
                                                deny=int(o.get("deny") or 0)) for o in value]
        self._channel_updated(channel)
        return channel

    def _channel_updated(self, channel: Channel) -> None:
        if channel.is_thread:
            self.gateway.dispatch("THREAD_UPDATE", self.state.thread_payload(channel),
                                  guild_id=channel.guild_id, intent=INTENT_GUILDS)
        elif channel.guild_id is not None:
            self.gateway.dispatch("CHANNEL_UPDATE", self.state.channel_payload(channel),
                                  guild_id=channel.guild_id, intent=INTENT_GUILDS)
        self.notify()

    def delete_role(self, guild_id: int, role_id: int) -> None:
        """Delete a role: members lose it (GUILD_ROLE_DELETE)."""
        guild = self.state.guild(guild_id)
        guild.roles.pop(role_id, None)
        for member in guild.members.values():
            if role_id in member.roles:
                member.roles.remove(role_id)
        self.gateway.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(guild_id),
                                                    "role_id": str(role_id)},
                              guild_id=guild_id, intent=INTENT_GUILDS)
        self.notify()

    def delete_channel(self, channel: Channel) -> None:
        """Delete a channel or thread (CHANNEL_DELETE / THREAD_DELETE)."""
        channel.deleted = True
        if channel.is_thread:
            self.gateway.dispatch("THREAD_DELETE", {
                "id": str(channel.id), "guild_id": str(channel.guild_id),
                "parent_id": str(channel.parent_id), "type": channel.type,
            }, guild_id=channel.guild_id, intent=INTENT_GUILDS)
        elif channel.guild_id is not None:
            guild = self.state.guild(channel.guild_id)
            guild.channel_ids.remove(channel.id)
            self.gateway.dispatch("CHANNEL_DELETE", self.state.channel_payload(channel),
                                  guild_id=channel.guild_id, intent=INTENT_GUILDS)
        self.notify()

    def check_nonce(self, channel: Channel, author_id: int,
                    body: dict[str, Any]) -> dict[str, Any] | None:
        """Return the message an enforced nonce already created recently, if any."""
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return None
        loop = asyncio.get_running_loop()
        key = (channel.id, author_id, str(nonce))
        seen = self._nonces.get(key)
        if seen is not None and loop.time() - seen[0] < self.nonce_window:
            return self.state.message_index.get(seen[1])
        return None

    def remember_nonce(self, channel: Channel, author_id: int, body: dict[str, Any],
                       message: dict[str, Any]) -> None:
        """Remember an enforced nonce so a retry within the window returns the same message."""
        if body.get("nonce") is not None and body.get("enforce_nonce"):
            loop = asyncio.get_running_loop()
            self._nonces[(channel.id, author_id, str(body["nonce"]))] = (loop.time(),
                                                                          int(message["id"]))

    # ---- HTTP entry points -----------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        return await rest.handle(self, request)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        stored = self.state.attachments.get(int(request.match_info["attachment_id"]))
        if stored is None or stored.payload["filename"] != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.content,
                            headers={"Content-Type": stored.payload["content_type"]})

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        self.unknown_routes.append((request.method, request.path))
        body = json.dumps({"message": "404: Not Found", "code": 0}).encode()
        return web.Response(status=404, body=body, headers={"Content-Type": "application/json"})


def _submitted(components: list[dict[str, Any]], values: dict[str, Any]) -> list[dict[str, Any]]:
    """What a client sends back for a modal's components: the same layout, filled in."""
    filled: list[dict[str, Any]] = []
    for component in components:
        kind = component.get("type")
        if kind == 1:
            filled.append({"type": 1, "id": component.get("id"),
                           "components": _submitted(component.get("components") or [], values)})
        elif kind == 18 and isinstance(component.get("component"), dict):
            inner = _submitted([component["component"]], values)
            filled.append({"type": 18, "id": component.get("id"), "component": inner[0]})
        elif component.get("custom_id") is not None:
            custom_id = component["custom_id"]
            entry: dict[str, Any] = {"type": kind, "id": component.get("id"),
                                     "custom_id": custom_id}
            if kind == 4:
                entry["value"] = str(values.get(custom_id, component.get("value") or ""))
            else:
                entry["values"] = [str(v) for v in values.get(custom_id, [])]
            filled.append(entry)
    return filled


def _walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for component in components:
        found.append(component)
        found.extend(_walk_components(component.get("components") or []))
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                found.extend(_walk_components([child]))
    return found

