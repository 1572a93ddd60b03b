"""Answer-first lessons: a student answers a question before they may read their classmates.

Each question of such a lesson has a private thread (members only; teachers with Manage
Threads see all). "Answer" under the question opens a form; on submit the bot posts the
answer into the thread as the student's (their name and avatar), records it as their reply
(timed by the submit, late or on time against their own due time), and only then adds them to
the thread. A second press links to the thread; a double submit posts once (the answer is
claimed in the database first); an answer claimed but not posted when the bot stopped is
posted when it starts again. The author edits or deletes their answer with the buttons
under it.

Thin: the claims are :class:`storage.answers.AnswerStore`, the reply rules those of the
participation cog (:class:`~bot.cogs.participation.threads.LessonThreads`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.client.interactions import notify_teachers
from bot.cogs.answers.views import (
    DYNAMIC_ITEMS,
    FORM_ID,
    AnswerForm,
    owner_view,
    submitted_text,
)
from bot.core import render
from bot.core.participation_rules import count_characters, count_words, is_late
from storage.answers import AnswerRecord
from storage.records import NewReply

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot
    from bot.cogs.participation._cog import ParticipationCog
    from bot.cogs.participation.threads import LessonThread

log = logging.getLogger(__name__)

ANSWER_COLOUR = 0x5865F2
FOOTER_PREFIX = "First answer · #"
CLOSED = "This discussion is closed: answers are no longer taken."
NOT_OPEN = "This question is not open for answers (the lesson may have been removed)."
NOT_YOURS = "Only the student who wrote this answer can change it."


def answer_embed(member: discord.abc.User, text: str, answer_id: int,
                 submitted_at: dt.datetime) -> discord.Embed:
    """The posted answer: the student's name and avatar, their words, when they answered."""
    embed = discord.Embed(description=text, colour=ANSWER_COLOUR, timestamp=submitted_at)
    embed.set_author(name=render.truncate(f"{member.display_name} answered",
                                         render.EMBED_AUTHOR_LIMIT),
                     icon_url=member.display_avatar.url)
    embed.set_footer(text=f"{FOOTER_PREFIX}{answer_id}")
    return embed


def thread_link(guild_id: int, thread_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{thread_id}"


class AnswersCog(commands.Cog):
    """The Answer button, the answer form, and the author's Edit and Delete buttons."""

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Make the buttons work on every answer-first post, old ones included."""
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        """Stop answering the buttons."""
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    # --- what the answers need of the participation cog -----------------------------------

    def _participation(self) -> ParticipationCog | None:
        return self.bot.get_cog("ParticipationCog")  # type: ignore[return-value]

    async def _thread_of(self, post_id: int,
                         question_index: int) -> tuple[LessonThread | None, int | None]:
        """The question's lesson thread as the listener reads it, and its id."""
        threads = [t for t in await self.bot.repository.posts.threads_of(post_id)
                   if t.question_index == question_index]
        if not threads:
            return None, None
        thread_id = threads[0].thread_id
        participation = self._participation()
        return (participation.threads.get(thread_id) if participation else None), thread_id

    # --- Answer -------------------------------------------------------------------------------

    async def answer_pressed(self, interaction: discord.Interaction[Any], post_id: int,
                             question_index: int) -> None:
        """Open the form; a student who has answered gets the link to the thread instead."""
        thread, thread_id = await self._thread_of(post_id, question_index)
        if thread is None or thread_id is None:
            await interaction.response.send_message(NOT_OPEN, ephemeral=True)
            return
        user = interaction.user
        mine = await self.bot.repository.answers.of_student(post_id, question_index, user.id)
        if mine is not None and await self._standing(mine):
            await interaction.response.send_message(
                f"You have answered this question: read and reply to your classmates in "
                f"{thread_link(thread.guild_id, thread_id)}", ephemeral=True)
            return
        if thread.info.locked or interaction.created_at >= thread.closes_at:
            await interaction.response.send_message(CLOSED, ephemeral=True)
            return
        await self._show(interaction, AnswerForm(thread.question or "Your answer",
                                                 post_id=post_id, question_index=question_index))

    @staticmethod
    async def _show(interaction: discord.Interaction[Any], form: AnswerForm) -> None:
        """Show a form; its submit is read from its custom id (:meth:`on_interaction`)."""
        await interaction.response.send_modal(form)
        form.stop()  # forgotten at once: every submit, even after a restart, is handled alike

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """A submitted answer form: post the answer, or the edit."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Any = interaction.data or {}
        match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
        text = submitted_text(data)
        if match is None or text is None:
            return
        if match["answer"] is not None:
            await self.edited(interaction, int(match["answer"]), text)
        else:
            await self.submitted(interaction, int(match["post"]), int(match["question"]), text)

    async def _standing(self, answer: AnswerRecord) -> bool:
        """Whether an answer is posted (or being posted) and not deleted since."""
        if answer.message_id is None:
            return True
        reply = await self.bot.repository.replies.get(answer.message_id)
        return reply is None or reply.deleted_at is None

    async def submitted(self, interaction: discord.Interaction[Any], post_id: int,
                        question_index: int, text: str) -> None:
        """Claim the answer, post it into the thread, record it, then let the student in."""
        at = interaction.created_at  # when they pressed submit: late or on time by this
        await interaction.response.defer(ephemeral=True, thinking=True)
        thread, thread_id = await self._thread_of(post_id, question_index)
        if thread is None or thread_id is None:
            await interaction.followup.send(NOT_OPEN, ephemeral=True)
            return
        repo = self.bot.repository
        answer, mine = await repo.answers.claim(post_id, question_index, thread.info.course,
                                                thread.info.lesson, interaction.user.id,
                                                text, at)
        link = thread_link(thread.guild_id, thread_id)
        if not mine:  # a second submit, or a second press: one answer only
            await interaction.followup.send(
                f"Your answer is already posted: read and reply to your classmates in {link}",
                ephemeral=True)
            return
        member = interaction.user
        try:
            await self._post(answer, member, text, thread, thread_id)
        except discord.HTTPException as exc:
            await repo.answers.release(answer.id)
            log.warning("Could not post an answer of %s in thread %s: %s", member.id,
                        thread_id, exc)
            await notify_teachers(
                self.bot, thread.info.course,
                f"⚠️ I could not post a student's answer in <#{thread_id}> ({exc.text or exc}). "
                "Check that I have *Send Messages in Threads*, *Create Private Threads* and "
                "*Manage Threads* in the class channel.")
            await interaction.followup.send(
                "I could not post your answer: your teacher has been told. Nothing is "
                "lost: press Answer again in a moment.", ephemeral=True)
            return
        await interaction.followup.send(
            f"Your answer is posted. You can now read and reply to your classmates in {link}",
            ephemeral=True)

    async def _post(self, answer: AnswerRecord, member: discord.abc.User, text: str,
                    thread: LessonThread, thread_id: int) -> None:
        """Send the answer, record it, and add its author to the thread (in that order)."""
        channel = self.bot.get_partial_messageable(thread_id, guild_id=thread.guild_id,
                                                   type=discord.ChannelType.private_thread)
        message = await channel.send(
            embed=answer_embed(member, text, answer.id, answer.submitted_at),
            view=owner_view(answer.id), allowed_mentions=discord.AllowedMentions.none())
        await self._record(answer, member, text, thread, message.id)
        await self.bot.http.add_user_to_thread(thread_id, member.id)

    async def _record(self, answer: AnswerRecord, member: discord.abc.User, text: str,
                      thread: LessonThread, message_id: int) -> None:
        """The answer as the student's reply: their id and name, the submit time, words."""
        repo = self.bot.repository
        participation = self._participation()
        due = (participation.threads.due_for(thread, member.id) if participation
               else thread.info.due_at)
        info = thread.info
        await repo.replies.record([NewReply(
            message_id=message_id, thread_id=info.thread_id, post_id=info.post_id,
            question_index=info.question_index, course=info.course, lesson=info.lesson,
            guild_id=thread.guild_id, author_id=member.id,
            author_name=getattr(member, "display_name", str(member)),
            created_at=answer.submitted_at,
            word_count=count_words(text, copied_from=[thread.question] if thread.question
                                   else []),
            char_count=count_characters(text), reply_to_message_id=None,
            reply_to_author_id=None, late=is_late(answer.submitted_at, due),
            text=text if thread.store_text else None)])
        await repo.answers.posted(answer.id, message_id)

    # --- Edit my answer / Delete my answer ----------------------------------------------------

    async def _own(self, interaction: discord.Interaction[Any],
                   answer_id: int) -> AnswerRecord | None:
        answer = await self.bot.repository.answers.get(answer_id)
        if answer is None or answer.user_id != interaction.user.id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return None
        return answer

    async def edit_pressed(self, interaction: discord.Interaction[Any], answer_id: int) -> None:
        """The author gets the form with their answer in it."""
        answer = await self._own(interaction, answer_id)
        if answer is None:
            return
        thread, _ = await self._thread_of(answer.post_id, answer.question_index)
        message = interaction.message
        text = (message.embeds[0].description or "") if message and message.embeds else ""
        await self._show(interaction, AnswerForm(
            (thread.question if thread else None) or "Your answer", post_id=answer.post_id,
            question_index=answer.question_index, answer_id=answer.id, text=text))

    async def edited(self, interaction: discord.Interaction[Any], answer_id: int,
                     text: str) -> None:
        """Show the edited answer and update the reply's counts (graded as any edit)."""
        answer = await self._own(interaction, answer_id)
        if answer is None or answer.message_id is None:
            return
        thread, _ = await self._thread_of(answer.post_id, answer.question_index)
        embed = answer_embed(interaction.user, text, answer.id, answer.submitted_at)
        await interaction.response.edit_message(embed=embed, view=owner_view(answer.id))
        if thread is None:
            return
        words = count_words(text, copied_from=[thread.question] if thread.question else [])
        await self.bot.repository.replies.mark_edited(
            answer.message_id, interaction.created_at, words, count_characters(text),
            text if thread.store_text else None)

    async def delete_pressed(self, interaction: discord.Interaction[Any],
                             answer_id: int) -> None:
        """Delete the answer: its reply is marked deleted, and the student may answer again."""
        answer = await self._own(interaction, answer_id)
        if answer is None or answer.message_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.message is not None:
            with contextlib.suppress(discord.NotFound):
                await interaction.message.delete()
        await self.bot.repository.replies.mark_deleted([answer.message_id],
                                                       discord.utils.utcnow())
        await interaction.followup.send(
            "Your answer is deleted. You may answer again with the Answer button under the "
            "question.", ephemeral=True)

    # --- answers a stop left half-posted -------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Post (or finish recording) every answer claimed before the bot stopped."""
        for answer in await self.bot.repository.answers.pending():
            try:
                await self._finish(answer)
            except Exception:
                log.exception("Could not finish answer %s of %s; it stays pending.",
                              answer.id, answer.user_id)

    async def _finish(self, answer: AnswerRecord) -> None:
        thread, thread_id = await self._thread_of(answer.post_id, answer.question_index)
        if thread is None or thread_id is None or answer.text is None:
            return
        guild = self.bot.get_guild(thread.guild_id)
        if guild is None:
            return
        try:
            member = guild.get_member(answer.user_id) or await guild.fetch_member(answer.user_id)
        except discord.NotFound:
            return  # the student left the server: their answer is not posted for them

        channel = self.bot.get_partial_messageable(thread_id, guild_id=thread.guild_id,
                                                   type=discord.ChannelType.private_thread)
        footer = f"{FOOTER_PREFIX}{answer.id}"
        async for message in channel.history(limit=100, after=discord.Object(
                discord.utils.time_snowflake(answer.submitted_at) - 1)):
            if (message.author.id == (self.bot.user.id if self.bot.user else 0)
                    and message.embeds and message.embeds[0].footer.text == footer):
                await self._record(answer, member, answer.text, thread, message.id)
                await self.bot.http.add_user_to_thread(thread_id, member.id)
                return
        await self._post(answer, member, answer.text, thread, thread_id)
