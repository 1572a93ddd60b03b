"""What a reply counts for (words, characters, peers, lateness, window) and the batching policy."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.participation_rules import (
    CATCH_UP,
    COPIED_RUN,
    DISCUSSION_WITHOUT_DUE,
    LATE_GRACE,
    Edit,
    Person,
    ReplyBuffer,
    UnmatchedChanges,
    count_characters,
    count_words,
    discussion_closes_at,
    is_late,
    peer_of,
    still_read,
    words_of,
)

T0 = dt.datetime(2026, 9, 7, 13, 0, tzinfo=dt.UTC)
ALICE, BOB, BOT = 1, 2, 99


# --- words and characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("   \n\t ", 0),
        ("Stalin won the war.", 4),
        ("I don't think so — it's well-known.", 6),
        ("In 1937, 681,692 people were shot.", 6),
        ("**Bold** and _italic_ and `code`", 4),
        ("> quoting you\nI agree", 2),
        ("<@1234> I agree with <@!5678> and <@&42> in <#77>", 5),
        ("Look: https://www.hoover.org/research/russias-re-stalinization now", 2),
        ("see www.example.com/page", 1),
        ("<:thumbsup:123456> yes <a:party:987>", 1),
        ("due <t:1757250000:R>", 1),
        ("try </lesson:123456789> please", 2),
        ("Сталин и Россия", 3),
        ("😀 🎉 !!!", 0),
        ("l'histoire d’un peuple", 3),
        ("snake_case words", 3),
    ],
)
def test_words_are_what_a_reader_counts(text: str, words: int) -> None:
    assert count_words(text) == words


def test_characters_leave_out_surrounding_white_space_only() -> None:
    assert count_characters("  I agree.  \n") == len("I agree.")
    assert count_characters("a  b") == 4
    assert count_characters("") == 0
    assert count_characters("Сталин 😀") == 8


@given(st.text())
def test_counting_never_fails_and_is_bounded(text: str) -> None:
    words = count_words(text)
    assert 0 <= words <= len(text)
    assert 0 <= count_characters(text) <= len(text)


@given(st.text(), st.text())
def test_leaving_out_copies_only_ever_lowers_the_count(text: str, source: str) -> None:
    assert 0 <= count_words(text, copied_from=[source]) <= count_words(text)


@given(st.lists(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), min_size=COPIED_RUN,
                max_size=50, unique_by=str.casefold))
def test_a_reply_copied_whole_from_its_source_has_no_words_of_its_own(words: list[str]) -> None:
    text = " ".join(words)
    assert count_words(text, copied_from=[f"Earlier: {text}!"]) == 0
    assert len(words_of(text)) == len(words)


@given(st.lists(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), max_size=50,
                unique_by=str.casefold))
def test_plain_words_separated_by_spaces_count_one_each(words: list[str]) -> None:
    assert count_words(" ".join(words)) == len(words)


QUESTION = "Why did the purges of 1937 reach so far beyond the party?"
ANSWERED = "Because Stalin feared any rival, even imagined ones, inside and outside the party."


@pytest.mark.parametrize(
    ("text", "copied_from", "words"),
    [
        # Quotes are the other person's words.
        ("> Because Stalin feared any rival\nI disagree with that", (), 4),
        ("I disagree.\n>>> Because Stalin feared any rival,\neven imagined ones.", (), 2),
        (">not a quote without the space", (), 6),
        # Code is not prose.
        ("Look:\n```\nfor i in range(100): print(i)\n```\nthat is all", (), 4),
        ("It prints `lots of words in here` twice", (), 3),
        ("Unclosed ```code runs to the end of the message", (), 1),
        # Links, mentions, emoji, timestamps are not words (as before).
        ("<@1> <#2> <:x:3> <t:1:R> https://a.example/b www.c.example", (), 0),
        # Padding: a word or a group of up to three repeated right after itself.
        ("very very very very important", (), 2),
        ("ha ha ha ha ha", (), 1),
        ("good point good point good point", (), 2),
        ("I agree with you I agree with you", (), 4),
        ("Yes yes YES, the NKVD did", (), 4),
        ("the state and the party and the people", (), 8),  # repeats apart: all count
        (" ".join(["One sentence pasted twice to look longer than it is."] * 2), (), 10),
        # Copied from the question or from the message replied to: five words in a row.
        (QUESTION, (QUESTION,), 0),
        ("Why did the purges of 1937 reach so far? Fear of rivals.", (QUESTION,), 3),
        ("The purges of 1937 were about fear.", (QUESTION,), 7),  # four in a row: own words
        ("You say Stalin feared any rival, even imagined ones, but I doubt it", (ANSWERED,), 6),
        ("Stalin feared rivals", (ANSWERED,), 3),
        # Nothing scores spelling or grammar: a learner's words count like anyone's.
        ("i thinks stalin he want control all peoples", (), 8),
        ("Сталин боялся соперников", (QUESTION,), 3),
    ],
)
def test_only_the_students_own_words_count(text: str, copied_from: tuple[str, ...],
                                            words: int) -> None:
    assert count_words(text, copied_from=copied_from) == words


# --- peers and lateness -------------------------------------------------------------------------


def test_a_reply_to_another_student_is_a_peer_reply() -> None:
    assert peer_of(ALICE, Person(BOB)) == BOB


def test_a_mention_of_another_student_is_a_peer_reply() -> None:
    assert peer_of(ALICE, None, [Person(BOB)]) == BOB


def test_the_replied_to_student_wins_over_a_mention() -> None:
    assert peer_of(ALICE, Person(BOB), [Person(3)]) == BOB


def test_answering_yourself_a_bot_or_nobody_is_not_a_peer_reply() -> None:
    assert peer_of(ALICE, Person(ALICE)) is None
    assert peer_of(ALICE, Person(BOT, bot=True)) is None
    assert peer_of(ALICE, None, [Person(ALICE), Person(BOT, bot=True)]) is None
    assert peer_of(ALICE, None) is None


def test_replying_to_the_bot_but_mentioning_a_student_is_a_peer_reply() -> None:
    assert peer_of(ALICE, Person(BOT, bot=True), [Person(BOT, bot=True), Person(BOB)]) == BOB


def test_late_means_after_the_due_time() -> None:
    assert not is_late(T0, T0)
    assert is_late(T0 + dt.timedelta(seconds=1), T0)
    assert not is_late(T0 - dt.timedelta(days=1), T0)
    assert not is_late(T0 + dt.timedelta(days=999), None)


def test_a_thread_closes_a_week_after_due_or_two_weeks_after_posting() -> None:
    due = T0 + dt.timedelta(days=2)
    assert discussion_closes_at(T0, due) == due + LATE_GRACE == T0 + dt.timedelta(days=9)
    assert discussion_closes_at(T0, None) == T0 + DISCUSSION_WITHOUT_DUE
    closes = discussion_closes_at(T0, due)
    assert still_read(closes, closes)
    assert still_read(closes, closes + CATCH_UP - dt.timedelta(seconds=1))
    assert not still_read(closes, closes + CATCH_UP)


# --- the buffer ---------------------------------------------------------------------------------


def test_a_batch_is_due_when_full() -> None:
    buffer: ReplyBuffer[str] = ReplyBuffer(max_size=3, max_delay=10)
    for i in range(2):
        assert buffer.add(i, f"reply {i}", now=0.0)
    assert not buffer.due(0.0) and not buffer.full
    assert buffer.add(2, "reply 2", now=0.0)
    assert buffer.full and buffer.due(0.0) and buffer.time_left(0.0) == 0


def test_a_batch_is_due_after_the_delay_counted_from_the_oldest_reply() -> None:
    buffer: ReplyBuffer[str] = ReplyBuffer(max_size=100, max_delay=0.5)
    assert not buffer.due(0.0) and buffer.time_left(0.0) == 0  # nothing waits
    buffer.add(1, "first", now=10.0)
    buffer.add(2, "second", now=10.4)
    assert buffer.time_left(10.4) == pytest.approx(0.1)
    assert not buffer.due(10.4)
    assert buffer.due(10.5)


def test_a_duplicated_message_is_kept_once_the_first_copy_wins() -> None:
    buffer: ReplyBuffer[str] = ReplyBuffer()
    assert buffer.add(7, "edited copy", now=0.0)
    assert not buffer.add(7, "duplicate event", now=0.1)
    batch = buffer.take(now=1.0)
    assert batch.replies == {7: "edited copy"}
    assert len(buffer) == 0 and not buffer


def test_take_returns_the_oldest_batch_and_the_rest_is_due_at_once() -> None:
    buffer: ReplyBuffer[int] = ReplyBuffer(max_size=2, max_delay=5, max_batch=2)
    for i in range(5):
        buffer.add(i, i * 10, now=float(i))
    assert list(buffer.take(now=5.0).replies) == [0, 1]
    assert list(buffer) == [2, 3, 4]
    assert buffer.due(5.0)
    assert list(buffer.take(now=5.0).replies) == [2, 3]
    assert list(buffer.take(now=5.0).replies) == [4]
    assert not buffer.take(now=5.0)
    assert buffer.time_left(5.0) == 0 and not buffer.due(5.0)


def test_an_edit_replaces_a_waiting_reply() -> None:
    buffer: ReplyBuffer[str] = ReplyBuffer()
    buffer.add(1, "short", now=0.0)
    assert buffer.replace(1, "a longer text")
    assert not buffer.replace(2, "never queued")
    assert buffer.get(1) == "a longer text" and buffer.get(2) is None


def test_a_deleted_waiting_reply_is_written_then_marked() -> None:
    buffer: ReplyBuffer[str] = ReplyBuffer()
    buffer.add(1, "kept", now=0.0)
    buffer.add(2, "regretted", now=0.0)
    assert buffer.mark_deleted(2, T0)
    assert not buffer.mark_deleted(3, T0)  # not waiting: the caller marks the record
    batch = buffer.take(now=1.0)
    assert list(batch.replies) == [1, 2]
    assert batch.deleted == {2: T0}
    assert batch.deleted_by_time() == {T0: [2]}


def test_a_batch_that_failed_goes_back_ahead_of_newer_replies() -> None:
    buffer: ReplyBuffer[str] = ReplyBuffer(max_size=10, max_delay=0.5)
    buffer.add(1, "one", now=0.0)
    buffer.mark_deleted(1, T0)
    batch = buffer.take(now=1.0)
    buffer.add(2, "two", now=1.1)
    buffer.add(1, "duplicate of one", now=1.2)
    buffer.put_back(batch, now=1.3)
    assert list(buffer) == [1, 2]
    assert buffer.get(1) == "one"
    assert buffer.due(1.3)
    again = buffer.take(now=1.3)
    assert again.deleted == {1: T0}


def test_replies_that_piled_up_during_a_write_go_in_one_bigger_batch() -> None:
    buffer: ReplyBuffer[int] = ReplyBuffer(max_size=100, max_delay=0.5, max_batch=1000)
    for i in range(2500):
        buffer.add(i, i, now=0.0)
    assert [len(buffer.take(now=0.0).replies) for _ in range(3)] == [1000, 1000, 500]
    assert ReplyBuffer(max_size=7).max_batch == 70


def test_a_buffer_needs_a_sensible_size() -> None:
    with pytest.raises(ValueError, match="max_size"):
        ReplyBuffer(max_size=0)
    with pytest.raises(ValueError, match="max_batch"):
        ReplyBuffer(max_size=10, max_batch=5)


@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=200),
       st.integers(1, 7))
def test_every_message_is_taken_exactly_once(events: list[tuple[int, bool]], size: int) -> None:
    buffer: ReplyBuffer[int] = ReplyBuffer(max_size=size, max_delay=1, max_batch=size)
    taken: list[int] = []
    clock = 0.0
    for message_id, take_now in events:
        clock += 0.1
        buffer.add(message_id, message_id, now=clock)
        if take_now:
            batch = buffer.take(now=clock)
            assert len(batch.replies) <= size
            taken += batch.replies
    while buffer:
        taken += buffer.take(now=clock).replies
    # A message id may come back after its batch was written (the repository ignores it);
    # within what waited together, never twice, and nothing is ever lost.
    assert set(taken) == {m for m, _ in events}


# --- changes that arrive before their reply is recorded ----------------------------------------


def test_unmatched_changes_are_applied_once_to_the_reply_written_later() -> None:
    changes = UnmatchedChanges()
    assert not changes
    changes.edited(5, Edit(T0 + dt.timedelta(minutes=2), 9, 50))
    changes.edited(5, Edit(T0 + dt.timedelta(minutes=1), 3, 10))  # older: ignored
    changes.deleted(6, T0)
    edits, deletions = changes.pop([5, 6, 7])
    assert edits == {5: Edit(T0 + dt.timedelta(minutes=2), 9, 50)}
    assert deletions == {6: T0}
    assert changes.pop([5, 6]) == ({}, {})


def test_unmatched_changes_keep_only_the_newest_entries() -> None:
    changes = UnmatchedChanges(limit=2)
    for message_id in (1, 2, 3):
        changes.deleted(message_id, T0)
    assert changes.pop([1, 2, 3]) == ({}, {2: T0, 3: T0})
