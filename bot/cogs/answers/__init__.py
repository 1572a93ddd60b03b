"""Answer-first lessons: students answer a question before they may read their classmates.

The cog (``_cog``) handles the Answer button and form and the author's Edit and Delete
buttons; ``views`` defines them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cogs.answers._cog import AnswersCog

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot


async def setup(bot: SeminarBot) -> None:
    """Add the answers cog (called by ``bot.load_extension``)."""
    await bot.add_cog(AnswersCog(bot))
