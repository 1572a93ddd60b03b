"""Locking question threads at the due time, for courses with ``lock_at_due``."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.client.interactions import lesson_title, notify_teachers
from bot.core.config import CourseSettings

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

# After a lock Discord could not do right now.
RETRY_SOON = dt.timedelta(minutes=1)


class ThreadLocker:
    """Locks and archives the threads of lessons past their due time."""

    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        self._refusals_told: set[int] = set()

    async def lock_due(self, now: dt.datetime,
                       served: Mapping[str, CourseSettings]) -> dt.datetime | None:
        """Lock the threads of lock_at_due courses past their due time; the next due time."""
        courses = [k for k, c in served.items() if c.lock_at_due]
        if not courses:
            return None
        repo = self.bot.repository
        locked: dict[str, list[int]] = defaultdict(list)
        retry = False
        for info in await repo.posts.threads_to_lock(now):
            if info.course not in courses:
                continue
            if await self._lock_thread(info.course, info.thread_id, info.lesson):
                locked[info.course].append(info.thread_id)
            else:
                retry = True
        for key, thread_ids in locked.items():
            await repo.posts.mark_threads_locked(thread_ids)
            await repo.audit.add(key, None, "threads_locked",
                             f"{len(thread_ids)} thread(s) locked at the due time")
        wakes = [now + RETRY_SOON] if retry else []
        for key in courses:
            wakes += [t.due_at for t in await repo.posts.open_threads(course=key)
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
            if thread_id not in self._refusals_told:
                self._refusals_told.add(thread_id)
                await notify_teachers(self.bot, course_key, (
                    f"I could not lock the threads of “{lesson_title(self.bot, slug)}” at the "
                    "due time: I need the 'Manage Threads' permission in the class channel. "
                    "Ask a server admin to give it to me; I will try again."))
            return False
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("Could not lock thread %s (%r); trying again soon.", thread_id, exc)
            return False
        return True
