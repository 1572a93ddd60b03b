"""One pass of the scheduler: post (or skip) what is due, take over dead claims, lock threads.

The database is the source of truth: an occurrence is claimed there before anything is
sent, so two processes or a restart never post it twice. A pass answers when the next
thing falls due; the bot's one due-loop (:mod:`bot.client.timers`) sleeps until then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection
from typing import TYPE_CHECKING

from bot.client.interactions import lesson_title, notify_teachers
from bot.cogs.posting.locking import ThreadLocker
from bot.cogs.posting.poster import Poster
from bot.core import calendar, claims, posting_rules
from bot.core.config import CourseSettings
from storage.records import PostStatus
from storage.repository import Repository

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)


class Scheduler:
    """Decides what is due and hands claimed posts to the :class:`Poster`."""

    def __init__(self, bot: SeminarBot, poster: Poster, locker: ThreadLocker) -> None:
        self.bot = bot
        self.poster = poster
        self.locker = locker
        self.stale_after: dt.timedelta = claims.CLAIM_LEASE

    @property
    def repository(self) -> Repository:
        """The database: the source of truth for what was claimed and sent."""
        return self.bot.repository

    async def run_due(self, now: dt.datetime) -> dt.datetime | None:
        """Do everything due by ``now``; when the next thing falls due (None: nothing)."""
        # Another process posts the courses whose server is on its shards (see client/bot.py).
        courses = self.bot.served_courses()
        notes: dict[str, list[str]] = defaultdict(list)
        wakes: list[dt.datetime] = []
        try:
            wakes += await self._take_over_stale_claims(now, courses.keys(), notes)
            for key, course in courses.items():
                wakes += await self._post_due(key, course, now, notes)
            lock_wake = await self.locker.lock_due(now, courses)
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
        claimant = self.poster.claimant
        claimed: tuple[PostStatus, ...] = ("claimed",)
        for post in await repo.posts.matching(statuses=claimed):
            if post.id in self.poster.in_progress or post.course not in courses:
                continue
            # A holder that ran here and whose process is gone (killed, crashed) cannot
            # finish: take over at once, not when its lease runs out.
            gone = claims.holder_gone(post.claimed_by)
            stale_at = post.claimed_at + self.stale_after
            if stale_at > now and not gone:
                wakes.append(stale_at)
                continue
            if not await repo.posts.take_over(
                    post.id, claimant, stale_after=self.stale_after, now=now,
                    gone_holder=post.claimed_by if gone else None):
                continue
            why = ("its process is no longer running" if gone
                   else "it was not renewed for " + posting_rules.hours_text(self.stale_after))
            log.info("Taking over post %s (%s, %s) from %s: %s.",
                     post.id, post.course, post.lesson, post.claimed_by, why)
            taken = await repo.posts.get(post.id)
            if taken is not None:
                await self.poster.complete(taken, notes=notes[post.course], resuming=True)
        return wakes

    async def _post_due(self, key: str, course: CourseSettings, now: dt.datetime,
                        notes: dict[str, list[str]]) -> list[dt.datetime]:
        """Post (or skip) a course's occurrences due by ``now``; when its next one is due."""
        repo = self.repository
        wakes: list[dt.datetime] = []
        start = now - posting_rules.lookback(course.catch_up)
        for occurrence in calendar.due_between(key, course, start, now):
            if await repo.posts.find(*occurrence.key) is not None:
                continue
            decision = posting_rules.decide_catch_up(occurrence.post_at, now, course.catch_up)
            if decision.action == "skip":
                await self._skip_missed(occurrence, decision.reason or "missed", notes[key])
                continue
            post_id = await repo.posts.claim(key, occurrence.lesson, occurrence.post_at,
                                            occurrence.due_at, self.poster.claimant, now=now)
            if post_id is None:
                # Another process won it: take it over should that process die mid-post.
                other = await repo.posts.find(*occurrence.key)
                if other is not None and other.status == "claimed":
                    wakes.append(now if claims.holder_gone(other.claimed_by)
                                 else other.claimed_at + self.stale_after)
                continue
            post = await repo.posts.get(post_id)
            if post is not None:
                await self.poster.complete(post, notes=notes[key])
        upcoming = calendar.next_due(key, course, now)
        if upcoming is not None:
            wakes.append(upcoming.post_at)
        return wakes

    async def _skip_missed(self, occurrence: calendar.Occurrence, reason: str,
                           notes: list[str]) -> None:
        post_id = await self.repository.posts.skip_occurrence(
            occurrence.course, occurrence.lesson, occurrence.post_at, occurrence.due_at,
            self.poster.claimant, reason)
        if post_id is None:
            return
        log.info("Skipped %s in %s (%s): %s", occurrence.lesson, occurrence.course,
                 occurrence.post_at.isoformat(), reason)
        await self.repository.audit.add(occurrence.course, None, "lesson_skipped",
                                    f"{occurrence.lesson} at {occurrence.post_at.isoformat()}: "
                                    f"{reason}")
        notes.append(posting_rules.skipped_sentence(lesson_title(self.bot, occurrence.lesson),
                                                    occurrence.lesson, occurrence.post_at,
                                                    reason))
