"""The permissions Seminar needs in a class channel, and which of them are missing."""

from __future__ import annotations

from typing import Any

import discord

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


def label(name: str) -> str:
    """A permission as Discord's settings name it (``embed_links`` -> "Embed Links")."""
    return NEEDED_PERMISSIONS.get(name, name.replace("_", " ").title())


def missing_in(place: discord.abc.GuildChannel | discord.Thread,
               needs: tuple[str, ...]) -> list[str]:
    """Which of ``needs`` the bot lacks in ``place``, as Discord's settings name them."""
    have = place.permissions_for(place.guild.me)
    if not have.send_messages:
        # Discord takes these away with Send Messages: only that one needs granting.
        needs = tuple(n for n in needs if n not in ("embed_links", "attach_files"))
    return [label(name) for name in needs if not getattr(have, name)]


def missing_for(interaction: discord.Interaction[Any]) -> list[str]:
    """Which of the permissions Seminar needs the bot lacks where ``interaction`` happened."""
    have = interaction.app_permissions
    return [label(name) for name in NEEDED_PERMISSIONS if not getattr(have, name)]
