"""Turn :mod:`bot.core.render`'s plain specs into discord.py embeds, views and files; send them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import discord

from bot.core.render import BUTTONS_PER_ROW, EmbedSpec, FileSpec, MessageSpec


def to_embed(spec: EmbedSpec) -> discord.Embed:
    """A discord.py embed from an embed spec."""
    embed = discord.Embed(
        title=spec.title,
        description=spec.description,
        url=spec.url,
        colour=spec.colour,
        timestamp=spec.timestamp,
    )
    for field in spec.fields:
        embed.add_field(name=field.name, value=field.value, inline=field.inline)
    if spec.footer:
        embed.set_footer(text=spec.footer)
    return embed


def to_view(spec: MessageSpec) -> discord.ui.View | None:
    """A view holding the message's link buttons, or ``None`` when it has none."""
    if not spec.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, button in enumerate(spec.buttons):
        view.add_item(
            discord.ui.Button(label=button.label, url=button.url, row=index // BUTTONS_PER_ROW)
        )
    return view


def to_file(spec: FileSpec) -> discord.File:
    """A discord.py file from a file spec."""
    return discord.File(io.BytesIO(spec.data), filename=spec.filename)


def message_kwargs(spec: MessageSpec) -> dict[str, Any]:
    """Keyword arguments for ``send``/``send_message`` that show ``spec``."""
    kwargs: dict[str, Any] = {}
    if spec.content:
        kwargs["content"] = spec.content
    if spec.embeds:
        kwargs["embeds"] = [to_embed(e) for e in spec.embeds]
    view = to_view(spec)
    if view is not None:
        kwargs["view"] = view
    if spec.files:
        kwargs["files"] = [to_file(f) for f in spec.files]
    return kwargs


async def respond(
    interaction: discord.Interaction[Any], messages: Sequence[MessageSpec], *, ephemeral: bool
) -> None:
    """Answer an interaction with one or more messages: the response, then followups."""
    for spec in messages:
        kwargs = message_kwargs(spec)
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=ephemeral, **kwargs)
        else:
            await interaction.response.send_message(ephemeral=ephemeral, **kwargs)
