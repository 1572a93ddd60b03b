"""The poster: sends a claimed lesson and opens its question threads, exactly once.

Every message and thread id is recorded as soon as it exists, so a restart completes a
half-finished post from what was recorded (and what :mod:`.recovery` finds in Discord)
instead of posting it again. The claim is renewed while a post is under way, however long
Discord makes a send wait.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import discord

from bot.client.interactions import lesson_title
from bot.client.messages import message_kwargs, to_embed, to_view
from bot.cogs.answers.views import answer_view
from bot.cogs.posting import recovery
from bot.cogs.posting.calls import (
    OPEN_PRIVATE_THREAD,
    OPEN_THREAD,
    READ_HISTORY,
    RETRY_DELAYS,
    SEND,
    SEND_IN_THREAD,
    ClassChannel,
    Place,
    PostRefused,
    call,
    sender,
    where,
)
from bot.cogs.posting.transcript import TranscriptButton, transcript_part
from bot.core import claims, posting_rules, render
from bot.core.config import CourseSettings
from bot.core.lessons import Lesson
from storage.records import Post, utcnow
from storage.repository import Repository

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord's error code for "a thread has already been created for this message".
THREAD_ALREADY_CREATED = 160004
# Bot messages read back when completing a crashed post (to find what it already sent).
HISTORY_SCAN = 100


class ClaimLost(Exception):
    """Another process took over this post's claim: it completes the post, not us."""


@dataclass(frozen=True)
class PostResult:
    """How an attempt to post ended: the final post, or why not."""

    post: Post | None
    reason: str | None = None


class Poster:
    """Completes claimed posts for one process (``claimant``)."""

    def __init__(self, bot: SeminarBot, claimant: str) -> None:
        self.bot = bot
        self.claimant = claimant
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self.renew_every: dt.timedelta = claims.CLAIM_RENEW_EVERY
        #: Posts being completed by this process right now (not to be taken over).
        self.in_progress: set[int] = set()

    @property
    def repository(self) -> Repository:
        """The database: the source of truth for what was claimed and sent."""
        return self.bot.repository

    async def complete(self, post: Post, *, notes: list[str] | None = None,
                       resuming: bool = False) -> PostResult:
        """Post (or finish posting) a claimed lesson; what happened. Never raises but cancel.

        A refusal marks the post failed with its reason (told to the teacher through
        ``notes`` when given); an unexpected error is logged with its context and counts as
        a failure too, so the scheduler carries on with the other courses.
        """
        self.in_progress.add(post.id)
        renewing = asyncio.create_task(self._renew_claim(post), name=f"seminar-claim-{post.id}")
        try:
            return await self._complete(post, notes, resuming or post.attempts > 1)
        except ClaimLost:
            log.warning("Post %s (%s, %s) was taken over by another process; leaving it.",
                        post.id, post.course, post.lesson)
            return PostResult(None, "Another Seminar process is completing this post.")
        except PostRefused as refused:
            reason = refused.reason
            log.warning("Post %s (%s, %s) failed: %s", post.id, post.course, post.lesson, reason)
        except Exception:
            log.exception("Posting %s in %s (post %s) failed unexpectedly.",
                          post.lesson, post.course, post.id)
            reason = ("Something went wrong on my side (the details are in the bot's log). "
                      + posting_rules.retry_hint(post.lesson))
        finally:
            renewing.cancel()
            self.in_progress.discard(post.id)
        await self._fail(post, reason, notes)
        return PostResult(None, reason)

    async def _renew_claim(self, post: Post) -> None:
        """Renew this process's claim while it posts, however long Discord makes it wait.

        A claim left without renewal for the lease's length is taken over by another
        process: that must mean this one stopped, not that a send waited out a rate limit.
        """
        while True:
            await asyncio.sleep(self.renew_every.total_seconds())
            try:
                if not await self.repository.posts.touch_claim(post.id, self.claimant):
                    return  # finished, or taken over: the post's own steps find out
            except Exception as exc:  # the database is busy or away: the lease is long
                log.warning("Could not renew the claim on post %s (%s); trying again.",
                            post.id, exc)

    async def _fail(self, post: Post, reason: str, notes: list[str] | None) -> None:
        repo = self.repository
        if await repo.posts.mark(post.id, "failed", reason, claimant=self.claimant):
            await repo.audit.add(post.course, None, "post_failed", f"{post.lesson}: {reason}")
            if notes is not None:
                title = lesson_title(self.bot, post.lesson)
                notes.append(posting_rules.failed_sentence(title, reason))

    async def _complete(self, post: Post, notes: list[str] | None,
                        resuming: bool) -> PostResult:
        course = self.bot.settings.courses[post.course]
        lesson = self.bot.lessons.get(post.lesson)
        if lesson is None:
            raise PostRefused(posting_rules.missing_lesson_sentence(post.lesson))
        channel = await self._class_channel(post, course, lesson)
        sent = await self._find_sent(post, channel, lesson) if resuming else recovery.Sent()

        now = utcnow()
        decision = posting_rules.decide_catch_up(post.scheduled_at, now, course.catch_up)
        nothing_sent = post.message_id is None and not sent.lesson_ids
        if nothing_sent and decision.action == "skip":
            # A crashed claim found only after the catch-up window: as if missed entirely.
            reason = decision.reason or "missed"
            skipped = await self.repository.posts.mark(post.id, "skipped", reason,
                                                      claimant=self.claimant)
            if skipped and notes is not None:
                notes.append(posting_rules.skipped_sentence(lesson.title, lesson.slug,
                                                            post.scheduled_at, reason))
            return PostResult(None, reason)
        note = posting_rules.late_note(post.scheduled_at) if decision.late else None

        answer_first = post.answer_first
        if nothing_sent and posting_rules.answer_first(course.answer_first, lesson.answer_first):
            answer_first = await self.repository.posts.mark_answer_first(post.id)
        if answer_first:
            self._check_answer_first(post, channel, lesson)
        await self._send_lesson(post, channel, lesson, note, sent)
        await self._open_questions(post, channel, lesson, sent, answer_first=answer_first)
        late = decision.late if nothing_sent else None
        if not await self.repository.posts.mark(post.id, "posted", claimant=self.claimant,
                                               late=late):
            raise ClaimLost()
        final = await self.repository.posts.get(post.id)
        assert final is not None
        await self.repository.audit.add(post.course, None, "lesson_posted",
                                    f"{post.lesson} (post {post.id})")
        log.info("Posted %s in %s (post %s).", post.lesson, post.course, post.id)
        if nothing_sent and decision.late and notes is not None:
            notes.append(posting_rules.posted_late_sentence(lesson.title, post.scheduled_at,
                                                            decision.lateness))
        self.bot.dispatch("seminar_lesson_posted", final)
        return PostResult(final)

    async def _touch(self, post: Post) -> None:
        if not await self.repository.posts.touch_claim(post.id, self.claimant):
            raise ClaimLost()

    async def _call(self, step: Callable[[int], Awaitable[T]], place: Place | None,
                    needs: tuple[str, ...], slug: str) -> T:
        return await call(step, place, needs, slug, self.retry_delays)

    async def _class_channel(self, post: Post, course: CourseSettings,
                             lesson: Lesson) -> ClassChannel:
        """The course's class channel, checked for what would fail silently."""
        async def fetch(_attempt: int) -> Any:
            try:
                return await self.bot.fetch_channel(course.channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None

        found: Any = self.bot.get_channel(course.channel_id)
        if found is None:
            found = await self._call(fetch, None, (), lesson.slug)
        if found is None:
            raise PostRefused(posting_rules.unknown_channel_sentence(
                course.channel_id, post.course, lesson.slug))
        if not isinstance(found, discord.TextChannel | discord.ForumChannel):
            kind = str(getattr(found, "type", "channel")).replace("_", " ")
            raise PostRefused(posting_rules.wrong_channel_sentence(course.channel_id, kind,
                                                                   post.course))
        # Without Embed Links Discord accepts the message and drops the lesson from it, so
        # that one is checked first; anything else missing gets its 403 and is named then.
        have = found.permissions_for(found.guild.me)
        if have.send_messages and not have.embed_links:
            raise PostRefused(posting_rules.permission_sentence(where(found), ["Embed Links"],
                                                                lesson.slug))
        return found

    @staticmethod
    def _check_answer_first(post: Post, channel: ClassChannel, lesson: Lesson) -> None:
        """Refuse, naming the fix, an answer-first post that would fail half-way."""
        if isinstance(channel, discord.ForumChannel):
            raise PostRefused(posting_rules.answer_first_forum_sentence(
                channel.id, post.course, lesson.slug))
        have = channel.permissions_for(channel.guild.me)
        missing = [name for name, ok in zip(posting_rules.ANSWER_FIRST_PERMISSIONS, (
            have.create_private_threads, have.manage_threads, have.send_messages_in_threads),
            strict=True) if not ok]
        if missing:
            raise PostRefused(posting_rules.permission_sentence(where(channel), missing,
                                                                lesson.slug))

    # --- sending ------------------------------------------------------------------------------

    def _kwargs(self, spec: render.MessageSpec, transcript: str | None = None) -> dict[str, Any]:
        kwargs = message_kwargs(spec)
        if transcript is not None:
            kwargs["view"] = self._view(spec, transcript)
        kwargs["allowed_mentions"] = discord.AllowedMentions.none()
        return kwargs

    @staticmethod
    def _tags(forum: discord.ForumChannel,
              kind: Literal["question", "lesson"]) -> list[discord.ForumTag]:
        tags = list(forum.available_tags)
        index = posting_rules.pick_tag([tag.name for tag in tags], kind)
        return [tags[index]] if index is not None else []

    @staticmethod
    def _view(spec: render.MessageSpec, transcript: str | None) -> discord.ui.View:
        view = to_view(spec) or discord.ui.View(timeout=None)
        if transcript is not None:
            view.add_item(TranscriptButton(transcript))
        return view

    async def _forum_post(self, forum: discord.ForumChannel, name: str,
                          kind: Literal["question", "lesson"], spec: render.MessageSpec,
                          transcript: str | None = None) -> int:
        """Create a tagged forum post showing ``spec``; its id (also its first message's)."""
        view = self._view(spec, transcript)
        created = await forum.create_thread(
            name=name,
            auto_archive_duration=posting_rules.THREAD_ARCHIVE_MINUTES,
            applied_tags=self._tags(forum, kind),
            content=spec.content,
            embeds=[to_embed(e) for e in spec.embeds],
            view=view if view.children else discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return created.thread.id

    def _messageable(self, thread_id: int, guild_id: int) -> discord.PartialMessageable:
        return self.bot.get_partial_messageable(thread_id, guild_id=guild_id,
                                                type=discord.ChannelType.public_thread)

    async def _send_lesson(self, post: Post, channel: ClassChannel, lesson: Lesson,
                           note: str | None, sent: recovery.Sent) -> None:
        """Send the lesson message(s) not sent yet; record the first as soon as it exists."""
        specs = render.lesson_messages(lesson, post.due_at, note)
        with_transcript = transcript_part(specs) if render.transcript_file(lesson) else None
        ids = list(sent.lesson_ids)
        if post.message_id is not None and not ids:
            ids = [post.message_id]

        def kwargs(index: int) -> dict[str, Any]:
            slug = lesson.slug if index == with_transcript else None
            return self._kwargs(specs[index], slug)

        if not ids:
            if isinstance(channel, discord.ForumChannel):
                forum = channel
                name = posting_rules.lesson_thread_name(lesson)

                async def create_lesson_post(attempt: int) -> int:
                    if attempt:
                        found = await self._forum_posts_since(forum, post.scheduled_at)
                        if name in found:
                            return found[name]
                    transcript = lesson.slug if with_transcript == 0 else None
                    return await self._forum_post(forum, name, "lesson", specs[0], transcript)

                ids.append(await self._call(create_lesson_post, forum, SEND, lesson.slug))
            else:
                nonce = posting_rules.send_nonce(post.id, "lesson:0")
                message = await self._call(sender(channel, nonce, kwargs(0)), channel, SEND,
                                           lesson.slug)
                ids.append(message.id)
        if post.message_id is None:
            await self.repository.posts.record_message(post.id, channel.id, ids[0])
            await self._touch(post)
        # The rest of a long lesson: in the channel, or in the lesson's own forum post.
        target: discord.abc.Messageable = channel if isinstance(
            channel, discord.TextChannel) else self._messageable(ids[0], channel.guild.id)
        for index in range(len(ids), len(specs)):
            nonce = posting_rules.send_nonce(post.id, f"lesson:{index}")
            await self._call(sender(target, nonce, kwargs(index)), channel, SEND, lesson.slug)

    async def _open_questions(self, post: Post, channel: ClassChannel, lesson: Lesson,
                              sent: recovery.Sent, *, answer_first: bool = False) -> None:
        """Open a thread for each question not recorded yet; record each as it opens."""
        recorded = {t.question_index for t in await self.repository.posts.threads_of(post.id)}
        for index in range(len(lesson.questions)):
            if index in recorded:
                continue
            if answer_first and isinstance(channel, discord.TextChannel):
                thread_id, starter_id = await self._private_question(post, channel, lesson,
                                                                     index, sent)
            elif isinstance(channel, discord.ForumChannel):
                thread_id, starter_id = await self._forum_question(post, channel, lesson, index,
                                                                   sent)
            else:
                thread_id, starter_id = await self._text_question(post, channel, lesson, index,
                                                                  sent)
            await self.repository.posts.record_thread(post.id, index, thread_id, starter_id)
            await self._touch(post)
            info = await self.repository.posts.thread_info(thread_id)
            if info is not None:
                self.bot.dispatch("seminar_thread_opened", info)

    async def _text_question(self, post: Post, channel: discord.TextChannel, lesson: Lesson,
                             index: int, sent: recovery.Sent) -> tuple[int, int]:
        """A message for the question and a thread from it: (thread id, message id)."""
        specs = render.question_messages(lesson, index)
        message_id = sent.question_messages.get(index)
        if message_id is None:
            nonce = posting_rules.send_nonce(post.id, f"q{index}")
            message = await self._call(sender(channel, nonce, self._kwargs(specs[0])), channel,
                                       SEND, lesson.slug)
            message_id = message.id
        starter = channel.get_partial_message(message_id)
        name = render.thread_name(index, lesson.questions[index])

        async def open_thread(_: int) -> int:
            try:
                thread = await starter.create_thread(
                    name=name, auto_archive_duration=posting_rules.THREAD_ARCHIVE_MINUTES)
            except discord.HTTPException as exc:
                if exc.code == THREAD_ALREADY_CREATED:
                    return starter.id  # a thread's id is its starter message's id
                raise
            return thread.id

        thread_id = await self._call(open_thread, channel, OPEN_THREAD, lesson.slug)
        await self._send_overflow(post, channel, lesson, index, thread_id, specs)
        return thread_id, message_id

    async def _private_question(self, post: Post, channel: discord.TextChannel, lesson: Lesson,
                                index: int, sent: recovery.Sent) -> tuple[int, int]:
        """Answer-first: the question in the channel with its Answer button, and a private
        thread (no starter message: a thread from a message is public) that students join by
        answering: (thread id, question message id)."""
        specs = render.question_messages(lesson, index)
        message_id = sent.question_messages.get(index)
        if message_id is None:
            nonce = posting_rules.send_nonce(post.id, f"q{index}")
            kwargs = {**self._kwargs(specs[0]), "view": answer_view(post.id, index)}
            message = await self._call(sender(channel, nonce, kwargs), channel, SEND,
                                       lesson.slug)
            message_id = message.id
        for part, spec in enumerate(specs[1:], 1):  # a long question: all of it before answering
            nonce = posting_rules.send_nonce(post.id, f"q{index}:{part}")
            await self._call(sender(channel, nonce, self._kwargs(spec)), channel, SEND,
                             lesson.slug)
        name = render.thread_name(index, lesson.questions[index])

        async def open_thread(attempt: int) -> int:
            if attempt or sent.question_messages.get(index) is not None:
                # A lost answer (or a crash) may have opened it already: find it by name.
                found = await self._threads_since(channel, post.scheduled_at)
                if name in found:
                    return found[name]
            thread = await channel.create_thread(
                name=name, type=discord.ChannelType.private_thread, invitable=False,
                auto_archive_duration=posting_rules.THREAD_ARCHIVE_MINUTES)
            return thread.id

        thread_id = await self._call(open_thread, channel, OPEN_PRIVATE_THREAD, lesson.slug)
        return thread_id, message_id

    async def _forum_question(self, post: Post, forum: discord.ForumChannel, lesson: Lesson,
                              index: int, sent: recovery.Sent) -> tuple[int, int]:
        """A forum post for the question, tagged: (thread id, starter message id)."""
        specs = render.question_messages(lesson, index)
        name = render.thread_name(index, lesson.questions[index])
        thread_id = sent.forum_posts.get(index)
        if thread_id is None:

            async def create_post(attempt: int) -> int:
                if attempt:
                    # Forum posts take no nonce: look for one a lost answer created.
                    found = await self._forum_posts_since(forum, post.scheduled_at)
                    if name in found:
                        return found[name]
                return await self._forum_post(forum, name, "question", specs[0])

            thread_id = await self._call(create_post, forum, SEND, lesson.slug)
        await self._send_overflow(post, forum, lesson, index, thread_id, specs)
        return thread_id, thread_id

    async def _send_overflow(self, post: Post, channel: ClassChannel, lesson: Lesson,
                             index: int, thread_id: int, specs: list[render.MessageSpec]) -> None:
        """The rest of a question too long for one message, inside its thread."""
        target = self._messageable(thread_id, channel.guild.id)
        for part, spec in enumerate(specs[1:], 1):
            nonce = posting_rules.send_nonce(post.id, f"q{index}:{part}")
            await self._call(sender(target, nonce, self._kwargs(spec)), channel,
                             SEND_IN_THREAD, lesson.slug)

    # --- reading back what a crashed attempt sent ----------------------------------------------

    async def _forum_posts_since(self, forum: discord.ForumChannel,
                                 since: dt.datetime) -> dict[str, int]:
        """The bot's active posts in a forum created since ``since`` and not yet recorded."""
        return await self._threads_since(forum, since)

    async def _threads_since(self, parent: ClassChannel, since: dt.datetime) -> dict[str, int]:
        """The bot's active threads in a channel created since ``since``, not yet recorded."""
        me = self.bot.user.id if self.bot.user else 0
        found: dict[str, int] = {}
        threads = await parent.guild.active_threads()
        for thread in sorted(threads, key=lambda t: t.id):
            if thread.parent_id != parent.id or thread.owner_id != me:
                continue
            if discord.utils.snowflake_time(thread.id) < since - dt.timedelta(seconds=1):
                continue
            if await self.repository.posts.thread_info(thread.id) is not None:
                continue
            found.setdefault(thread.name, thread.id)
        return found

    async def _find_sent(self, post: Post, channel: ClassChannel,
                         lesson: Lesson) -> recovery.Sent:
        """What an earlier attempt at this post already sent but may not have recorded."""
        try:
            return await self._call(lambda _: self._read_back(post, channel, lesson),
                                    channel, READ_HISTORY, lesson.slug)
        except PostRefused as refused:
            log.warning("Could not read back post %s (%s); sending what is not recorded.",
                        post.id, refused.reason)
            return recovery.Sent()

    async def _read_back(self, post: Post, channel: ClassChannel,
                         lesson: Lesson) -> recovery.Sent:
        me = self.bot.user.id if self.bot.user else 0
        since = post.scheduled_at - dt.timedelta(seconds=1)
        if isinstance(channel, discord.ForumChannel):
            posts = await self._forum_posts_since(channel, since)
            sent = recovery.match_forum(lesson, post.message_id, posts)
            parts = recovery.lesson_parts(lesson, post.due_at)
            if sent.lesson_ids and parts > 1:
                thread = self._messageable(sent.lesson_ids[0], channel.guild.id)
                async for message in thread.history(after=discord.Object(sent.lesson_ids[0]),
                                                    limit=parts, oldest_first=True):
                    if message.author.id == me and len(sent.lesson_ids) < parts:
                        sent.lesson_ids.append(message.id)
            return sent
        after = post.message_id or discord.utils.time_snowflake(since)
        messages = [recovery.SentMessage(m.id, m.author.id == me, _message_key(m))
                    async for m in channel.history(after=discord.Object(after),
                                                   limit=HISTORY_SCAN, oldest_first=True)]
        return recovery.match_channel(lesson, post.due_at, post.message_id, messages)


def _message_key(message: discord.Message) -> recovery.MessageKey:
    if not message.embeds:
        return None, None
    embed = message.embeds[0]
    return embed.title, embed.footer.text
