"""Server-side state of the Discord emulator and the API payloads built from it.

Everything here is plain data: no aiohttp, no discord.py. The emulator deliberately does not
import discord.py, so that a misunderstanding inside the client cannot be mirrored by the
server that is supposed to catch it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types)
GUILD_TEXT = 0
DM = 1
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
ANNOUNCEMENT_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_FORUM = 15
THREAD_TYPES = frozenset({ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})

# Permission bits the emulator checks.
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
# What a fresh server gives @everyone.
DEFAULT_EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Message flags.
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

#: How long the emulator's waits last by default: a generous bound, so that a busy machine
#: makes a test slower, never failed (a wait whose condition holds returns at once).
WAIT_TIMEOUT = 30.0


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format a moment the way Discord does (ISO 8601 with an explicit UTC offset)."""
    return moment.astimezone(UTC).isoformat()


def snowflake_time(snowflake: int) -> datetime:
    """Return the creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


class Snowflakes:
    """Hands out unique snowflakes; ids made for "now" are strictly increasing."""

    def __init__(self) -> None:
        self._last = 0
        self._used: set[int] = set()
        self._increment = itertools.count()

    def next(self, at: datetime | None = None) -> int:
        """Return a new snowflake whose timestamp is `at` (default: now)."""
        moment = at or utcnow()
        ms = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (1 << 17) | (next(self._increment) & 0xFFF)
        if at is None:
            # Ids made "now" must sort after every earlier one, as on Discord.
            candidate = max(candidate, self._last + 1)
            self._last = candidate
        while candidate in self._used:
            candidate += 1
        self._used.add(candidate)
        return candidate

    def reserve(self, snowflake: int) -> int:
        """Record an id chosen by the caller so that it is never handed out again."""
        if snowflake in self._used:
            raise ValueError(f"id {snowflake} is already in use in the emulator")
        self._used.add(snowflake)
        return snowflake


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the user object as the API sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 1
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        """Return the role object as the API sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None,
                       "tertiary_color": None},
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.bot_id is not None,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Member:
    guild_id: int
    user_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime = field(default_factory=utcnow)

    @property
    def id(self) -> int:
        """The member's user id."""
        return self.user_id


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        """Return the permission overwrite as the API sends it."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    id: int
    type: int
    guild_id: int | None
    name: str = ""
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    last_message_id: int | None = None
    # Forum channels.
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    # Threads.
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_timestamp: datetime = field(default_factory=utcnow)
    create_timestamp: datetime = field(default_factory=utcnow)
    applied_tags: list[int] = field(default_factory=list)
    message_count: int = 0
    total_message_sent: int = 0
    thread_members: dict[int, datetime] = field(default_factory=dict)
    # DM channels.
    recipient_id: int | None = None
    deleted: bool = False

    @property
    def is_thread(self) -> bool:
        """Whether this channel is a thread."""
        return self.type in THREAD_TYPES


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    locale: str = "en-US"

    @property
    def everyone(self) -> Role:
        """The @everyone role (its id is the guild id)."""
        return self.roles[self.id]


@dataclass
class StoredAttachment:
    """An uploaded file: its API payload and its bytes."""

    payload: dict[str, Any]
    content: bytes


def compute_base_permissions(guild: Guild, user_id: int) -> int:
    """Return a member's guild-wide permissions (roles only, no channel overwrites)."""
    if user_id == guild.owner_id:
        return ALL_PERMISSIONS
    member = guild.members.get(user_id)
    if member is None:
        return 0
    permissions = guild.everyone.permissions
    for role_id in member.roles:
        role = guild.roles.get(role_id)
        if role is not None:
            permissions |= role.permissions
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return permissions


def apply_overwrites(
    permissions: int, guild: Guild, member: Member, overwrites: list[Overwrite]
) -> int:
    """Apply a channel's overwrites to base permissions, in Discord's order."""
    by_id = {o.id: o for o in overwrites}
    everyone = by_id.get(guild.id)
    if everyone is not None:
        permissions = (permissions & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member.roles:
        overwrite = by_id.get(role_id)
        if overwrite is not None and overwrite.type == 0:
            allow |= overwrite.allow
            deny |= overwrite.deny
    permissions = (permissions & ~deny) | allow
    own = by_id.get(member.user_id)
    if own is not None and own.type == 1:
        permissions = (permissions & ~own.deny) | own.allow
    return permissions
