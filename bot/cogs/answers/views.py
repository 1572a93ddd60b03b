"""The buttons and the form of answer-first lessons.

Persistent: each custom id carries what the click is about (the post and question, or the
answer), so the buttons keep working on old posts after any number of restarts. Each button
hands the click to :class:`~bot.cogs.answers._cog.AnswersCog`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.core import render

if TYPE_CHECKING:
    from bot.cogs.answers._cog import AnswersCog

ANSWER_PREFIX = "seminar:answer:"
EDIT_PREFIX = "seminar:answer-edit:"
DELETE_PREFIX = "seminar:answer-delete:"
GONE = "The bot is restarting: try again in a moment."


def _cog(interaction: discord.Interaction[Any]) -> AnswersCog | None:
    cog = interaction.client.get_cog("AnswersCog")
    return cog  # type: ignore[no-any-return]


async def _not_ready(interaction: discord.Interaction[Any]) -> None:
    await interaction.response.send_message(GONE, ephemeral=True)


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.escape(ANSWER_PREFIX) + r"(?P<post>\d{1,19}):(?P<question>\d{1,2})",
):
    """"Answer" under a question: the student's first answer, through a form."""

    def __init__(self, post_id: int, question_index: int) -> None:
        super().__init__(discord.ui.Button(
            label="Answer", style=discord.ButtonStyle.primary, emoji="✍️",
            custom_id=f"{ANSWER_PREFIX}{post_id}:{question_index}"))
        self.post_id = post_id
        self.question_index = question_index

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any],
                             item: discord.ui.Item[Any], match: re.Match[str], /,
                             ) -> AnswerButton:
        """The button for the post and question in a clicked custom id."""
        return cls(int(match["post"]), int(match["question"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Open the form, or link to the thread if this student has answered."""
        cog = _cog(interaction)
        if cog is None:
            await _not_ready(interaction)
            return
        await cog.answer_pressed(interaction, self.post_id, self.question_index)


class AuthorButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"seminar:answer-(?P<action>edit|delete):(?P<answer>\d{1,19})",
):
    """"Edit my answer" or "Delete my answer" on a posted answer: only its author may."""

    LOOKS: ClassVar[dict[str, tuple[str, discord.ButtonStyle]]] = {
        "edit": ("Edit my answer", discord.ButtonStyle.secondary),
        "delete": ("Delete my answer", discord.ButtonStyle.danger),
    }

    def __init__(self, action: str, answer_id: int) -> None:
        label, style = self.LOOKS[action]
        prefix = EDIT_PREFIX if action == "edit" else DELETE_PREFIX
        super().__init__(discord.ui.Button(label=label, style=style,
                                           custom_id=f"{prefix}{answer_id}"))
        self.action = action
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any],
                             item: discord.ui.Item[Any], match: re.Match[str], /,
                             ) -> AuthorButton:
        """The button for the action and answer in a clicked custom id."""
        return cls(match["action"], int(match["answer"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Open the form with the answer in it, or delete it: for its author only."""
        cog = _cog(interaction)
        if cog is None:
            await _not_ready(interaction)
        elif self.action == "edit":
            await cog.edit_pressed(interaction, self.answer_id)
        else:
            await cog.delete_pressed(interaction, self.answer_id)


DYNAMIC_ITEMS = (AnswerButton, AuthorButton)


def answer_view(post_id: int, question_index: int) -> discord.ui.View:
    """The "Answer" button under a question."""
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerButton(post_id, question_index))
    return view


def owner_view(answer_id: int) -> discord.ui.View:
    """The author's buttons under their posted answer."""
    view = discord.ui.View(timeout=None)
    view.add_item(AuthorButton("edit", answer_id))
    view.add_item(AuthorButton("delete", answer_id))
    return view


FORM_PREFIX = "seminar:answer-form:"
#: A form's custom id: the post and question it answers, or the answer it edits.
FORM_ID = re.compile(re.escape(FORM_PREFIX)
                     + r"(?:(?P<post>\d{1,19}):(?P<question>\d{1,2})|edit:(?P<answer>\d{1,19}))")
FIELD_ID = "answer"


class AnswerForm(discord.ui.Modal):
    """The form a student writes (or edits) their first answer in.

    Its submit is read by :meth:`AnswersCog.on_interaction` from the custom id, not by this
    object: a form opened before a restart, or submitted twice from two devices, still
    reaches the bot (the cog forgets the object once the form is shown).
    """

    answer: discord.ui.TextInput[AnswerForm]

    def __init__(self, question: str, *, post_id: int, question_index: int,
                 answer_id: int | None = None, text: str = "") -> None:
        title = "Edit your answer" if answer_id is not None else "Your answer"
        custom_id = (f"{FORM_PREFIX}edit:{answer_id}" if answer_id is not None
                     else f"{FORM_PREFIX}{post_id}:{question_index}")
        super().__init__(title=title[:render.MODAL_TITLE_LIMIT], custom_id=custom_id)
        self.answer = discord.ui.TextInput(
            custom_id=FIELD_ID,
            label=(render.truncate(render.one_line(question), render.TEXT_INPUT_LABEL_LIMIT)
                   or "Answer"),
            style=discord.TextStyle.paragraph, min_length=1,
            max_length=render.TEXT_INPUT_VALUE_LIMIT,
            default=text or None,
            placeholder="Your own answer: you will read your classmates' once it is posted.")
        self.add_item(self.answer)


def submitted_text(data: Any) -> str | None:
    """The answer field's value in a form's submitted components (rows or labels)."""
    stack = list(data.get("components") or [])
    while stack:
        component = stack.pop()
        if component.get("custom_id") == FIELD_ID and "value" in component:
            return str(component["value"])
        stack += component.get("components") or []
        if isinstance(component.get("component"), dict):
            stack.append(component["component"])
    return None
