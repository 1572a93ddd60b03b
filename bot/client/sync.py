"""Slash command sync: only when a guild's command set changed since the last sync.

The hash of each guild's last synced set is kept in the database's bot state, so a restart
with the same commands makes no call to Discord (its command writes are rate limited hard).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

DEVELOPER_PORTAL = "https://discord.com/developers/applications"


def command_set_hash(payload: list[dict[str, Any]]) -> str:
    """A stable hash of a command set's payload (as sent to Discord)."""
    text = json.dumps(sorted(payload, key=lambda c: str(c.get("name"))), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()



def command_payload(bot: SeminarBot, guild_id: int) -> list[dict[str, Any]]:
    """The commands a guild gets, as Discord receives them."""
    guild = discord.Object(guild_id)
    return [command.to_dict(bot.tree) for command in bot.tree.get_commands(guild=guild)]


async def sync_guilds(bot: SeminarBot, *, force: bool = False) -> list[int]:
    """Sync each course guild's commands if they changed since the last sync (or ``force``).

    At start-up a process of a sharded bot syncs the guilds on its own shards (the process
    of each other shard syncs its own); ``seminar sync`` (``force``) syncs every course guild.
    Returns the guilds synced. A guild that refuses (the bot was not invited with the
    ``applications.commands`` scope, or was removed) is logged with what to do.
    """
    synced: list[int] = []
    for guild_id in bot.course_guild_ids():
        if not force and not bot.serves_guild(guild_id):
            continue
        digest = command_set_hash(command_payload(bot, guild_id))
        key = f"commands:{bot.application_id}:{guild_id}"
        if not force and await bot.repository.state.get(key) == digest:
            log.info("Slash commands of guild %s are up to date.", guild_id)
            continue
        try:
            await bot.tree.sync(guild=discord.Object(guild_id))
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
        await bot.repository.state.set(key, digest)
        log.info("Synced the slash commands of guild %s.", guild_id)
        synced.append(guild_id)
    bot.synced_guilds += synced
    return synced
