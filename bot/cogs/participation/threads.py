"""Which threads are lesson threads, and what a message in one of them counts for.

The map of lesson threads (from the database, for the courses this process serves) and
the step from a discord.py message to a :class:`~storage.repository.NewReply`; the rules
themselves (words, peers, lateness) are :mod:`bot.core.participation_rules`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

import discord

from bot.cogs.participation.recorder import ReplyRecorder
from bot.core.participation_rules import (
    Person,
    count_characters,
    count_words,
    discussion_closes_at,
    is_late,
    peer_of,
    still_read,
)
from storage.records import NewReply, ThreadInfo, utcnow

if TYPE_CHECKING:
    from bot.core.config import Settings
    from bot.core.lessons import Lesson

# How far back lesson posts are looked up: no lesson stays open for discussion a year.
LOOKBACK: Final = dt.timedelta(days=366)
COUNTED_TYPES: Final = frozenset({discord.MessageType.default, discord.MessageType.reply})


@dataclasses.dataclass(frozen=True, slots=True)
class LessonThread:
    """A lesson thread the bot reads, with what each reply in it needs."""

    info: ThreadInfo
    guild_id: int
    store_text: bool
    closes_at: dt.datetime
    question: str | None = None  # its question's text: words copied from it do not count


@dataclasses.dataclass(frozen=True, slots=True)
class RepliedTo:
    """The message a reply answers: its id, its author and its text, when they are known."""

    message_id: int
    author: Person | None = None
    text: str | None = None


class LessonThreads:
    """The lesson threads still read, by thread id (a dict lookup for every message)."""

    def __init__(self, settings: Settings, recorder: ReplyRecorder,
                 serves_guild: Callable[[int], bool],
                 lessons: Callable[[], Mapping[str, Lesson]]) -> None:
        self.settings = settings
        self.recorder = recorder
        self.serves_guild = serves_guild
        self.lessons = lessons
        self.by_id: dict[int, LessonThread] = {}
        #: Students' own due times: (course, lesson, student) -> due (their replies' late mark).
        self.extended: dict[tuple[str, str, int], dt.datetime] = {}

    def due_for(self, thread: LessonThread, author_id: int) -> dt.datetime | None:
        """The due time of a student's replies in a thread: their extension's, else the post's."""
        info = thread.info
        return self.extended.get((info.course, info.lesson, author_id), info.due_at)

    async def reload_extensions(self) -> None:
        """Refresh the students' own due times from the database."""
        self.extended = {(e.course, e.lesson, e.user_id): e.due_at
                         for e in await self.recorder.repository.extensions.all()}

    def get(self, thread_id: int) -> LessonThread | None:
        """The lesson thread with this id, if it is one that is read."""
        return self.by_id.get(thread_id)

    def __contains__(self, thread_id: int) -> bool:
        return thread_id in self.by_id

    def lesson_thread(self, info: ThreadInfo) -> LessonThread | None:
        """What the listener keeps about a thread; None if its course is not served here."""
        course = self.settings.courses.get(info.course)
        if course is None or not self.serves_guild(course.guild_id):
            return None  # a server on another process's shard: that process reads it
        lesson = self.lessons().get(info.lesson)
        questions = lesson.questions if lesson is not None else []
        question = questions[info.question_index] if info.question_index < len(questions) else None
        return LessonThread(info, course.guild_id, course.store_text,
                            discussion_closes_at(info.scheduled_at, info.due_at), question)

    def add(self, info: ThreadInfo) -> LessonThread | None:
        """Read a newly opened thread from now on; None if it is not served here."""
        thread = self.lesson_thread(info)
        if thread is not None:
            self.by_id[info.thread_id] = thread
        return thread

    async def reload(self) -> list[LessonThread]:
        """Refresh the map from the database; the threads still read, by post time."""
        now = utcnow()
        infos = await self.recorder.repository.posts.open_threads(posted_since=now - LOOKBACK,
                                                            include_locked=True)
        loaded = [t for t in map(self.lesson_thread, infos)
                  if t is not None and still_read(t.closes_at, now)]
        # Merge, not replace: a thread announced while the query ran must stay.
        merged = {tid: t for tid, t in self.by_id.items() if still_read(t.closes_at, now)}
        merged.update((t.info.thread_id, t) for t in loaded)
        self.by_id = merged
        return loaded

    async def reply_from(
        self, message: discord.Message, thread: LessonThread,
        earlier: Mapping[int, discord.Message] | None = None,
    ) -> NewReply | None:
        """The reply record of a message, or None if it does not count as a reply.

        ``earlier``: messages read in the same history page, to find a replied-to author.
        """
        if not counts(message, thread):
            return None
        return new_reply(message, thread, await self.replied_to(message, earlier),
                         due_at=self.due_for(thread, message.author.id))

    async def replied_to(
        self, message: discord.Message, earlier: Mapping[int, discord.Message] | None
    ) -> RepliedTo | None:
        """The message a reply answers, with its author and text when they can be found.

        Looked up in the event itself, the client's cache, the batch being read, the
        buffer, then the database (which holds only members' replies, and their text only in
        courses that store it). A bot's message is looked up in the database too: an
        answer-first answer is posted by the bot and recorded as its student's reply.
        """
        reference = message.reference
        if (reference is None or reference.message_id is None
                or reference.type is not discord.MessageReferenceType.reply):
            return None
        target_id = reference.message_id
        target = reference.resolved
        if not isinstance(target, discord.Message):
            target = reference.cached_message
        if target is None and earlier is not None:
            target = earlier.get(target_id)
        if target is not None and not target.author.bot:
            return RepliedTo(target_id, Person(target.author.id), target.content)
        waiting = self.recorder.buffer.get(target_id)
        if waiting is not None:
            return RepliedTo(target_id, Person(waiting.author_id), waiting.text)
        # A bot's message recorded as a reply is an answer-first answer: its student's.
        recorded = await self.recorder.repository.replies.get(target_id)
        if recorded is not None:
            return RepliedTo(target_id, Person(recorded.author_id), recorded.text)
        if target is not None:
            return RepliedTo(target_id, Person(target.author.id, bot=True), target.content)
        return RepliedTo(target_id)


def counts(message: discord.Message, thread: LessonThread) -> bool:
    """Whether a message in a lesson thread is a student's reply that counts.

    Not a bot's or a webhook's, not a system message (thread created, pin...), not the
    thread's starter, not written after the discussion closed.
    """
    return not (message.author.bot or message.webhook_id is not None
                or message.type not in COUNTED_TYPES or message.id == thread.info.thread_id
                or message.created_at >= thread.closes_at)


def own_words(content: str, thread: LessonThread, replied: RepliedTo | None) -> int:
    """The words of a reply that count: none copied from its question or what it answers."""
    copied_from = [text for text in (thread.question, replied.text if replied else None)
                   if text]
    return count_words(content, copied_from=copied_from)


def new_reply(message: discord.Message, thread: LessonThread,
              replied: RepliedTo | None, *, due_at: dt.datetime | None) -> NewReply:
    """The reply record of a counted message (``replied``: what it replies to, if any).

    ``due_at`` is the author's due time (:meth:`LessonThreads.due_for`): it marks the reply late.
    """
    author = message.author
    created_at = message.created_at
    content = message.content
    mentioned = [Person(u.id, u.bot) for u in message.mentions] if message.mentions else ()
    info = thread.info
    return NewReply(
        message_id=message.id,
        thread_id=info.thread_id,
        post_id=info.post_id,
        question_index=info.question_index,
        course=info.course,
        lesson=info.lesson,
        guild_id=thread.guild_id,
        author_id=author.id,
        author_name=author.display_name,
        created_at=created_at,
        word_count=own_words(content, thread, replied),
        char_count=count_characters(content),
        reply_to_message_id=replied.message_id if replied else None,
        reply_to_author_id=peer_of(author.id, replied.author if replied else None, mentioned),
        late=is_late(created_at, due_at),
        text=content if thread.store_text else None,
        edited_at=message.edited_at,
    )
