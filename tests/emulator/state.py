"""The emulator's world: users, guilds, channels, messages and commands, and their payloads.

State only stores and answers; the emulator (server.py) mutates it and sends the matching
gateway events, so that what REST returns and what the gateway said always agree.
"""

from __future__ import annotations

import bisect
import copy
import re
from datetime import datetime
from typing import Any

from .errors import ApiError, unknown
from .model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    GUILD_FORUM,
    MANAGE_THREADS,
    PRIVATE_THREAD,
    READ_MESSAGE_HISTORY,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Member,
    Overwrite,
    Role,
    Snowflakes,
    StoredAttachment,
    User,
    apply_overwrites,
    compute_base_permissions,
    iso,
    snowflake_time,
    utcnow,
)

LARGE_THRESHOLD = 250
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


class State:
    """Everything the emulated Discord knows."""

    def __init__(self, *, bot_user_id: int, application_id: int, bot_name: str) -> None:
        self.ids = Snowflakes()
        self.application_id = self.ids.reserve(application_id)
        self.bot = User(id=self.ids.reserve(bot_user_id), username=bot_name, bot=True)
        self.owner = User(id=self.ids.next(), username="app-owner")
        self.users: dict[int, User] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}  # channel id -> ascending by id
        self._message_ids: dict[int, list[int]] = {}  # the same messages' ids, for bisecting
        self.message_index: dict[int, dict[str, Any]] = {}
        self.attachments: dict[int, StoredAttachment] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.dm_blocked: set[int] = set()
        # scope (None = global, else guild id) -> (type, name) -> command payload
        self.commands: dict[int | None, dict[tuple[int, str], dict[str, Any]]] = {}
        self.command_version = 0

    # ---- lookups ---------------------------------------------------------------------------

    def guild(self, guild_id: int) -> Guild:
        """Return a guild or raise 404 Unknown Guild."""
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise unknown("Guild") from None

    def channel(self, channel_id: int) -> Channel:
        """Return a live channel or raise 404 Unknown Channel."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.deleted:
            raise unknown("Channel")
        return channel

    def user(self, user_id: int) -> User:
        """Return a user or raise 404 Unknown User."""
        try:
            return self.users[user_id]
        except KeyError:
            raise unknown("User") from None

    def message(self, channel_id: int, message_id: int) -> dict[str, Any]:
        """Return a stored message of a channel or raise 404 Unknown Message."""
        message = self.message_index.get(message_id)
        if message is None or int(message["channel_id"]) != channel_id:
            raise unknown("Message")
        return message

    def member(self, guild_id: int, user_id: int) -> Member:
        """Return a guild member or raise 404 Unknown Member."""
        member = self.guild(guild_id).members.get(user_id)
        if member is None:
            raise unknown("Member")
        return member

    def shard_of(self, guild_id: int | None, shard_count: int) -> int:
        """Return the shard that receives a guild's events (DMs go to shard 0)."""
        if guild_id is None:
            return 0
        return (guild_id >> 22) % shard_count

    # ---- builders --------------------------------------------------------------------------

    def _new_id(self, wanted: int | None, at: datetime | None = None) -> int:
        return self.ids.reserve(wanted) if wanted is not None else self.ids.next(at)

    def add_user(self, username: str, *, id: int | None = None, bot: bool = False,
                 global_name: str | None = None) -> User:
        """Create a user."""
        user = User(id=self._new_id(id), username=username, bot=bot, global_name=global_name)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, id: int | None = None, owner_id: int | None = None) -> Guild:
        """Create a guild with its @everyone role and the bot as a member with its own role."""
        guild_id = self._new_id(id)
        owner = owner_id if owner_id is not None else self.owner.id
        guild = Guild(id=guild_id, name=name, owner_id=owner)
        guild.roles[guild_id] = Role(id=guild_id, guild_id=guild_id, name="@everyone",
                                     permissions=DEFAULT_EVERYONE_PERMISSIONS, position=0)
        self.guilds[guild_id] = guild
        if owner in self.users:
            guild.members[owner] = Member(guild_id=guild_id, user_id=owner)
        bot_role = Role(id=self.ids.next(), guild_id=guild_id, name=self.bot.username,
                        permissions=ALL_PERMISSIONS & ~ADMINISTRATOR, position=1,
                        bot_id=self.bot.id)
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot.id] = Member(guild_id=guild_id, user_id=self.bot.id,
                                            roles=[bot_role.id])
        return guild

    def bot_role(self, guild_id: int) -> Role:
        """Return the managed role that carries the bot's guild-wide permissions."""
        for role in self.guild(guild_id).roles.values():
            if role.bot_id == self.bot.id:
                return role
        raise unknown("Role")

    def add_role(self, guild_id: int, name: str, *, permissions: int = 0, id: int | None = None,
                 color: int = 0, hoist: bool = False, mentionable: bool = False) -> Role:
        """Create a role in a guild, above the existing ones."""
        guild = self.guild(guild_id)
        position = max(r.position for r in guild.roles.values()) + 1
        role = Role(id=self._new_id(id), guild_id=guild_id, name=name, permissions=permissions,
                    position=position, color=color, hoist=hoist, mentionable=mentionable)
        guild.roles[role.id] = role
        return role

    def add_member(self, guild_id: int, user: User, *, roles: list[int] | None = None,
                   nick: str | None = None, joined_at: datetime | None = None) -> Member:
        """Make a user a member of a guild."""
        guild = self.guild(guild_id)
        for role_id in roles or []:
            if role_id not in guild.roles:
                raise ValueError(f"role {role_id} does not exist in guild {guild_id}")
        member = Member(guild_id=guild_id, user_id=user.id, roles=list(roles or []), nick=nick,
                        joined_at=joined_at or utcnow())
        guild.members[user.id] = member
        return member

    def add_channel(self, guild_id: int, name: str, kind: int, *, id: int | None = None,
                    parent_id: int | None = None, topic: str | None = None,
                    overwrites: list[Overwrite] | None = None,
                    tags: list[str] | None = None) -> Channel:
        """Create a guild channel (text, forum, category...)."""
        guild = self.guild(guild_id)
        channel = Channel(id=self._new_id(id), type=kind, guild_id=guild_id, name=name,
                          position=len(guild.channel_ids), parent_id=parent_id, topic=topic,
                          overwrites=list(overwrites or []))
        if kind == GUILD_FORUM:
            channel.available_tags = [
                {"id": str(self.ids.next()), "name": tag, "moderated": False,
                 "emoji_id": None, "emoji_name": None}
                for tag in tags or []
            ]
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        guild.channel_ids.append(channel.id)
        return channel

    def add_thread(self, parent: Channel, name: str, *, owner_id: int, kind: int,
                   id: int | None = None, auto_archive_duration: int = 1440,
                   applied_tags: list[int] | None = None, invitable: bool = True,
                   created_at: datetime | None = None) -> Channel:
        """Create a thread under a text or forum channel; its owner joins it."""
        now = created_at or utcnow()
        # A thread opened from a message shares the message's id.
        thread_id = id if id is not None and id in self.message_index else self._new_id(
            id, created_at)
        thread = Channel(id=thread_id, type=kind, guild_id=parent.guild_id,
                         name=name, parent_id=parent.id, owner_id=owner_id,
                         auto_archive_duration=auto_archive_duration,
                         applied_tags=list(applied_tags or []), invitable=invitable,
                         archive_timestamp=now, create_timestamp=now)
        thread.thread_members[owner_id] = now
        self.channels[thread.id] = thread
        self.messages[thread.id] = []
        return thread

    def dm_channel(self, user_id: int) -> Channel:
        """Return (creating it once) the DM channel between the bot and a user."""
        self.user(user_id)
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel = Channel(id=self.ids.next(), type=DM, guild_id=None, recipient_id=user_id)
            self.channels[channel.id] = channel
            self.messages[channel.id] = []
            self.dm_channels[user_id] = channel.id
            return channel
        return self.channels[channel_id]

    # ---- permissions -----------------------------------------------------------------------

    def permissions_in(self, channel: Channel, user_id: int) -> int:
        """Return a user's effective permissions in a channel (overwrites applied)."""
        if channel.guild_id is None:
            return ALL_PERMISSIONS
        guild = self.guild(channel.guild_id)
        base = compute_base_permissions(guild, user_id)
        if base == ALL_PERMISSIONS:
            return base
        member = guild.members.get(user_id)
        if member is None:
            return 0
        source = self.channels.get(channel.parent_id or 0) if channel.is_thread else channel
        overwrites = source.overwrites if source is not None else []
        permissions = apply_overwrites(base, guild, member, overwrites)
        if not permissions & VIEW_CHANNEL:
            return 0
        return permissions

    def can_read(self, channel: Channel, user_id: int) -> bool:
        """Whether a user's client shows a channel's messages: View Channel and Read Message
        History, and in a private thread also membership or Manage Threads (Discord's rule:
        "only viewable by those invited and those with the MANAGE_THREADS permission")."""
        permissions = self.permissions_in(channel, user_id)
        if permissions & (VIEW_CHANNEL | READ_MESSAGE_HISTORY) != (
                VIEW_CHANNEL | READ_MESSAGE_HISTORY):
            return False
        if channel.type == PRIVATE_THREAD:
            return user_id in channel.thread_members or bool(permissions & MANAGE_THREADS)
        return True

    def bot_permissions_in(self, channel: Channel) -> int:
        """Return the bot's effective permissions in a channel."""
        return self.permissions_in(channel, self.bot.id)

    # ---- payloads --------------------------------------------------------------------------

    def member_payload(self, guild_id: int, user_id: int, *, with_user: bool = True,
                       permissions_in: Channel | None = None) -> dict[str, Any]:
        """Return a guild member object (optionally with its permissions in a channel)."""
        member = self.member(guild_id, user_id)
        data: dict[str, Any] = {
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in member.roles],
            "joined_at": iso(member.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.users[user_id].payload()
        if permissions_in is not None:
            data["permissions"] = str(self.permissions_in(permissions_in, user_id))
        return data

    def thread_member_payload(self, thread: Channel, user_id: int) -> dict[str, Any]:
        """Return a thread member object."""
        return {
            "id": str(thread.id),
            "user_id": str(user_id),
            "join_timestamp": iso(thread.thread_members[user_id]),
            "flags": 0,
        }

    def channel_payload(self, channel: Channel) -> dict[str, Any]:
        """Return a channel object (guild channel, thread or DM) as the API sends it."""
        if channel.type == DM:
            recipient = self.users[channel.recipient_id or 0]
            return {
                "id": str(channel.id),
                "type": DM,
                "last_message_id": _opt_str(channel.last_message_id),
                "recipients": [recipient.payload()],
                "flags": 0,
            }
        if channel.is_thread:
            return self.thread_payload(channel)
        data: dict[str, Any] = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "flags": 0,
            "parent_id": _opt_str(channel.parent_id),
            "permission_overwrites": [o.payload() for o in channel.overwrites],
            "nsfw": channel.nsfw,
            "topic": channel.topic,
            "rate_limit_per_user": channel.rate_limit_per_user,
            "last_message_id": _opt_str(channel.last_message_id),
        }
        if channel.type == GUILD_FORUM:
            data.update(
                available_tags=copy.deepcopy(channel.available_tags),
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
                default_auto_archive_duration=1440,
            )
        return data

    def thread_payload(self, thread: Channel, *, with_bot_member: bool = True) -> dict[str, Any]:
        """Return a thread channel object; `member` is present when the bot has joined it."""
        data: dict[str, Any] = {
            "id": str(thread.id),
            "type": thread.type,
            "guild_id": str(thread.guild_id),
            "parent_id": str(thread.parent_id),
            "owner_id": str(thread.owner_id),
            "name": thread.name,
            "last_message_id": _opt_str(thread.last_message_id),
            "rate_limit_per_user": thread.rate_limit_per_user,
            "message_count": thread.message_count,
            "member_count": min(len(thread.thread_members), 50),
            "total_message_sent": thread.total_message_sent,
            "flags": 0,
            "applied_tags": [str(t) for t in thread.applied_tags],
            "thread_metadata": {
                "archived": thread.archived,
                "auto_archive_duration": thread.auto_archive_duration,
                "archive_timestamp": iso(thread.archive_timestamp),
                "locked": thread.locked,
                "create_timestamp": iso(thread.create_timestamp),
            },
        }
        if thread.type == PRIVATE_THREAD:
            data["thread_metadata"]["invitable"] = thread.invitable
        if with_bot_member and self.bot.id in thread.thread_members:
            data["member"] = self.thread_member_payload(thread, self.bot.id)
        return data

    def role_payloads(self, guild: Guild) -> list[dict[str, Any]]:
        """Return a guild's roles, lowest first."""
        return [r.payload() for r in sorted(guild.roles.values(), key=lambda r: r.position)]

    def guild_payload(self, guild: Guild) -> dict[str, Any]:
        """Return the guild object as GET /guilds/{id} sends it (no channels or members)."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": self.role_payloads(guild),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def guild_create_payload(self, guild: Guild, *, all_members: bool) -> dict[str, Any]:
        """Return GUILD_CREATE: the guild with channels, active threads, roles and members.

        Like Discord without the presences intent, only the bot's own member is included
        unless `all_members` is set; the client asks for the rest with REQUEST_GUILD_MEMBERS.
        """
        data = self.guild_payload(guild)
        member_ids = list(guild.members) if all_members else [self.bot.id]
        bot_member = guild.members[self.bot.id]
        data.update(
            joined_at=iso(bot_member.joined_at),
            large=len(guild.members) > LARGE_THRESHOLD,
            unavailable=False,
            member_count=len(guild.members),
            voice_states=[],
            members=[self.member_payload(guild.id, uid) for uid in member_ids],
            channels=[self.channel_payload(self.channels[cid]) for cid in guild.channel_ids
                      if not self.channels[cid].deleted],
            threads=[self.thread_payload(t) for t in self.active_threads(guild.id)],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            lazy=True,
        )
        return data

    def active_threads(self, guild_id: int) -> list[Channel]:
        """Return a guild's live, unarchived threads."""
        return [c for c in self.channels.values()
                if c.guild_id == guild_id and c.is_thread and not c.archived and not c.deleted]

    # ---- messages --------------------------------------------------------------------------

    def new_message(self, channel: Channel, author: User, body: dict[str, Any], *,
                    attachments: list[dict[str, Any]], message_type: int = 0,
                    created_at: datetime | None = None, id: int | None = None,
                    store: bool = True) -> dict[str, Any]:
        """Build (and store, unless ephemeral) a message; the caller dispatches MESSAGE_CREATE."""
        message_id = id if id is not None else self.ids.next(created_at)
        timestamp = created_at or snowflake_time(message_id)
        content = body.get("content") or ""
        message: dict[str, Any] = {
            "id": str(message_id),
            "type": message_type,
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": content,
            "timestamp": iso(timestamp),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": self._mentions(content, body.get("mentions")),
            "mention_roles": _ROLE_MENTION.findall(content),
            "attachments": attachments,
            "embeds": [_normalise_embed(e) for e in body.get("embeds") or []],
            "components": copy.deepcopy(body.get("components") or []),
            "pinned": False,
            "flags": int(body.get("flags") or 0),
            "reactions": [],
        }
        if body.get("nonce") is not None:
            message["nonce"] = str(body["nonce"])
        if channel.is_thread:
            message["position"] = channel.total_message_sent
        for key in ("webhook_id", "application_id", "interaction_metadata", "poll"):
            if body.get(key) is not None:
                message[key] = copy.deepcopy(body[key])
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            ref_channel = int(reference.get("channel_id") or channel.id)
            referenced = self.message_index.get(int(reference["message_id"]))
            if referenced is None:
                if reference.get("fail_if_not_exists", True):
                    raise ApiError(400, 50035, "Invalid Form Body", {"message_reference": {
                        "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                     "message": "Unknown message"}]}})
            else:
                message["type"] = 19 if message_type == 0 else message_type
                message["message_reference"] = {
                    "type": 0,
                    "message_id": str(reference["message_id"]),
                    "channel_id": str(ref_channel),
                    "guild_id": _opt_str(channel.guild_id),
                }
                message["referenced_message"] = _without_reference(referenced)
        if store:
            self.store_message(channel, message)
        return message

    def apply_edit(self, message: dict[str, Any], body: dict[str, Any],
                   attachments: list[dict[str, Any]] | None) -> None:
        """Apply an edit body to a message dict in place (content, embeds, components...)."""
        if "content" in body:
            message["content"] = body["content"] or ""
            message["mentions"] = self._mentions(message["content"], None)
        if "embeds" in body:
            message["embeds"] = [_normalise_embed(e) for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = copy.deepcopy(body["components"] or [])
        if "flags" in body:
            # Only SUPPRESS_EMBEDS (4) may change through an edit; the rest stays.
            old = int(message.get("flags") or 0)
            message["flags"] = (old & ~4) | (int(body["flags"] or 0) & 4)
        if attachments is not None:
            message["attachments"] = attachments
        message["edited_timestamp"] = iso(utcnow())

    def store_message(self, channel: Channel, message: dict[str, Any]) -> None:
        """Insert a message into its channel in id order and update channel counters."""
        messages = self.messages.setdefault(channel.id, [])
        ids = self._message_ids.setdefault(channel.id, [])
        message_id = int(message["id"])
        position = bisect.bisect(ids, message_id)
        ids.insert(position, message_id)
        messages.insert(position, message)
        self.message_index[message_id] = message
        if channel.last_message_id is None or message_id > channel.last_message_id:
            channel.last_message_id = message_id
        if channel.is_thread:
            channel.message_count += 1
            channel.total_message_sent += 1

    def remove_message(self, message: dict[str, Any]) -> None:
        """Delete a stored message."""
        channel_id = int(message["channel_id"])
        ids = self._message_ids[channel_id]
        position = bisect.bisect_left(ids, int(message["id"]))
        del ids[position]
        del self.messages[channel_id][position]
        self.message_index.pop(int(message["id"]), None)
        channel = self.channels.get(channel_id)
        if channel is not None and channel.is_thread:
            channel.message_count = max(0, channel.message_count - 1)

    def _mentions(self, content: str, explicit: Any) -> list[dict[str, Any]]:
        ids: list[int] = [int(i) for i in explicit or []]
        ids += [int(i) for i in _USER_MENTION.findall(content)]
        seen: list[int] = []
        for user_id in ids:
            if user_id in self.users and user_id not in seen:
                seen.append(user_id)
        return [self.users[u].payload() for u in seen]

    def history(self, channel_id: int, *, limit: int = 50, before: int | None = None,
                after: int | None = None, around: int | None = None) -> list[dict[str, Any]]:
        """Return messages newest first, as GET /channels/{id}/messages does."""
        messages = self.messages.get(channel_id, [])
        ids = self._message_ids.get(channel_id, [])
        if around is not None:
            centre = bisect.bisect_left(ids, around)
            start = max(0, centre - limit // 2)
            window = messages[start:start + limit]
        elif after is not None:
            window = messages[bisect.bisect_right(ids, after):][:limit]
        elif before is not None:
            window = messages[:bisect.bisect_left(ids, before)][-limit:] if limit else []
        else:
            window = messages[-limit:] if limit else []
        return list(reversed(window))

    def add_attachment(self, channel_id: int, filename: str, content: bytes, *, base_url: str,
                       content_type: str | None = None,
                       description: str | None = None) -> dict[str, Any]:
        """Store an uploaded file and return its attachment payload (served by the CDN route)."""
        attachment_id = self.ids.next()
        url = f"{base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        payload: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            "content_type": content_type or _guess_type(filename),
        }
        if description:
            payload["description"] = description
        self.attachments[attachment_id] = StoredAttachment(payload=payload, content=content)
        return payload

    # ---- threads ---------------------------------------------------------------------------

    def archived_threads(self, parent_id: int, *, private: bool, before: datetime | None,
                         limit: int) -> tuple[list[Channel], bool]:
        """Return archived threads of a channel, newest archive first, and whether more exist."""
        wanted = PRIVATE_THREAD if private else None
        threads = [c for c in self.channels.values()
                   if c.parent_id == parent_id and c.is_thread and c.archived and not c.deleted
                   and ((c.type == wanted) if wanted else c.type != PRIVATE_THREAD)]
        if before is not None:
            threads = [t for t in threads if t.archive_timestamp < before]
        threads.sort(key=lambda t: t.archive_timestamp, reverse=True)
        return threads[:limit], len(threads) > limit

    # ---- application commands --------------------------------------------------------------

    def overwrite_commands(self, scope: int | None,
                           commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace a scope's commands; a command keeps its id when its name and type stay."""
        old = self.commands.get(scope, {})
        new: dict[tuple[int, str], dict[str, Any]] = {}
        for command in commands:
            kind = int(command.get("type", 1))
            key = (kind, command["name"])
            previous = old.get(key)
            self.command_version += 1
            stored = copy.deepcopy(command)
            stored.update(
                id=previous["id"] if previous else str(self.ids.next()),
                application_id=str(self.application_id),
                version=str(self.ids.next()),
                type=kind,
                description=command.get("description", ""),
                default_member_permissions=_opt_str(command.get("default_member_permissions")),
                nsfw=bool(command.get("nsfw", False)),
                integration_types=command.get("integration_types", [0]),
                contexts=command.get("contexts"),
                options=copy.deepcopy(command.get("options") or []),
            )
            stored.setdefault("name_localizations", None)
            stored.setdefault("description_localizations", None)
            if scope is not None:
                stored["guild_id"] = str(scope)
            else:
                stored.setdefault("dm_permission", True)
            new[key] = stored
        self.commands[scope] = new
        return [copy.deepcopy(c) for c in new.values()]

    def find_command(self, guild_id: int | None, name: str, kind: int = 1) -> dict[str, Any]:
        """Return the registered command a user in this guild would see, guild ones first."""
        scopes = (guild_id, None) if guild_id is not None else (None,)
        for scope in scopes:
            command = self.commands.get(scope, {}).get((kind, name))
            if command is not None:
                return command
        known = sorted({n for s in scopes for (k, n) in self.commands.get(s, {}) if k == kind})
        raise LookupError(
            f"/{name} is not registered for guild {guild_id} (registered: "
            f"{', '.join(known) or 'none'}); did the bot sync its command tree?"
        )


def _opt_str(value: int | str | None) -> str | None:
    return None if value is None else str(value)


def _normalise_embed(embed: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(embed)
    data.setdefault("type", "rich")
    return data


def _without_reference(message: dict[str, Any]) -> dict[str, Any]:
    data = dict(message)
    data.pop("referenced_message", None)
    return data


def _guess_type(filename: str) -> str:
    lowered = filename.lower()
    for suffix, kind in _CONTENT_TYPES:
        if lowered.endswith(suffix):
            return kind
    return "application/octet-stream"


_CONTENT_TYPES = (
    (".txt", "text/plain; charset=utf-8"),
    (".csv", "text/csv; charset=utf-8"),
    (".md", "text/markdown; charset=utf-8"),
    (".json", "application/json"),
    (".png", "image/png"),
    (".jpg", "image/jpeg"),
    (".pdf", "application/pdf"),
)

