"""A local Discord API v10 emulator (REST + gateway) for testing the real discord.py client.

See README.md in this folder for the API and for how to point a client at it.
"""

from .client import discord_py_pointed_at, restore_discord_py_urls, running_client
from .errors import ApiError
from .interactions import InteractionResult, ResponseMessage
from .model import Channel, Guild, Member, Overwrite, Role, User
from .records import Call, Injection
from .server import DEFAULT_TOKEN, ActionRejected, DiscordEmulator, wait_until

__all__ = [
    "DEFAULT_TOKEN",
    "ActionRejected",
    "ApiError",
    "Call",
    "Channel",
    "DiscordEmulator",
    "Guild",
    "Injection",
    "InteractionResult",
    "Member",
    "Overwrite",
    "ResponseMessage",
    "Role",
    "User",
    "discord_py_pointed_at",
    "restore_discord_py_urls",
    "running_client",
    "wait_until",
]
