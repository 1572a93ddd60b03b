"""The lesson post's "Transcript" button: sends the transcript file to whoever clicks."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.client.messages import respond
from bot.core import render
from bot.core.lessons import Lesson

TRANSCRIPT_PREFIX = "seminar:transcript:"


class TranscriptButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.escape(TRANSCRIPT_PREFIX) + r"(?P<slug>[a-z0-9][a-z0-9_-]{0,79})",
):
    """The lesson post's "Transcript" button: sends the transcript file to whoever clicks.

    Persistent: the lesson's slug is in the custom id, so the button keeps working on old
    posts after any number of restarts.
    """

    def __init__(self, slug: str) -> None:
        super().__init__(discord.ui.Button(
            label="Transcript",
            style=discord.ButtonStyle.secondary,
            custom_id=TRANSCRIPT_PREFIX + slug,
        ))
        self.slug = slug

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> TranscriptButton:
        """The button for the slug in a clicked custom id."""
        return cls(match["slug"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Answer the click privately with the transcript as a text file."""
        lessons: dict[str, Lesson] = getattr(interaction.client, "lessons", {})
        lesson = lessons.get(self.slug)
        file = render.transcript_file(lesson) if lesson is not None else None
        if lesson is None or file is None:
            text = "This lesson's transcript is not available any more: ask your teacher."
            await respond(interaction, [render.MessageSpec(content=text)], ephemeral=True)
            return
        text = render.truncate(f"The transcript of “{lesson.title}”.",
                               render.MESSAGE_CONTENT_LIMIT)
        await respond(interaction, [render.MessageSpec(content=text, files=(file,))],
                      ephemeral=True)


def transcript_part(specs: list[render.MessageSpec]) -> int | None:
    """The lesson message that carries the Transcript button: the last one with room."""
    for index in range(len(specs) - 1, -1, -1):
        if len(specs[index].buttons) < render.BUTTONS_PER_MESSAGE:
            return index
    return None
