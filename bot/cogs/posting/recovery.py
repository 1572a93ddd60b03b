"""After a crash: which of a post's messages were already sent, matched from what Discord shows.

Pure: the poster reads the bot's messages back (the channel's history after the lesson
message, or the forum's active posts) and hands them here as plain values. Nonces cover a
retry within minutes; this covers a restart after hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.core import posting_rules, render
from bot.core.lessons import Lesson

#: A message's embed title and footer: what tells a lesson part from a question.
MessageKey = tuple[str | None, str | None]


@dataclass(frozen=True)
class SentMessage:
    """A message read back from the class channel: its id, whether the bot sent it, its key."""

    id: int
    mine: bool
    key: MessageKey


@dataclass
class Sent:
    """What a crashed attempt already sent: lesson messages, question messages, forum posts."""

    lesson_ids: list[int] = field(default_factory=list)
    question_messages: dict[int, int] = field(default_factory=dict)
    forum_posts: dict[int, int] = field(default_factory=dict)


def lesson_parts(lesson: Lesson, due_at: dt.datetime | None) -> int:
    """How many messages the lesson itself takes."""
    return len(render.lesson_messages(lesson, due_at))


def match_channel(lesson: Lesson, due_at: dt.datetime | None, recorded_id: int | None,
                  messages: Iterable[SentMessage]) -> Sent:
    """What was sent in a text channel, from its messages after the post began, oldest first.

    Lesson parts come before the questions: the first of the bot's messages titled as the
    lesson and those right after it, then each question's message by its title and footer.
    ``recorded_id``: the lesson message already recorded, if any.
    """
    sent = Sent()
    if recorded_id is not None:
        sent.lesson_ids.append(recorded_id)
    parts = lesson_parts(lesson, due_at)
    lesson_title = _first_title(render.lesson_messages(lesson, due_at)[0])
    questions: dict[MessageKey, int] = {}
    for index in range(len(lesson.questions)):
        spec = render.question_messages(lesson, index)[0].embeds[0]
        questions[(spec.title, spec.footer)] = index
    for message in messages:
        if not message.mine:
            continue
        if message.key in questions:
            sent.question_messages.setdefault(questions[message.key], message.id)
        elif sent.question_messages:
            continue  # lesson parts come before the questions
        elif not sent.lesson_ids:
            if message.key[0] == lesson_title:
                sent.lesson_ids.append(message.id)
        elif len(sent.lesson_ids) < parts:
            sent.lesson_ids.append(message.id)
    return sent


def match_forum(lesson: Lesson, recorded_id: int | None, posts: Mapping[str, int]) -> Sent:
    """What was sent in a forum, from the bot's unrecorded posts there (name -> thread id)."""
    sent = Sent()
    if recorded_id is not None:
        sent.lesson_ids.append(recorded_id)
    names = {render.thread_name(i, q): i for i, q in enumerate(lesson.questions)}
    for name, thread_id in posts.items():
        if name in names:
            sent.forum_posts[names[name]] = thread_id
        elif not sent.lesson_ids and name == posting_rules.lesson_thread_name(lesson):
            sent.lesson_ids.append(thread_id)
    return sent


def _first_title(spec: render.MessageSpec) -> str | None:
    return spec.embeds[0].title if spec.embeds else None
