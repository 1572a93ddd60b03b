"""What the fault tests share: a course in the emulator, its config, and the end-of-test checks.

The checks are what a teacher would notice: a lesson (or a question) appearing twice in
the class channel, a reply missing from or counted twice in the database compared with the
messages Discord holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import yaml

from bot.core.config import Settings, parse_settings
from storage.repository import Repository
from tests.emulator import DiscordEmulator, InteractionResult
from tests.integration.conftest import COURSE, SEED, course_config, until

T = TypeVar("T")
ZONE = ZoneInfo("America/New_York")
SEED_TITLE = "Stalin’s Crimes and Russia’s Future"
QUESTIONS = 2  # the seed lesson's discussion questions
TEACHER_COMMANDS = ("schedule", "participation", "remind", "forget")


@dataclass
class Course:
    """A server with a class channel, a teachers' channel, a teacher and three students."""

    guild_id: int
    class_channel_id: int
    teacher_channel_id: int
    teacher_role_id: int
    student_role_id: int
    teacher_id: int
    students: list[int] = field(default_factory=list)

    def config(self, emulator: DiscordEmulator, tmp_path: Path,
               entries: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        """The course's config (as YAML data), SQLite in ``tmp_path``.

        Lessons: ``tmp_path/prompts`` when :func:`two_lessons` made it, else the shipped ones.
        """
        return course_config(emulator, tmp_path, **{
            "guild_id": self.guild_id, "channel_id": self.class_channel_id,
            "teacher_channel_id": self.teacher_channel_id,
            "teacher_role_id": self.teacher_role_id, "student_role_id": self.student_role_id,
            "calendar": {"entries": entries or []}, **extra})

    def settings(self, emulator: DiscordEmulator, tmp_path: Path,
                 entries: list[dict[str, Any]] | None = None, **extra: Any) -> Settings:
        """Validated settings for :meth:`config`."""
        return parse_settings(self.config(emulator, tmp_path, entries, **extra))

    def write_config(self, emulator: DiscordEmulator, tmp_path: Path,
                     entries: list[dict[str, Any]] | None = None, **extra: Any) -> Path:
        """The config as a file, for ``seminar run`` (the token comes from the environment)."""
        data = self.config(emulator, tmp_path, entries, **extra)
        data["log_level"] = "INFO"
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    async def command(self, emulator: DiscordEmulator, user_id: int, name: str,
                      **options: Any) -> InteractionResult:
        """Someone runs a slash command in the class channel; what they see."""
        return await emulator.invoke_command(self.guild_id, self.class_channel_id, user_id,
                                             name, **options)

    async def schedule_post(self, emulator: DiscordEmulator,
                            lesson: str = SEED) -> InteractionResult:
        """The teacher runs ``/schedule post`` in the class channel; what they see."""
        return await self.command(emulator, self.teacher_id, "schedule",
                                  options={"lesson": lesson}, subcommand="post", timeout=20)


def build_course(emulator: DiscordEmulator, students: int = 3) -> Course:
    """A server with one course; the teacher role may use the teacher commands."""
    guild = emulator.add_guild(name="Lincoln High")
    teacher_role = emulator.add_role(guild.id, "Teacher")
    student_role = emulator.add_role(guild.id, "Student")
    class_channel = emulator.add_text_channel(guild.id, "history-101")
    teachers = emulator.add_text_channel(guild.id, "teachers")
    teacher = emulator.add_member(guild.id, "ms-rivera", roles=[teacher_role.id])
    course = Course(guild.id, int(class_channel.id), int(teachers.id), teacher_role.id,
                    student_role.id, teacher.user_id)
    for number in range(students):
        member = emulator.add_member(guild.id, f"student-{number + 1}",
                                     roles=[student_role.id])
        course.students.append(member.user_id)
    for name in TEACHER_COMMANDS:
        emulator.allow_command(guild.id, name, role_id=teacher_role.id)
    return course


def wall(**delta: float) -> str:
    """The course's local wall time ``delta`` from now, as a config file writes it."""
    moment = (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).astimezone(ZONE)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


async def ask_lesson(emulator: DiscordEmulator, course: Course,
                     student: int | None = None) -> InteractionResult:
    """A student asks ``/lesson`` in the class channel."""
    return await emulator.invoke_command(
        course.guild_id, course.class_channel_id,
        course.students[0] if student is None else student, "lesson")


def bot_messages(emulator: DiscordEmulator, channel_id: int) -> list[dict[str, Any]]:
    """The bot's messages in a channel, oldest first."""
    return [m for m in emulator.messages(channel_id)
            if int(m["author"]["id"]) == emulator.bot_user_id]


def titles(emulator: DiscordEmulator, channel_id: int) -> list[str]:
    """The first embed title of each of the bot's messages in a channel."""
    return [m["embeds"][0]["title"] for m in bot_messages(emulator, channel_id)
            if m.get("embeds")]


def assert_posted_once(emulator: DiscordEmulator, channel_id: int,
                       lessons: tuple[str, ...] = (SEED_TITLE,)) -> None:
    """Each lesson and each of its questions appear once in the channel, in order, and each
    question message has its thread."""
    questions = [f"Question {i} of {QUESTIONS}" for i in range(1, QUESTIONS + 1)]
    assert titles(emulator, channel_id) == [t for title in lessons for t in (title, *questions)]
    threads = emulator.threads(channel_id)
    names = [t["name"] for t in threads]
    assert len(names) == QUESTIONS * len(lessons) == len(set(names)), names
    starters = [m for m in bot_messages(emulator, channel_id)
                if m["embeds"][0]["title"] in questions]
    # In Discord a thread opened from a message has that message's id.
    assert sorted(int(t["id"]) for t in threads) == sorted(int(m["id"]) for m in starters)


def student_messages(emulator: DiscordEmulator, thread_ids: list[int]) -> list[dict[str, Any]]:
    """Every message a member (not a bot) wrote in these threads, as Discord holds them."""
    return [m for t in thread_ids for m in emulator.messages(t)
            if not m["author"].get("bot") and int(m["author"]["id"]) != emulator.bot_user_id]




class Burst:
    """Students replying one after another in lesson threads, until the block ends.

    Every fourth reply answers the one before it (a peer reply). Threads can be added while
    it runs (a lesson posted meanwhile). ``sent`` holds every message, as the emulator
    stored it.
    """

    TEXT = "reply {number} about the purges"  # five words

    def __init__(self, emulator: DiscordEmulator, students: list[int], threads: list[int],
                 *, pause: float = 0.01) -> None:
        self.emulator = emulator
        self.students = students
        self.threads = list(threads)
        self.pause = pause
        self.sent: list[dict[str, Any]] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            thread = self.threads[number % len(self.threads)]
            author = self.students[number % len(self.students)]
            previous = [m for m in self.sent[-3:] if int(m["channel_id"]) == thread]
            reply_to = int(previous[-1]["id"]) if number % 4 == 3 and previous else None
            self.sent.append(await self.emulator.user_message(
                thread, author, self.TEXT.format(number=number), reply_to=reply_to))
            number += 1
            await asyncio.sleep(self.pause)

    async def more(self, count: int, seconds: float = 20.0) -> None:
        """Wait until ``count`` more replies have been written."""
        target = len(self.sent) + count
        await self.emulator.wait_for(lambda: len(self.sent) >= target, timeout=seconds)

    async def __aenter__(self) -> Burst:
        self._task = asyncio.create_task(self._run(), name="students-replying")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def expected_numbers(emulator: DiscordEmulator,
                     thread_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """Per student, from what Discord holds: (replies, words, peer replies)."""
    held = student_messages(emulator, thread_ids)
    authors = {int(m["id"]): int(m["author"]["id"]) for m in held}
    numbers: dict[int, tuple[int, int, int]] = {}
    for message in held:
        author = int(message["author"]["id"])
        reference = (message.get("message_reference") or {}).get("message_id")
        peer = reference is not None and authors.get(int(reference), author) != author
        replies, words, peers = numbers.get(author, (0, 0, 0))
        numbers[author] = (replies + 1, words + len(message["content"].split()),
                           peers + int(peer))
    return numbers


async def recorded_numbers(repo: Repository) -> dict[int, tuple[int, int, int]]:
    """Per student, from the database as the report reads it: (replies, words, peer replies)."""
    return {s.author_id: (s.replies, s.words, s.peer_replies)
            for s in await repo.reports.summary(COURSE)}


async def all_recorded(repo: Repository, emulator: DiscordEmulator,
                       thread_ids: list[int], seconds: float = 30.0) -> None:
    """Wait until the database holds a reply for every student message in the threads."""
    async def caught_up() -> bool:
        wanted = {int(m["id"]) for m in student_messages(emulator, thread_ids)}
        have = {r.message_id for r in await repo.replies.matching(COURSE, include_deleted=True)}
        return wanted <= have

    await until(caught_up, seconds)


async def lesson_threads(repo: Repository) -> list[int]:
    """The question threads of every posted lesson of the course, in order."""
    return [t.thread_id for p in await repo.posts.matching(COURSE) for t in
            await repo.posts.threads_of(p.id)]


def report_counts(content: str) -> dict[str, int]:
    """Replies per student name in a ``/participation report`` answer."""
    return {name: int(count) for name, count in
            re.findall(r"\*\*([^*]+)\*\* — (\d+) repl", content)}
