"""A student's records leave the database: forgotten on a teacher's word, or when they expire.

Shared by the teacher cog (``/forget`` and the daily retention purge); each step is written
to the course's audit log, so a teacher can see that it happened.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from bot.core.config import CourseSettings
from storage.repository import Repository

log = logging.getLogger(__name__)


async def forget_student(repo: Repository, course_key: str, user_id: int,
                         actor_id: int) -> int:
    """Erase a student's records in a course and audit it; how many replies were erased."""
    deleted = (await repo.forget_student(course_key, user_id))["replies"]
    await repo.audit.add(course_key, actor_id, "forget",
                         f"student {user_id}: {deleted} replies deleted")
    log.info("Course %s: teacher %s deleted the records of student %s (%s replies).",
             course_key, actor_id, user_id, deleted)
    return deleted


async def purge_expired(repo: Repository, courses: Mapping[str, CourseSettings],
                        now: dt.datetime) -> dict[str, int]:
    """Delete replies older than each course's ``retention_days``; how many, per course."""
    purged: dict[str, int] = {}
    for key, course in courses.items():
        cutoff = now - dt.timedelta(days=course.retention_days)
        deleted = await repo.purge_older_than(key, cutoff)
        purged[key] = deleted
        if deleted:
            await repo.audit.add(key, None, "purge",
                                 f"{deleted} replies older than {course.retention_days} days "
                                 f"(before {cutoff:%Y-%m-%d %H:%M} UTC) deleted")
            log.info("Course %s: purged %s replies older than %s days.", key, deleted,
                     course.retention_days)
    return purged
