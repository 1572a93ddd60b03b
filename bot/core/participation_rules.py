"""What a reply counts for: words, characters, peer replies, lateness, the discussion window.

Pure: no discord.py, no SQLAlchemy. The participation cog turns Discord messages into plain
values and asks this module what they count for; :class:`ReplyBuffer` is the batching policy
that lets a burst of replies be written in a few transactions instead of one per message.

The rules (README "What counts as participation"):

- A *word* is a run of letters or digits, with inner apostrophes or hyphens kept inside it
  ("don't", "well-known", "1917", "681,692" are one word each). Mentions, channel links,
  custom emoji, Discord timestamps and web addresses are not words. Markdown marks (``**``,
  ``_``) are not words either.
- Only the student's own words count: quoted lines (``> ...``, and everything after
  ``>>> ``), code (```` ```blocks``` ```` and ```inline```), a word or a group of up to 20
  words repeated right after itself ("very very very", "ha ha ha", "I agree I agree"), and
  any run of five or more words copied from the question or from the message replied to
  are left out. Nothing looks at spelling or grammar.
- *Characters* are the characters of the message as written, surrounding white space left out.
- A *peer reply* answers another member who is not a bot: a Discord reply to their message,
  or else a mention of them. Answering yourself, the bot or nobody is not a peer reply.
- A reply is *late* when it was written after the lesson's due time.
- A thread is open for discussion until a week after the due time (late replies still count,
  flagged late), or two weeks after the lesson was posted when it has no due time. Replies
  written after that are not recorded. The bot keeps reading a thread for a week after it
  closes, so that replies written just before closing while the bot was down are caught up.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

DISCUSSION_WITHOUT_DUE: Final = dt.timedelta(days=14)
LATE_GRACE: Final = dt.timedelta(days=7)
CATCH_UP: Final = dt.timedelta(days=7)

# Discord markup that renders as something other than the typed text, and web addresses.
_NOT_WORDS = re.compile(
    r"<(?:@[!&]?\d+|#\d+|a?:\w+:\d+|t:-?\d+(?::[tTdDfFR])?|/[^\s<>:]+(?: [^\s<>:]+)*:\d+)>"
    r"|\b(?:https?|ftp)://\S+"
    r"|\bwww\.\S+",
    re.IGNORECASE,
)
# Letters and digits, joined by inner apostrophes or hyphens; digit groups (1,000 or 3.14) too.
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+|(?<=\d)[.,]\d+)*")


def words_of(text: str) -> list[str]:
    """The words of ``text`` as a reader sees them (mentions, emoji, links left out)."""
    if "<" in text or "://" in text or "www." in text.lower():
        text = _NOT_WORDS.sub(" ", text)
    return _WORD.findall(text)


def count_words(text: str, *, copied_from: Iterable[str] = ()) -> int:
    """How many of the student's own words ``text`` has (see the module's rules).

    ``copied_from``: the texts a copied run of words is looked for in (the question, the
    message replied to).
    """
    if "`" in text or ">" in text:
        text = _quoted_and_code(text)
    words = _without_repeats([w.casefold() for w in words_of(text)])
    sources = [s for s in copied_from if s]
    if sources and len(words) >= COPIED_RUN:
        words = _without_copies(words, sources)
    return len(words)


#: Words in a row that, found in the question or the message replied to, count as copied.
COPIED_RUN: Final = 5
#: Longest group of words whose repetition right after itself is left out (a pasted sentence).
REPEATED_GROUP: Final = 20

# Code blocks and inline code (``` or `), and quotes: a line from "> ", or all after ">>> ".
_CODE = re.compile(r"```.*?(?:```|\Z)|``[^`]*``|`[^`\n]*`", re.DOTALL)
_QUOTE_LINE = re.compile(r"^[ \t]*> .*$", re.MULTILINE)
_QUOTE_REST = re.compile(r"^[ \t]*>>> .*", re.MULTILINE | re.DOTALL)


def _quoted_and_code(text: str) -> str:
    """``text`` without its code and its quoted lines."""
    text = _CODE.sub(" ", text)
    text = _QUOTE_REST.sub(" ", text)
    return _QUOTE_LINE.sub(" ", text)


def _without_repeats(words: list[str]) -> list[str]:
    """The words, with a word or a group of words repeated right after itself kept once."""
    kept: list[str] = []
    seen: set[str] = set()
    for word in words:
        kept.append(word)
        if word not in seen:
            seen.add(word)  # its first time: nothing can repeat (most words, quickly)
            continue
        end = len(kept)
        if word not in kept[max(0, end - 1 - REPEATED_GROUP):end - 1]:
            continue  # not seen lately: nothing can repeat
        for size in range(1, min(REPEATED_GROUP, end // 2) + 1):
            start = end - size
            if word == kept[start - 1] and kept[start:] == kept[start - size:start]:
                del kept[start:]
                break
    return kept


@functools.lru_cache(maxsize=1024)
def _runs_of(source: str) -> frozenset[tuple[str, ...]]:
    """Every run of COPIED_RUN words of ``source`` (a question is read once, not per reply)."""
    theirs = [w.casefold() for w in words_of(source)]
    return frozenset(tuple(theirs[i:i + COPIED_RUN])
                     for i in range(len(theirs) - COPIED_RUN + 1))


@functools.lru_cache(maxsize=1024)
def _vocabulary_of(source: str) -> frozenset[str]:
    """Every word of ``source``, to tell at a glance that a reply copies no run of it."""
    return frozenset(w.casefold() for w in words_of(source))


def _without_copies(words: list[str], sources: Iterable[str]) -> list[str]:
    """The words not inside a run of COPIED_RUN or more found in one of ``sources``."""
    sources = list(sources)
    vocabulary = frozenset().union(*map(_vocabulary_of, sources))
    streak = longest = 0
    for word in words:
        streak = streak + 1 if word in vocabulary else 0
        longest = max(longest, streak)
    if longest < COPIED_RUN:
        return words  # no COPIED_RUN words in a row are even words of a source
    runs = [_runs_of(source) for source in sources]
    copied = [False] * len(words)
    for i in range(len(words) - COPIED_RUN + 1):
        run = tuple(words[i:i + COPIED_RUN])
        if any(run in theirs for theirs in runs):
            copied[i:i + COPIED_RUN] = [True] * COPIED_RUN
    return [w for w, was_copied in zip(words, copied, strict=True) if not was_copied]


def count_characters(text: str) -> int:
    """How many characters ``text`` has, white space around it left out."""
    return len(text.strip())


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a reply points at: their id and whether they are a bot."""

    id: int
    bot: bool = False


def peer_of(
    author_id: int, replied_to: Person | None, mentioned: Iterable[Person] = ()
) -> int | None:
    """The other member a reply answers (replied-to author first, else a mention), or None.

    Bots and the author themself are never peers.
    """
    if replied_to is not None and not replied_to.bot and replied_to.id != author_id:
        return replied_to.id
    for person in mentioned:
        if not person.bot and person.id != author_id:
            return person.id
    return None


def is_late(created_at: dt.datetime, due_at: dt.datetime | None) -> bool:
    """Whether a reply written at ``created_at`` came after the due time (never, without one)."""
    return due_at is not None and created_at > due_at


def discussion_closes_at(scheduled_at: dt.datetime, due_at: dt.datetime | None) -> dt.datetime:
    """When a lesson's threads stop taking replies: a week after due, else 2 weeks after posting."""
    if due_at is not None:
        return due_at + LATE_GRACE
    return scheduled_at + DISCUSSION_WITHOUT_DUE


def still_read(closes_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether the bot still reads a thread that closes (or closed) at ``closes_at``."""
    return now < closes_at + CATCH_UP


# --- batching ---------------------------------------------------------------------------------

Item = TypeVar("Item")


@dataclass(slots=True)
class Batch(Generic[Item]):
    """Replies taken from a buffer to be written together, and deletions to mark after."""

    replies: dict[int, Item] = field(default_factory=dict)
    deleted: dict[int, dt.datetime] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.replies)

    def deleted_by_time(self) -> dict[dt.datetime, list[int]]:
        """Deleted message ids grouped by deletion time (one update per group)."""
        groups: dict[dt.datetime, list[int]] = {}
        for message_id, at in self.deleted.items():
            groups.setdefault(at, []).append(message_id)
        return groups


class ReplyBuffer(Generic[Item]):
    """Replies waiting to be written, by message id, oldest first.

    A batch is due when ``max_size`` replies wait or the oldest has waited ``max_delay``
    seconds, whichever comes first. A batch taken holds up to ``max_batch`` replies: when
    replies arrive faster than one write takes, the next write takes all that piled up
    meanwhile (group commit), so the writer catches up instead of falling behind. The same
    message added twice is kept once (the first copy, which may since have been edited).
    Times are the caller's monotonic clock.
    """

    def __init__(self, *, max_size: int = 100, max_delay: float = 0.5,
                 max_batch: int | None = None) -> None:
        max_batch = max_size * 10 if max_batch is None else max_batch
        if max_size < 1 or max_delay < 0 or max_batch < max_size:
            raise ValueError("a reply buffer needs max_size >= 1, max_delay >= 0 and "
                             "max_batch >= max_size")
        self.max_size = max_size
        self.max_delay = max_delay
        self.max_batch = max_batch
        self._replies: dict[int, Item] = {}
        self._deleted: dict[int, dt.datetime] = {}
        self._oldest_at: float | None = None

    def __len__(self) -> int:
        return len(self._replies)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._replies

    def __iter__(self) -> Iterator[int]:
        return iter(self._replies)

    @property
    def full(self) -> bool:
        """Whether a whole batch is waiting."""
        return len(self._replies) >= self.max_size

    def add(self, message_id: int, reply: Item, now: float) -> bool:
        """Queue a reply; False if that message is already waiting (a duplicate)."""
        if message_id in self._replies:
            return False
        if not self._replies:
            self._oldest_at = now
        self._replies[message_id] = reply
        return True

    def get(self, message_id: int) -> Item | None:
        """The waiting reply for a message, if any."""
        return self._replies.get(message_id)

    def replace(self, message_id: int, reply: Item) -> bool:
        """Replace a waiting reply (after an edit); False if that message is not waiting."""
        if message_id not in self._replies:
            return False
        self._replies[message_id] = reply
        return True

    def mark_deleted(self, message_id: int, at: dt.datetime) -> bool:
        """Note that a waiting reply was deleted (it is written, then marked); False if absent."""
        if message_id not in self._replies:
            return False
        self._deleted.setdefault(message_id, at)
        return True

    def time_left(self, now: float) -> float:
        """Seconds until the waiting replies are due (0 when due now or nothing waits)."""
        if self._oldest_at is None or self.full:
            return 0.0
        return max(0.0, self._oldest_at + self.max_delay - now)

    def due(self, now: float) -> bool:
        """Whether a batch should be written now."""
        return bool(self._replies) and self.time_left(now) == 0.0

    def take(self, now: float) -> Batch[Item]:
        """Remove and return up to ``max_batch`` of the oldest waiting replies."""
        if len(self._replies) <= self.max_batch:
            taken, self._replies = self._replies, {}
        else:
            taken = {}
            for message_id in list(self._replies)[: self.max_batch]:
                taken[message_id] = self._replies.pop(message_id)
        deleted = {m: self._deleted.pop(m) for m in taken if m in self._deleted}
        # What stays behind has waited since before now: write it without further delay.
        self._oldest_at = (now - self.max_delay) if self._replies else None
        return Batch(taken, deleted)

    def put_back(self, batch: Batch[Item], now: float) -> None:
        """Return a batch that could not be written; it goes first, ahead of newer replies."""
        if not batch:
            return
        self._replies = {**batch.replies, **{
            m: r for m, r in self._replies.items() if m not in batch.replies}}
        for message_id, at in batch.deleted.items():
            self._deleted.setdefault(message_id, at)
        self._oldest_at = now - self.max_delay


# --- changes that arrive before their reply is recorded --------------------------------------


@dataclass(frozen=True, slots=True)
class Edit:
    """A reply's new counts (and text, when the course stores it) after an edit."""

    at: dt.datetime
    word_count: int
    char_count: int
    text: str | None = None


class UnmatchedChanges:
    """Edits and deletions that found no recorded reply yet, kept (a bounded number) for later.

    A backfill may have read a message just before it was edited or deleted and write it just
    after: the change is applied again when the reply is written.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._edits: OrderedDict[int, Edit] = OrderedDict()
        self._deletions: OrderedDict[int, dt.datetime] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._edits) or bool(self._deletions)

    def edited(self, message_id: int, edit: Edit) -> None:
        """Remember an edit (the newest one per message)."""
        known = self._edits.get(message_id)
        if known is None or known.at <= edit.at:
            self._edits[message_id] = edit
            self._edits.move_to_end(message_id)
        _trim(self._edits, self.limit)

    def deleted(self, message_id: int, at: dt.datetime) -> None:
        """Remember a deletion."""
        self._deletions.setdefault(message_id, at)
        _trim(self._deletions, self.limit)

    def pop(self, message_ids: Iterable[int]) -> tuple[dict[int, Edit], dict[int, dt.datetime]]:
        """The remembered edits and deletions of these messages, forgotten here."""
        if not self:
            return {}, {}
        edits: dict[int, Edit] = {}
        deletions: dict[int, dt.datetime] = {}
        for message_id in message_ids:
            edit = self._edits.pop(message_id, None)
            if edit is not None:
                edits[message_id] = edit
            at = self._deletions.pop(message_id, None)
            if at is not None:
                deletions[message_id] = at
        return edits, deletions


def _trim(entries: OrderedDict[int, Item], limit: int) -> None:
    while len(entries) > limit:
        entries.popitem(last=False)
