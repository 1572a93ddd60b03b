"""After a crash, what was already sent is matched from what Discord shows, not sent again."""

from __future__ import annotations

import datetime as dt

from bot.cogs.posting.recovery import SentMessage, lesson_parts, match_channel, match_forum
from bot.core import posting_rules, render
from bot.core.lessons import Lesson

DUE = dt.datetime(2026, 9, 14, 23, 59, tzinfo=dt.UTC)
LESSON = Lesson(slug="rome", title="The fall of Rome", published=dt.date(2026, 9, 7),
                summary="Why did the empire fall?",
                questions=["Was it the economy?", "Was it the army?", "Was it the climate?"])
LONG = Lesson(slug="long", title="A long lesson", published=dt.date(2026, 9, 7),
              summary="Words. " * 2_000, questions=["Why?"])


def key_of(spec: render.MessageSpec) -> tuple[str | None, str | None]:
    embed = spec.embeds[0]
    return embed.title, embed.footer


def lesson_key(lesson: Lesson, part: int = 0) -> tuple[str | None, str | None]:
    spec = render.lesson_messages(lesson, DUE)[part]
    return (spec.embeds[0].title if spec.embeds else None), None


def question_key(index: int) -> tuple[str | None, str | None]:
    return key_of(render.question_messages(LESSON, index)[0])


def test_a_lesson_and_two_of_three_questions_sent_are_found_by_their_titles() -> None:
    messages = [
        SentMessage(10, True, lesson_key(LESSON)),
        SentMessage(11, False, question_key(2)),  # a student quoting the embed: not ours
        SentMessage(12, True, question_key(0)),
        SentMessage(13, True, question_key(1)),
    ]
    sent = match_channel(LESSON, DUE, None, messages)
    assert sent.lesson_ids == [10]
    assert sent.question_messages == {0: 12, 1: 13}
    assert sent.forum_posts == {}


def test_the_bots_other_messages_before_the_lesson_are_not_taken_for_it() -> None:
    messages = [SentMessage(5, True, ("Reminder", None)), SentMessage(6, True, lesson_key(LESSON))]
    assert match_channel(LESSON, DUE, None, messages).lesson_ids == [6]


def test_a_recorded_lesson_message_is_kept_and_its_later_parts_follow_it() -> None:
    parts = lesson_parts(LONG, DUE)
    assert parts > 1
    messages = [SentMessage(100 + i, True, (None, None)) for i in range(1, parts)]
    sent = match_channel(LONG, DUE, 100, messages)
    assert sent.lesson_ids == list(range(100, 100 + parts))


def test_lesson_parts_after_a_question_are_not_lesson_parts() -> None:
    messages = [SentMessage(20, True, lesson_key(LESSON)), SentMessage(21, True, question_key(0)),
                SentMessage(22, True, (None, None))]
    sent = match_channel(LESSON, DUE, None, messages)
    assert sent.lesson_ids == [20] and sent.question_messages == {0: 21}


def test_nothing_sent_matches_nothing() -> None:
    sent = match_channel(LESSON, DUE, None, [SentMessage(1, False, lesson_key(LESSON))])
    assert (sent.lesson_ids, sent.question_messages) == ([], {})


def test_forum_posts_are_matched_by_name() -> None:
    posts = {
        posting_rules.lesson_thread_name(LESSON): 30,
        render.thread_name(1, LESSON.questions[1]): 32,
        "Someone else's post": 33,
    }
    sent = match_forum(LESSON, None, posts)
    assert sent.lesson_ids == [30]
    assert sent.forum_posts == {1: 32}


def test_a_recorded_forum_lesson_post_is_not_replaced_by_one_of_the_same_name() -> None:
    posts = {posting_rules.lesson_thread_name(LESSON): 40}
    assert match_forum(LESSON, 39, posts).lesson_ids == [39]
