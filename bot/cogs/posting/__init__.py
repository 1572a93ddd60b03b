"""Posting: each lesson goes out when the calendar says, exactly once, whatever happens.

``_cog`` registers the job and answers ``/schedule``; ``scheduler`` decides what is due;
``poster`` sends a lesson and opens its threads; ``calls`` wraps each Discord call (retries,
the permission a 403 needs); ``recovery`` matches what a crashed attempt sent (pure);
``locking`` locks threads at the due time; ``transcript`` is the Transcript button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.posting._cog import PostingCog

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

__all__ = ["PostingCog"]


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(PostingCog(bot))
