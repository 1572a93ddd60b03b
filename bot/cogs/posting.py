"""The scheduler: posts each lesson when the calendar says, exactly once, and ``/schedule``.

One task sleeps until the earliest thing due (a calendar post, a stale claim to take over,
a due time to lock threads at), does it, and sleeps again; a teacher command wakes it early.
The database is the source of truth: an occurrence is claimed there before anything is
sent, and every message and thread id is recorded as soon as it exists, so a restart
completes a half-finished post from what was recorded instead of posting it again.

The rules (catch-up, nonces, sentences) are :mod:`bot.core.posting_rules`; drawing is
:mod:`bot.core.render`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.client.errors import UserFacingError
from bot.client.interactions import (
    course_of,
    lesson_autocomplete,
    notify_teachers,
    teacher_only,
    unknown_lesson,
)
from bot.client.messages import message_kwargs, respond, to_embed, to_view
from bot.client.permissions import missing_in
from bot.core import calendar, claims, posting_rules, render
from bot.core.config import CourseSettings
from bot.core.lessons import Lesson
from bot.core.lookup import find_lesson
from storage.repository import Post, PostStatus, Repository, utcnow

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

T = TypeVar("T")
ClassChannel = discord.TextChannel | discord.ForumChannel
Place = discord.abc.GuildChannel | discord.Thread

# Discord's error code for "a thread has already been created for this message".
THREAD_ALREADY_CREATED = 160004
# Bot messages read back when completing a crashed post (to find what it already sent).
HISTORY_SCAN = 100
# The loop re-reads the calendar at least this often: the machine may have slept, or the
# wall clock jumped, and asyncio's sleeps follow a monotonic clock.
MAX_SLEEP = dt.timedelta(hours=1)
# After an unexpected error (logged) or a lock Discord could not do right now.
RETRY_SOON = dt.timedelta(minutes=1)
UPCOMING_SHOWN = 10
RECENT_SHOWN = 10

# Permissions each step needs (discord.py's names), to say which one is missing on a 403.
SEND = ("view_channel", "send_messages", "embed_links")
OPEN_THREAD = ("create_public_threads", "read_message_history")
SEND_IN_THREAD = ("send_messages_in_threads", "embed_links")
READ_HISTORY = ("read_message_history",)
LOCK = ("manage_threads",)

TRANSCRIPT_PREFIX = "seminar:transcript:"


class PostRefused(Exception):
    """Discord (or the config) refused a post; ``reason`` is a sentence for the teacher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClaimLost(Exception):
    """Another process took over this post's claim: it completes the post, not us."""


@dataclass
class Sent:
    """What a crashed attempt already sent: lesson messages, question messages, forum posts."""

    lesson_ids: list[int] = field(default_factory=list)
    question_messages: dict[int, int] = field(default_factory=dict)
    forum_posts: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How an attempt to post ended: the final post, or why not."""

    post: Post | None
    reason: str | None = None


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


def _where(place: Place) -> str:
    if isinstance(place, discord.Thread):
        return f"the thread “{place.name}”"
    return f"#{place.name}"


def _first_title(spec: render.MessageSpec) -> str | None:
    return spec.embeds[0].title if spec.embeds else None


def _message_key(message: discord.Message) -> tuple[str | None, str | None]:
    if not message.embeds:
        return None, None
    embed = message.embeds[0]
    return embed.title, embed.footer.text


def _sender(target: discord.abc.Messageable, nonce: str,
            kwargs: dict[str, Any]) -> Callable[[int], Awaitable[discord.Message]]:
    """A step that sends one message with its nonce (a retry sends the very same one)."""

    async def send(_attempt: int) -> discord.Message:
        return await target.send(nonce=nonce, **kwargs)

    return send


def _transcript_part(specs: list[render.MessageSpec]) -> int | None:
    """The lesson message that carries the Transcript button: the last one with room."""
    for index in range(len(specs) - 1, -1, -1):
        if len(specs[index].buttons) < render.BUTTONS_PER_MESSAGE:
            return index
    return None


class PostingCog(commands.Cog, name="Posting"):
    """Posts lessons on schedule, completes interrupted posts, locks threads at due time."""

    schedule = app_commands.Group(
        name="schedule",
        description="See and change when lessons are posted (teachers only).",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    # Waits between tries when Discord fails (5xx, 429 that discord.py gave up on, no answer).
    retry_delays: tuple[float, ...] = (1.0, 3.0, 9.0)
    stale_after: dt.timedelta = claims.CLAIM_LEASE
    renew_every: dt.timedelta = claims.CLAIM_RENEW_EVERY

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        # Who holds a claim: unique per process (and per bot, when a test runs two).
        self.claimant = claims.new_claimant()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_progress: set[int] = set()
        self._lock_refusals_told: set[int] = set()

    # --- lifecycle ---------------------------------------------------------------------

    async def cog_load(self) -> None:
        """Register the Transcript button and start the scheduler task."""
        self.bot.add_dynamic_items(TranscriptButton)
        self._task = asyncio.create_task(self._run(), name="seminar-posting")

    async def cog_unload(self) -> None:
        """Stop the scheduler (a post in progress stays claimed and is completed later)."""
        self.bot.remove_dynamic_items(TranscriptButton)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Make the scheduler look at the calendar and the database again now."""
        self._wake.set()

    @commands.Cog.listener()
    async def on_seminar_calendar_changed(self) -> None:
        """The calendar was changed (reloaded config): recompute the next wake-up."""
        self.wake()

    @property
    def repository(self) -> Repository:
        """The database: the source of truth for what was claimed and sent."""
        return self.bot.repository

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        log.info("Scheduler started (claimant %s).", self.claimant)
        while not self.bot.is_closed():
            # Cleared before the pass, so a wake-up during the pass is not lost.
            self._wake.clear()
            try:
                wake_at = await self.run_due()
            except Exception:
                log.exception("The scheduler's pass failed; trying again in a minute.")
                wake_at = utcnow() + RETRY_SOON
            await self._sleep_until(wake_at)

    async def _sleep_until(self, wake_at: dt.datetime | None) -> None:
        longest = MAX_SLEEP.total_seconds()
        delay = longest if wake_at is None else (wake_at - utcnow()).total_seconds()
        delay = min(max(delay, 0.0), longest)
        if delay == 0:
            return
        log.debug("Scheduler sleeping %.1f s.", delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    # --- one pass ------------------------------------------------------------------------

    async def run_due(self) -> dt.datetime | None:
        """Do everything due now; when the next thing falls due (None: nothing scheduled)."""
        now = utcnow()
        # Another process posts the courses whose server is on its shards (see app.py).
        courses = self.bot.served_courses()
        notes: dict[str, list[str]] = defaultdict(list)
        wakes: list[dt.datetime] = []
        try:
            wakes += await self._take_over_stale_claims(now, courses.keys(), notes)
            for key, course in courses.items():
                wakes += await self._post_due(key, course, now, notes)
            lock_wake = await self._lock_due_threads(utcnow(), courses)
            if lock_wake is not None:
                wakes.append(lock_wake)
        finally:
            for key, lines in notes.items():
                await notify_teachers(self.bot, key, "\n".join(lines))
        return min(wakes) if wakes else None

    async def _take_over_stale_claims(
        self, now: dt.datetime, courses: Collection[str], notes: dict[str, list[str]]
    ) -> list[dt.datetime]:
        """Complete claims of ``courses`` whose process died; when the others go stale."""
        wakes: list[dt.datetime] = []
        repo = self.repository
        claimed: tuple[PostStatus, ...] = ("claimed",)
        for post in await repo.posts(statuses=claimed):
            if post.id in self._in_progress or post.course not in courses:
                continue
            # A holder that ran here and whose process is gone (killed, crashed) cannot
            # finish: take over at once, not when its lease runs out.
            gone = claims.holder_gone(post.claimed_by)
            stale_at = post.claimed_at + self.stale_after
            if stale_at > now and not gone:
                wakes.append(stale_at)
                continue
            if not await repo.take_over_claim(
                    post.id, self.claimant, stale_after=self.stale_after, now=now,
                    gone_holder=post.claimed_by if gone else None):
                continue
            why = ("its process is no longer running" if gone
                   else "it was not renewed for " + posting_rules.hours_text(self.stale_after))
            log.info("Taking over post %s (%s, %s) from %s: %s.",
                     post.id, post.course, post.lesson, post.claimed_by, why)
            taken = await repo.get_post(post.id)
            if taken is not None:
                await self.complete(taken, notes=notes[post.course], resuming=True)
        return wakes

    async def _post_due(self, key: str, course: CourseSettings, now: dt.datetime,
                        notes: dict[str, list[str]]) -> list[dt.datetime]:
        """Post (or skip) a course's occurrences due by ``now``; when its next one is due."""
        repo = self.repository
        wakes: list[dt.datetime] = []
        start = now - posting_rules.lookback(course.catch_up)
        for occurrence in calendar.due_between(key, course, start, now):
            if await repo.find_post(*occurrence.key) is not None:
                continue
            decision = posting_rules.decide_catch_up(occurrence.post_at, now, course.catch_up)
            if decision.action == "skip":
                await self._skip_missed(occurrence, decision.reason or "missed", notes[key])
                continue
            post_id = await repo.claim_post(key, occurrence.lesson, occurrence.post_at,
                                            occurrence.due_at, self.claimant, now=now)
            if post_id is None:
                # Another process won it: take it over should that process die mid-post.
                other = await repo.find_post(*occurrence.key)
                if other is not None and other.status == "claimed":
                    wakes.append(now if claims.holder_gone(other.claimed_by)
                                 else other.claimed_at + self.stale_after)
                continue
            post = await repo.get_post(post_id)
            if post is not None:
                await self.complete(post, notes=notes[key])
        upcoming = calendar.next_due(key, course, now)
        if upcoming is not None:
            wakes.append(upcoming.post_at)
        return wakes

    async def _skip_missed(self, occurrence: calendar.Occurrence, reason: str,
                           notes: list[str]) -> None:
        post_id = await self.repository.skip_occurrence(
            occurrence.course, occurrence.lesson, occurrence.post_at, occurrence.due_at,
            self.claimant, reason)
        if post_id is None:
            return
        log.info("Skipped %s in %s (%s): %s", occurrence.lesson, occurrence.course,
                 occurrence.post_at.isoformat(), reason)
        await self.repository.audit(occurrence.course, None, "lesson_skipped",
                                    f"{occurrence.lesson} at {occurrence.post_at.isoformat()}: "
                                    f"{reason}")
        title = self._title(occurrence.lesson)
        notes.append(posting_rules.skipped_sentence(title, occurrence.lesson, occurrence.post_at,
                                              reason))

    def _title(self, slug: str) -> str:
        lesson = self.bot.lessons.get(slug)
        return lesson.title if lesson is not None else slug

    # --- completing a post ---------------------------------------------------------------

    async def complete(self, post: Post, *, notes: list[str] | None = None,
                       resuming: bool = False) -> Outcome:
        """Post (or finish posting) a claimed lesson; what happened. Never raises but cancel.

        A refusal marks the post failed with its reason (told to the teacher through
        ``notes`` when given); an unexpected error is logged with its context and counts as
        a failure too, so the scheduler carries on with the other courses.
        """
        self._in_progress.add(post.id)
        renewing = asyncio.create_task(self._renew_claim(post), name=f"seminar-claim-{post.id}")
        try:
            return await self._complete(post, notes, resuming or post.attempts > 1)
        except ClaimLost:
            log.warning("Post %s (%s, %s) was taken over by another process; leaving it.",
                        post.id, post.course, post.lesson)
            return Outcome(None, "Another Seminar process is completing this post.")
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
            self._in_progress.discard(post.id)
        await self._fail(post, reason, notes)
        return Outcome(None, reason)

    async def _renew_claim(self, post: Post) -> None:
        """Renew this process's claim while it posts, however long Discord makes it wait.

        A claim left without renewal for the lease's length is taken over by another
        process: that must mean this one stopped, not that a send waited out a rate limit.
        """
        while True:
            await asyncio.sleep(self.renew_every.total_seconds())
            try:
                if not await self.repository.touch_claim(post.id, self.claimant):
                    return  # finished, or taken over: the post's own steps find out
            except Exception as exc:  # the database is busy or away: the lease is long
                log.warning("Could not renew the claim on post %s (%s); trying again.",
                            post.id, exc)

    async def _fail(self, post: Post, reason: str, notes: list[str] | None) -> None:
        repo = self.repository
        if await repo.mark_post(post.id, "failed", reason, claimant=self.claimant):
            await repo.audit(post.course, None, "post_failed", f"{post.lesson}: {reason}")
            if notes is not None:
                notes.append(posting_rules.failed_sentence(self._title(post.lesson), reason))

    async def _complete(self, post: Post, notes: list[str] | None, resuming: bool) -> Outcome:
        course = self.bot.settings.courses[post.course]
        lesson = self.bot.lessons.get(post.lesson)
        if lesson is None:
            raise PostRefused(posting_rules.missing_lesson_sentence(post.lesson))
        channel = await self._class_channel(post, course, lesson)
        sent = await self._find_sent(post, channel, lesson) if resuming else Sent()

        now = utcnow()
        decision = posting_rules.decide_catch_up(post.scheduled_at, now, course.catch_up)
        nothing_sent = post.message_id is None and not sent.lesson_ids
        if nothing_sent and decision.action == "skip":
            # A crashed claim found only after the catch-up window: as if missed entirely.
            reason = decision.reason or "missed"
            skipped = await self.repository.mark_post(post.id, "skipped", reason,
                                                      claimant=self.claimant)
            if skipped and notes is not None:
                notes.append(posting_rules.skipped_sentence(lesson.title, lesson.slug,
                                                      post.scheduled_at, reason))
            return Outcome(None, reason)
        note = posting_rules.late_note(post.scheduled_at) if decision.late else None

        await self._send_lesson(post, channel, lesson, note, sent)
        await self._open_questions(post, channel, lesson, sent)
        late = decision.late if nothing_sent else None
        if not await self.repository.mark_post(post.id, "posted", claimant=self.claimant,
                                               late=late):
            raise ClaimLost()
        final = await self.repository.get_post(post.id)
        assert final is not None
        await self.repository.audit(post.course, None, "lesson_posted",
                                    f"{post.lesson} (post {post.id})")
        log.info("Posted %s in %s (post %s).", post.lesson, post.course, post.id)
        if nothing_sent and decision.late and notes is not None:
            notes.append(posting_rules.posted_late_sentence(lesson.title, post.scheduled_at,
                                                      decision.lateness))
        self.bot.dispatch("seminar_lesson_posted", final)
        return Outcome(final)

    async def _touch(self, post: Post) -> None:
        if not await self.repository.touch_claim(post.id, self.claimant):
            raise ClaimLost()

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
            raise PostRefused(posting_rules.unknown_channel_sentence(course.channel_id, post.course,
                                                               lesson.slug))
        if not isinstance(found, discord.TextChannel | discord.ForumChannel):
            kind = str(getattr(found, "type", "channel")).replace("_", " ")
            raise PostRefused(posting_rules.wrong_channel_sentence(course.channel_id, kind,
                                                             post.course))
        # Without Embed Links Discord accepts the message and drops the lesson from it, so
        # that one is checked first; anything else missing gets its 403 and is named then.
        have = found.permissions_for(found.guild.me)
        if have.send_messages and not have.embed_links:
            raise PostRefused(posting_rules.permission_sentence(_where(found), ["Embed Links"],
                                                          lesson.slug))
        return found

    # --- sending, with retries ---------------------------------------------------------------

    async def _call(self, step: Callable[[int], Awaitable[T]], place: Place | None,
                    needs: tuple[str, ...], slug: str) -> T:
        """Run one Discord call, retrying what a retry can fix; :class:`PostRefused` if not.

        ``step`` gets the attempt number (0 first), so a step that cannot carry a nonce can
        look for what a lost answer may already have created before trying again.
        """
        where = _where(place) if place is not None else "the class channel"
        status: int | None = None
        attempts = len(self.retry_delays) + 1
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.retry_delays[attempt - 1])
            try:
                return await step(attempt)
            except discord.Forbidden as exc:
                missing = missing_in(place, needs) if place is not None else []
                raise PostRefused(posting_rules.permission_sentence(where, missing, slug,
                                                              exc.text or None)) from exc
            except discord.NotFound as exc:
                raise PostRefused(f"Discord says {where} does not exist ({exc.text}). "
                                  f"{posting_rules.retry_hint(slug)}") from exc
            except discord.HTTPException as exc:
                if exc.status != 429 and exc.status < 500:
                    raise PostRefused(f"Discord rejected what I sent to {where} ({exc.status}: "
                                      f"{exc.text}). {posting_rules.retry_hint(slug)}") from exc
                status = exc.status
                log.warning("Discord answered %s in %s (try %s of %s).", exc.status, where,
                            attempt + 1, attempts)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                status = None
                log.warning("No answer from Discord in %s (%r; try %s of %s).", where, exc,
                            attempt + 1, attempts)
        raise PostRefused(posting_rules.server_trouble_sentence(status, attempts, slug))

    def _kwargs(self, spec: render.MessageSpec, transcript: str | None = None) -> dict[str, Any]:
        kwargs = message_kwargs(spec)
        if transcript is not None:
            kwargs["view"] = self._view(spec, transcript)
        kwargs["allowed_mentions"] = discord.AllowedMentions.none()
        return kwargs

    def _tags(self, forum: discord.ForumChannel,
              kind: Literal["question", "lesson"]) -> list[discord.ForumTag]:
        tags = list(forum.available_tags)
        index = posting_rules.pick_tag([tag.name for tag in tags], kind)
        return [tags[index]] if index is not None else []

    def _view(self, spec: render.MessageSpec, transcript: str | None) -> discord.ui.View:
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
                           note: str | None, sent: Sent) -> None:
        """Send the lesson message(s) not sent yet; record the first as soon as it exists."""
        specs = render.lesson_messages(lesson, post.due_at, note)
        with_transcript = _transcript_part(specs) if render.transcript_file(lesson) else None
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
                message = await self._call(_sender(channel, nonce, kwargs(0)), channel, SEND,
                                           lesson.slug)
                ids.append(message.id)
        if post.message_id is None:
            await self.repository.record_post_message(post.id, channel.id, ids[0])
            await self._touch(post)
        # The rest of a long lesson: in the channel, or in the lesson's own forum post.
        target: discord.abc.Messageable = channel if isinstance(
            channel, discord.TextChannel) else self._messageable(ids[0], channel.guild.id)
        for index in range(len(ids), len(specs)):
            nonce = posting_rules.send_nonce(post.id, f"lesson:{index}")
            await self._call(_sender(target, nonce, kwargs(index)), channel, SEND, lesson.slug)

    async def _open_questions(self, post: Post, channel: ClassChannel, lesson: Lesson,
                              sent: Sent) -> None:
        """Open a thread for each question not recorded yet; record each as it opens."""
        recorded = {t.question_index for t in await self.repository.threads_for_post(post.id)}
        for index in range(len(lesson.questions)):
            if index in recorded:
                continue
            if isinstance(channel, discord.ForumChannel):
                thread_id, starter_id = await self._forum_question(post, channel, lesson, index,
                                                                   sent)
            else:
                thread_id, starter_id = await self._text_question(post, channel, lesson, index,
                                                                  sent)
            await self.repository.record_thread(post.id, index, thread_id, starter_id)
            await self._touch(post)
            info = await self.repository.thread_info(thread_id)
            if info is not None:
                self.bot.dispatch("seminar_thread_opened", info)

    async def _text_question(self, post: Post, channel: discord.TextChannel, lesson: Lesson,
                             index: int, sent: Sent) -> tuple[int, int]:
        """A message for the question and a thread from it: (thread id, message id)."""
        specs = render.question_messages(lesson, index)
        message_id = sent.question_messages.get(index)
        if message_id is None:
            nonce = posting_rules.send_nonce(post.id, f"q{index}")
            message = await self._call(_sender(channel, nonce, self._kwargs(specs[0])), channel,
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

    async def _forum_question(self, post: Post, forum: discord.ForumChannel, lesson: Lesson,
                              index: int, sent: Sent) -> tuple[int, int]:
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
            await self._call(_sender(target, nonce, self._kwargs(spec)), channel,
                             SEND_IN_THREAD, lesson.slug)

    # --- finding what a crashed attempt sent ---------------------------------------------

    async def _forum_posts_since(self, forum: discord.ForumChannel,
                                 since: dt.datetime) -> dict[str, int]:
        """The bot's active posts in a forum created since ``since`` and not yet recorded."""
        me = self.bot.user.id if self.bot.user else 0
        found: dict[str, int] = {}
        threads = await forum.guild.active_threads()
        for thread in sorted(threads, key=lambda t: t.id):
            if thread.parent_id != forum.id or thread.owner_id != me:
                continue
            if discord.utils.snowflake_time(thread.id) < since - dt.timedelta(seconds=1):
                continue
            if await self.repository.thread_info(thread.id) is not None:
                continue
            found.setdefault(thread.name, thread.id)
        return found

    async def _find_sent(self, post: Post, channel: ClassChannel, lesson: Lesson) -> Sent:
        """What an earlier attempt at this post already sent but may not have recorded.

        Read back from Discord: the bot's messages in the channel after the lesson message
        (or after the scheduled time), matched by their embed titles; in a forum, the bot's
        posts by name. Nonces cover a retry within minutes; this covers a restart after hours.
        """
        try:
            return await self._call(lambda _: self._read_back(post, channel, lesson),
                                    channel, READ_HISTORY, lesson.slug)
        except PostRefused as refused:
            log.warning("Could not read back post %s (%s); sending what is not recorded.",
                        post.id, refused.reason)
            return Sent()

    async def _read_back(self, post: Post, channel: ClassChannel, lesson: Lesson) -> Sent:
        me = self.bot.user.id if self.bot.user else 0
        sent = Sent()
        parts = len(render.lesson_messages(lesson, post.due_at))
        if post.message_id is not None:
            sent.lesson_ids.append(post.message_id)
        since = post.scheduled_at - dt.timedelta(seconds=1)
        if isinstance(channel, discord.ForumChannel):
            names = {render.thread_name(i, q): i for i, q in enumerate(lesson.questions)}
            for name, thread_id in (await self._forum_posts_since(channel, since)).items():
                if name in names:
                    sent.forum_posts[names[name]] = thread_id
                elif not sent.lesson_ids and name == posting_rules.lesson_thread_name(lesson):
                    sent.lesson_ids.append(thread_id)
            if sent.lesson_ids and parts > 1:
                thread = self._messageable(sent.lesson_ids[0], channel.guild.id)
                async for message in thread.history(after=discord.Object(sent.lesson_ids[0]),
                                                    limit=parts, oldest_first=True):
                    if message.author.id == me and len(sent.lesson_ids) < parts:
                        sent.lesson_ids.append(message.id)
            return sent

        lesson_key = _first_title(render.lesson_messages(lesson, post.due_at)[0])
        questions: dict[tuple[str | None, str | None], int] = {}
        for i in range(len(lesson.questions)):
            spec = render.question_messages(lesson, i)[0].embeds[0]
            questions[(spec.title, spec.footer)] = i
        after = post.message_id or discord.utils.time_snowflake(since)
        async for message in channel.history(after=discord.Object(after), limit=HISTORY_SCAN,
                                             oldest_first=True):
            if message.author.id != me:
                continue
            key = _message_key(message)
            if key in questions:
                sent.question_messages.setdefault(questions[key], message.id)
            elif sent.question_messages:
                continue  # lesson parts come before the questions
            elif not sent.lesson_ids:
                if key[0] == lesson_key:
                    sent.lesson_ids.append(message.id)
            elif len(sent.lesson_ids) < parts:
                sent.lesson_ids.append(message.id)
        return sent

    # --- locking at the due time ------------------------------------------------------------

    async def _lock_due_threads(self, now: dt.datetime,
                                served: Mapping[str, CourseSettings]) -> dt.datetime | None:
        """Lock the threads of lock_at_due courses past their due time; the next due time."""
        courses = [k for k, c in served.items() if c.lock_at_due]
        if not courses:
            return None
        repo = self.repository
        locked: dict[str, list[int]] = defaultdict(list)
        retry = False
        for info in await repo.threads_to_lock(now):
            if info.course not in courses:
                continue
            done = await self._lock_thread(info.course, info.thread_id, info.lesson)
            if done:
                locked[info.course].append(info.thread_id)
            else:
                retry = True
        for key, thread_ids in locked.items():
            await repo.mark_threads_locked(thread_ids)
            await repo.audit(key, None, "threads_locked",
                             f"{len(thread_ids)} thread(s) locked at the due time")
        wakes = [now + RETRY_SOON] if retry else []
        for key in courses:
            wakes += [t.due_at for t in await repo.open_threads(course=key)
                      if t.due_at is not None and t.due_at > now]
        return min(wakes) if wakes else None

    async def _lock_thread(self, course_key: str, thread_id: int, slug: str) -> bool:
        """Lock and archive one thread; False if it must be tried again later."""
        try:
            thread: Any = self.bot.get_channel(thread_id)
            if not isinstance(thread, discord.Thread):
                thread = await self.bot.fetch_channel(thread_id)
            if not isinstance(thread, discord.Thread):
                return True  # not a thread any more: nothing to lock
            await thread.edit(locked=True, archived=True, reason="The lesson is due.")
        except discord.NotFound:
            return True  # deleted: nothing to lock
        except discord.Forbidden:
            if thread_id not in self._lock_refusals_told:
                self._lock_refusals_told.add(thread_id)
                await notify_teachers(self.bot, course_key, (
                    f"I could not lock the threads of “{self._title(slug)}” at the due time: "
                    "I need the 'Manage Threads' permission in the class channel. Ask a server "
                    "admin to give it to me; I will try again."))
            return False
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("Could not lock thread %s (%r); trying again soon.", thread_id, exc)
            return False
        return True

    # --- /schedule ----------------------------------------------------------------------------

    @schedule.command(name="list", description="Upcoming and recent lesson posts, with status.")
    @teacher_only()
    async def schedule_list(self, interaction: discord.Interaction[SeminarBot]) -> None:
        """Show the course's upcoming posts and its recent posts with their status."""
        key, course = course_of(interaction)
        now = utcnow()
        repo = self.repository
        upcoming = []
        for occurrence in calendar.upcoming(key, course, now, limit=UPCOMING_SHOWN):
            recorded = await repo.find_post(*occurrence.key)
            upcoming.append((occurrence, recorded.status if recorded else None))
        recent = [self._post_line(course, p)
                  for p in await repo.recent_posts(key, RECENT_SHOWN) if p.scheduled_at <= now]
        titles = {slug: lesson.title for slug, lesson in self.bot.lessons.items()}
        text = posting_rules.schedule_overview(course.name, upcoming, recent, titles)
        pieces = render.chunk_text(text, render.MESSAGE_CONTENT_LIMIT)
        await respond(interaction, [render.MessageSpec(content=p) for p in pieces],
                      ephemeral=True)

    def _post_line(self, course: CourseSettings, post: Post) -> posting_rules.PostLine:
        return posting_rules.PostLine(post.lesson, post.scheduled_at, post.status, post.reason,
                                post.late, self._link(course, post))

    def _link(self, course: CourseSettings, post: Post) -> str | None:
        if post.channel_id is None or post.message_id is None:
            return None
        # In a forum the lesson is its own post: the message lives in the thread of its id.
        forum = isinstance(self.bot.get_channel(post.channel_id), discord.ForumChannel)
        channel_id = post.message_id if forum else post.channel_id
        return posting_rules.jump_url(course.guild_id, channel_id, post.message_id)

    @schedule.command(name="post", description="Post a lesson in the class channel now.")
    @app_commands.describe(lesson="The lesson to post now (pick one as you type).")
    @app_commands.autocomplete(lesson=lesson_autocomplete)
    @teacher_only()
    async def schedule_post(self, interaction: discord.Interaction[SeminarBot],
                            lesson: str) -> None:
        """Post a lesson now, with its threads, and answer with a link to it."""
        key, course = course_of(interaction)
        found = find_lesson(self.bot.lessons, lesson)
        if found is None:
            raise unknown_lesson(self.bot.lessons, lesson)
        await interaction.response.defer(ephemeral=True, thinking=True)
        repo = self.repository
        now = utcnow()
        later = [o for o in calendar.for_lesson(key, course, found.slug) if o.post_at > now]
        due_at = next((o.due_at for o in later if o.due_at is not None and o.due_at > now), None)
        failed = await self._half_sent(key, course, found.slug, now)
        if failed is not None:
            # The last attempt stopped half way (a thread refused, say): finish it rather
            # than show the class the lesson a second time.
            won = await repo.reclaim_failed(failed.id, self.claimant, now=now)
            post = await repo.get_post(failed.id) if won else None
        else:
            post_id = await repo.claim_post(key, found.slug, now, due_at, self.claimant, now=now)
            post = await repo.get_post(post_id) if post_id is not None else None
        if post is None:
            await interaction.followup.send("That lesson is being posted right now.",
                                            ephemeral=True)
            return
        await repo.audit(key, interaction.user.id, "schedule_post", found.slug)
        outcome = await self.complete(post, resuming=failed is not None)
        self.wake()  # a new due time may need a lock timer
        if outcome.post is None:
            text = posting_rules.failed_sentence(found.title, outcome.reason or "")
        else:
            link = self._link(course, outcome.post)
            text = f"Posted “{found.title}”" + (f": {link}" if link else ".")
            if later:
                text += (f"\nIt is also scheduled for {render.discord_timestamp(later[0].post_at)}"
                         f"; `/schedule skip {found.slug}` skips that post.")
        text = render.truncate(text, render.MESSAGE_CONTENT_LIMIT)
        try:
            await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException as exc:
            # Posted or not, the teacher must learn which (or they may post it again): the
            # course's teachers' channel, or a DM, says it instead.
            log.warning("Could not answer /schedule post (%s %s: %s); telling the teachers "
                        "of %s instead.", exc.status, exc.code, exc.text, key)
            await notify_teachers(self.bot, key, text)

    async def _half_sent(self, key: str, course: CourseSettings, slug: str,
                         now: dt.datetime) -> Post | None:
        """The lesson's latest post if it failed after its lesson message went out, recently.

        Older than the catch-up window, a fresh post serves the class better.
        """
        tried: tuple[PostStatus, ...] = ("claimed", "posted", "failed")
        latest = await self.repository.posts(key, lesson=slug, statuses=tried, limit=1,
                                             newest_first=True)
        window = dt.timedelta(hours=course.catch_up.max_late_hours)
        if (latest and latest[0].status == "failed" and latest[0].message_id is not None
                and now - latest[0].scheduled_at < window):
            return latest[0]
        return None

    @schedule.command(name="skip", description="Skip a lesson's next scheduled post.")
    @app_commands.describe(lesson="The lesson whose next post to skip (pick one as you type).")
    @app_commands.autocomplete(lesson=lesson_autocomplete)
    @teacher_only()
    async def schedule_skip(self, interaction: discord.Interaction[SeminarBot],
                            lesson: str) -> None:
        """Mark a lesson's next scheduled post as skipped, so it is not posted."""
        key, course = course_of(interaction)
        found = find_lesson(self.bot.lessons, lesson)
        if found is None:
            raise unknown_lesson(self.bot.lessons, lesson)
        repo = self.repository
        now = utcnow()
        later = [o for o in calendar.for_lesson(key, course, found.slug) if o.post_at > now]
        if not later:
            raise UserFacingError(f"“{found.title}” has no upcoming post in the calendar, so "
                                  "there is nothing to skip.")
        # Answer Discord before writing: a busy database must not outlast its 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        for occurrence in later:
            if await repo.find_post(*occurrence.key) is not None:
                continue  # skipped already: the next one is meant
            reason = f"skipped by {interaction.user.display_name} with /schedule skip"
            post_id = await repo.skip_occurrence(key, found.slug, occurrence.post_at,
                                                 occurrence.due_at, f"user:{interaction.user.id}",
                                                 reason)
            if post_id is None:
                continue
            await repo.audit(key, interaction.user.id, "schedule_skip",
                             f"{found.slug} at {occurrence.post_at.isoformat()}")
            self.wake()
            when = render.discord_timestamp(occurrence.post_at)
            text = (f"Skipped “{found.title}” on {when}: it will not be posted then. "
                    f"`/schedule post {found.slug}` posts it now instead.")
            await respond(interaction, [render.MessageSpec(content=text)], ephemeral=True)
            return
        raise UserFacingError(f"Every upcoming post of “{found.title}” is already skipped.")


async def setup(bot: SeminarBot) -> None:
    """Load the cog (called by ``bot.load_extension``)."""
    await bot.add_cog(PostingCog(bot))
