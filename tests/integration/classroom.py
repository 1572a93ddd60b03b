"""A class in the emulator with teacher and student roles, and replies recorded in the database.

Posts, threads and replies are written straight through the repository (and matching threads
created in the emulator), so these tests do not depend on the posting and participation cogs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import discord
import yaml

from bot.core.config import Settings, parse_settings
from storage.records import NewReply, Post
from storage.repository import Repository
from tests.emulator import DiscordEmulator
from tests.integration.conftest import COURSE, PROMPTS, SEED, course_config

T = TypeVar("T")
NOT_TEACHER = "Only the course's teachers can use this command."
TEACHER_COMMANDS = ("participation", "remind", "forget", "extend", "roster")
_message_ids = itertools.count(1)


@dataclass
class Classroom:
    """The emulated server: a class channel, a teacher, students with the student role."""

    guild_id: int
    channel_id: int
    other_channel_id: int
    teacher_id: int
    teacher_role_id: int
    student_role_id: int
    students: dict[str, int] = field(default_factory=dict)
    outsider_id: int = 0  # a member without the student role

    def course_config(self, emulator: DiscordEmulator, tmp_path: Path,
                      **course: Any) -> dict[str, Any]:
        """A config (as YAML data) for one course in this server, SQLite in ``tmp_path``.

        Lessons: ``tmp_path/prompts`` when :func:`two_lessons` made it, else the shipped ones.
        """
        return course_config(emulator, tmp_path, **{
            "guild_id": self.guild_id, "channel_id": self.channel_id,
            "teacher_role_id": self.teacher_role_id, "student_role_id": self.student_role_id,
            **course})

    def settings(self, emulator: DiscordEmulator, tmp_path: Path, **course: Any) -> Settings:
        """Validated settings for :meth:`course_config`."""
        return parse_settings(self.course_config(emulator, tmp_path, **course))

    def write_config(self, emulator: DiscordEmulator, tmp_path: Path, **course: Any) -> Path:
        """The config as a YAML file, as a teacher would keep it (for ``seminar export``)."""
        data = self.course_config(emulator, tmp_path, **course)
        for value in data["courses"][COURSE].get("grading", {}).get("checkpoints", []):
            value["by"] = value["by"].strftime("%Y-%m-%d %H:%M")
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path


SECOND = "glasnost"
SECOND_TITLE = "Glasnost and Its Critics"


def two_lessons(tmp_path: Path) -> Path:
    """A lessons folder with the seed lesson and a second one, ``glasnost``."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    seed = PROMPTS / f"{SEED}.yaml"
    (folder / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / f"{SECOND}.yaml").write_text(yaml.safe_dump({
        "title": SECOND_TITLE,
        "published": "2021-09-01",
        "summary": "What openness changed, and what it did not.",
        "questions": ["What did glasnost make possible?", "Who opposed it, and why?"],
    }), encoding="utf-8")
    return folder


def build_classroom(emulator: DiscordEmulator, students: dict[str, str | None]) -> Classroom:
    """A server with a teacher and the given students (username -> nickname or None).

    An admin has let the teacher role use the teacher commands (Server Settings >
    Integrations), as the README tells teachers to do.
    """
    guild = emulator.add_guild(name="Lincoln High")
    teacher_role = emulator.add_role(guild.id, "Teacher")
    student_role = emulator.add_role(guild.id, "Student")
    channel = emulator.add_text_channel(guild.id, name="history-101")
    other = emulator.add_text_channel(guild.id, name="off-topic")
    teacher = emulator.add_member(guild.id, "ms-rivera", roles=[teacher_role.id])
    outsider = emulator.add_member(guild.id, "visitor")
    room = Classroom(guild.id, int(channel.id), int(other.id), teacher.id, teacher_role.id,
                     student_role.id, outsider_id=outsider.id)
    for username, nick in students.items():
        room.students[username] = emulator.add_member(
            guild.id, username, roles=[student_role.id], nick=nick).id
    for name in TEACHER_COMMANDS:
        emulator.allow_command(guild.id, name, role_id=teacher_role.id)
    return room


def now() -> dt.datetime:
    """The current time in UTC, to the second (what Discord timestamps show)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def post_lesson(
    repo: Repository,
    emulator: DiscordEmulator,
    room: Classroom,
    *,
    scheduled_at: dt.datetime,
    due_at: dt.datetime | None,
    lesson: str = SEED,
    questions: int = 2,
) -> tuple[Post, list[int]]:
    """Record a posted lesson with one emulator thread per question; the post and thread ids."""
    post_id = await repo.posts.claim(COURSE, lesson, scheduled_at, due_at, "test")
    assert post_id is not None
    threads = [int(emulator.add_thread(room.channel_id, f"Question {i + 1}").id)
               for i in range(questions)]
    await repo.posts.record_message(post_id, room.channel_id, threads[0])
    for index, thread_id in enumerate(threads):
        await repo.posts.record_thread(post_id, index, thread_id, created_at=scheduled_at)
    await repo.posts.mark(post_id, "posted", now=scheduled_at)
    post = await repo.posts.get(post_id)
    assert post is not None
    return post, threads


def reply(
    post: Post,
    threads: list[int],
    question: int,
    author_id: int,
    name: str,
    at: dt.datetime,
    words: int,
    *,
    to: int | None = None,
    late: bool = False,
) -> NewReply:
    """A reply as the participation listener records it (``to``: the author replied to)."""
    message_id = discord.utils.time_snowflake(at) + next(_message_ids)
    return NewReply(
        message_id=message_id,
        thread_id=threads[question],
        post_id=post.id,
        question_index=question,
        course=post.course,
        lesson=post.lesson,
        guild_id=0,
        author_id=author_id,
        author_name=name,
        created_at=at,
        word_count=words,
        char_count=words * 6,
        reply_to_message_id=1 if to is not None else None,
        reply_to_author_id=to,
        late=late,
    )




def buttons(message: Any) -> dict[str, dict[str, Any]]:
    """A message's buttons by label."""
    return {b["label"]: b for b in message.buttons()}
