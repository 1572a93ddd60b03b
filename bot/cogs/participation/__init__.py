"""Participation: every student reply in a lesson thread becomes one record, whatever happens.

``_cog`` listens; ``threads`` knows the lesson threads and turns a message into a reply;
``recorder`` writes replies in batches (no discord.py); ``catchup`` reads back what was
missed. What a reply counts for is :mod:`bot.core.participation_rules`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.participation._cog import ParticipationCog

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

__all__ = ["ParticipationCog"]


async def setup(bot: SeminarBot) -> None:
    """Add the participation cog (called by ``bot.load_extension``)."""
    await bot.add_cog(ParticipationCog(bot))
