"""Lesson -> plain message specs within Discord's limits; the cogs make discord.py objects of them.

Pure: no discord.py. Every Discord size limit the bot respects lives here, once, as a named
constant. Long text is never cut off: :func:`chunk_text` splits it on paragraph, line,
sentence or word boundaries, and the builders spread the pieces over as many embeds and
messages as they need (a 4,000-word summary becomes several messages, never an error).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.core.lessons import Lesson, Resource

# --- Discord's limits (https://discord.com/developers/docs/resources/message) -------------
MESSAGE_CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FIELDS_LIMIT = 25
EMBED_FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000  # title + description + fields + footer, summed over a message
EMBEDS_PER_MESSAGE = 10
EMBED_URL_LIMIT = 2048
BUTTONS_PER_ROW = 5
ROWS_PER_MESSAGE = 5
BUTTONS_PER_MESSAGE = BUTTONS_PER_ROW * ROWS_PER_MESSAGE
BUTTON_LABEL_LIMIT = 80
BUTTON_URL_LIMIT = 512
THREAD_NAME_LIMIT = 100
CHOICE_NAME_LIMIT = 100
CHOICE_VALUE_LIMIT = 100
CHOICES_LIMIT = 25
ATTACHMENT_NAME_LIMIT = 100
EMBED_AUTHOR_LIMIT = 256
MODAL_TITLE_LIMIT = 45
TEXT_INPUT_LABEL_LIMIT = 45
TEXT_INPUT_VALUE_LIMIT = 4000
#: Bytes an upload may have in a server without boosts (discord.py's DEFAULT_FILE_SIZE_LIMIT).
#: A lesson file is capped below it (bot.core.limits.MAX_FILE_BYTES), so every transcript fits.
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

ELLIPSIS = "…"
LESSON_COLOUR = 0x2B6CB0
_URL_RE = re.compile(r"^https?://\S+$")
_KIND_VERB = {"read": "Read", "watch": "Watch", "listen": "Listen"}
TimestampStyle = Literal["t", "T", "d", "D", "f", "F", "R"]


@dataclass(frozen=True)
class FieldSpec:
    """One embed field: a short name and a value."""

    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class EmbedSpec:
    """The parts of one embed; ``length`` is what counts toward the 6,000-character limit."""

    title: str | None = None
    description: str | None = None
    url: str | None = None
    fields: tuple[FieldSpec, ...] = ()
    footer: str | None = None
    timestamp: dt.datetime | None = None
    colour: int | None = LESSON_COLOUR

    @property
    def length(self) -> int:
        """Characters that Discord counts toward an embed's (and a message's) total."""
        parts = [self.title, self.description, self.footer]
        parts += [f.name for f in self.fields] + [f.value for f in self.fields]
        return sum(len(p) for p in parts if p)


@dataclass(frozen=True)
class ButtonSpec:
    """A link button."""

    label: str
    url: str


@dataclass(frozen=True)
class FileSpec:
    """A file attachment."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class MessageSpec:
    """One message: text, embeds, link buttons and files."""

    content: str | None = None
    embeds: tuple[EmbedSpec, ...] = ()
    buttons: tuple[ButtonSpec, ...] = ()
    files: tuple[FileSpec, ...] = field(default=())

    @property
    def button_rows(self) -> list[tuple[ButtonSpec, ...]]:
        """The buttons grouped into rows of at most :data:`BUTTONS_PER_ROW`."""
        return [
            self.buttons[i : i + BUTTONS_PER_ROW]
            for i in range(0, len(self.buttons), BUTTONS_PER_ROW)
        ]


# --- text --------------------------------------------------------------------------------

# Split points, coarsest first. Each pattern matches the whitespace dropped at the split.
_SPLITTERS = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph
    re.compile(r"\n\s*"),  # line
    re.compile(r"(?<=[.!?…:;][\"'”’)\]])\s+|(?<=[.!?…:;])\s+"),  # sentence
    re.compile(r"\s+"),  # word
)


def _split_point(text: str, limit: int) -> tuple[int, int]:
    """Where to cut ``text`` (longer than ``limit``): (end of head, start of rest)."""
    # A split point in the first half wastes too much room, so a finer one is preferred;
    # but any split between words beats cutting a word in two.
    floor = limit // 2
    best: tuple[int, int] | None = None
    for splitter in _SPLITTERS:
        best = None
        for match in splitter.finditer(text, 0, limit + 1):
            if 0 < match.start() <= limit:
                best = (match.start(), match.end())
        if best is not None and best[0] > floor:
            return best
    if best is not None:  # the last space, even early in the text
        return best
    # No whitespace at all (a long URL, say): cut hard at the limit.
    return limit, limit


def _chunks(text: str, first_limit: int, limit: int) -> list[str]:
    """Pieces of ``text``: the first at most ``first_limit`` characters, the others ``limit``."""
    if first_limit < 1 or limit < 1:
        raise ValueError("limit must be at least 1")
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        room = limit if chunks else first_limit
        if len(rest) <= room:
            chunks.append(rest)
            break
        end, start = _split_point(rest, room)
        chunks.append(rest[:end].rstrip())
        rest = rest[start:].lstrip()
    return chunks


def chunk_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters at natural boundaries.

    Paragraph breaks are preferred, then line breaks, sentence ends and spaces; a word
    longer than ``limit`` is cut. Only whitespace at the split points (and around the whole
    text) is dropped, so the pieces joined with that whitespace give back the text.
    """
    return _chunks(text, limit, limit)


# Bidirectional controls would flip the rest of a Discord line when shown inside it.
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|<>\[\]#])")
NAME_WIDTH = 32


def one_line(text: str) -> str:
    """Text on one line: control characters and runs of white space become one space."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                      for c in text.translate(_BIDI_CONTROLS))
    return " ".join(cleaned.split())


def escape_for_discord(text: str, *, max_length: int | None = NAME_WIDTH) -> str:
    """Make a name or title safe to show inside a Discord message line.

    Puts it on one line (control characters, bidirectional overrides and newlines removed),
    cuts it to ``max_length`` characters with an ellipsis, puts a backslash before markdown
    characters (``\\ * _ ~ ` | < > [ ] #``) so ``**x**`` shows as typed and ``[x](url)`` is no
    link, and puts a zero-width space after every ``@`` so ``@everyone`` or ``<@id>`` in a
    nickname can never ping.
    """
    line = one_line(text)
    if max_length is not None and len(line) > max_length:
        line = line[: max_length - 1].rstrip() + ELLIPSIS
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line).replace("@", "@\u200b")


def link_target(url: str) -> str:
    """A web address as the target of a markdown link: parentheses cannot end it early."""
    return url.replace("(", "%28").replace(")", "%29")


def truncate(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary with an ellipsis if longer than ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def discord_timestamp(when: dt.datetime, style: TimestampStyle = "F") -> str:
    """A Discord timestamp tag (``<t:1628553600:F>``), shown in each reader's own time zone."""
    if when.tzinfo is None:
        raise ValueError("a Discord timestamp needs an aware datetime")
    return f"<t:{int(when.timestamp())}:{style}>"


def long_date(day: dt.date) -> str:
    """A date as 'August 10, 2021'."""
    return f"{day:%B} {day.day}, {day.year}"


def thread_name(question_index: int, question: str) -> str:
    """The name of question ``question_index``'s thread (0-based), at most 100 characters."""
    name = truncate(f"Q{question_index + 1}: {question}", THREAD_NAME_LIMIT)
    return name if name.strip() else f"Question {question_index + 1}"


def _safe_url(url: str | None, limit: int) -> str | None:
    if url is None or len(url) > limit or not _URL_RE.match(url):
        return None
    return url


# --- packing text into embeds and messages ----------------------------------------------


def _pack(
    head: EmbedSpec,
    body: str,
    *,
    buttons: Sequence[ButtonSpec] = (),
    content: str | None = None,
    footer: str | None = None,
) -> list[MessageSpec]:
    """Messages showing ``head`` (title, url, fields) followed by all of ``body``.

    The body fills the first embed's description and continues in further embeds; embeds
    are grouped into messages within the per-message total; the buttons go on the last
    message, at most :data:`BUTTONS_PER_MESSAGE` a message, and the footer on the last embed.
    """
    footer = truncate(footer, EMBED_FOOTER_LIMIT) if footer else None
    # The head's title and fields count toward the same 6,000 as its description.
    first_room = min(EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - head.length)
    pieces = _chunks(body, first_room, EMBED_DESCRIPTION_LIMIT)
    embeds = [replace(head, description=pieces[0] if pieces else None)]
    embeds += [EmbedSpec(description=piece, colour=head.colour) for piece in pieces[1:]]
    if footer:
        if embeds[-1].length + len(footer) > EMBED_TOTAL_LIMIT:
            embeds.append(EmbedSpec(footer=footer, colour=head.colour))
        else:
            embeds[-1] = replace(embeds[-1], footer=footer)

    groups: list[list[EmbedSpec]] = [[]]
    for embed in embeds:
        group = groups[-1]
        total = sum(e.length for e in group)
        if group and (len(group) >= EMBEDS_PER_MESSAGE or total + embed.length > EMBED_TOTAL_LIMIT):
            groups.append([embed])
        else:
            group.append(embed)

    messages = [MessageSpec(embeds=tuple(g)) for g in groups]
    if content:
        messages[0] = MessageSpec(content=truncate(content, MESSAGE_CONTENT_LIMIT),
                                  embeds=messages[0].embeds)
    button_groups = [
        tuple(buttons[i : i + BUTTONS_PER_MESSAGE])
        for i in range(0, len(buttons), BUTTONS_PER_MESSAGE)
    ]
    if button_groups:
        last = messages[-1]
        messages[-1] = MessageSpec(content=last.content, embeds=last.embeds,
                                   buttons=button_groups[0])
        messages += [MessageSpec(buttons=group) for group in button_groups[1:]]
    return messages


def _head(lesson: Lesson, fields: Iterable[FieldSpec] = ()) -> tuple[EmbedSpec, str]:
    """The lesson's title embed (without a description) and any title text that did not fit."""
    title = truncate(lesson.title, EMBED_TITLE_LIMIT)
    overflow = f"**{lesson.title.strip()}**" if title != " ".join(lesson.title.split()) else ""
    head = EmbedSpec(
        title=title,
        url=_safe_url(lesson.source_url, EMBED_URL_LIMIT),
        fields=tuple(fields),
    )
    return head, overflow


def _published_field(lesson: Lesson) -> FieldSpec:
    return FieldSpec("Published", long_date(lesson.published), inline=True)


def _due_field(due_at: dt.datetime) -> FieldSpec:
    value = f"{discord_timestamp(due_at, 'F')} ({discord_timestamp(due_at, 'R')})"
    return FieldSpec("Due", value, inline=True)


def _join(*blocks: str) -> str:
    return "\n\n".join(b.strip() for b in blocks if b and b.strip())


def _questions_block(lesson: Lesson) -> str:
    lines = [f"{i}. {' '.join(q.split())}" for i, q in enumerate(lesson.questions, 1)]
    return "**Discussion questions**\n" + "\n".join(lines)


def resource_line(resource: Resource) -> str:
    """One reading as a line: 'Read “Title”, by Author', linked when it has a web address."""
    title = f"“{escape_for_discord(resource.title, max_length=None)}”"
    if resource.url is not None:
        title = f"[{title}]({link_target(resource.url)})"
    line = f"{_KIND_VERB[resource.kind]} {title}"
    if resource.author:
        line += f", by {escape_for_discord(resource.author, max_length=None)}"
    if resource.url is None:
        line += " (no link)"
    return line


def resource_buttons(lesson: Lesson) -> list[ButtonSpec]:
    """A link button per reading that has a usable web address; the others get none."""
    buttons = []
    for resource in lesson.resources:
        url = _safe_url(resource.url, BUTTON_URL_LIMIT)
        if url is not None:
            label = truncate(f"{_KIND_VERB[resource.kind]}: {resource.title}", BUTTON_LABEL_LIMIT)
            buttons.append(ButtonSpec(label=label, url=url))
    return buttons


# --- what the bot shows --------------------------------------------------------------------


def lesson_messages(
    lesson: Lesson, due_at: dt.datetime | None = None, late_note: str | None = None
) -> list[MessageSpec]:
    """The lesson post in the class channel: title, date, summary, due time, reading buttons.

    The questions are not listed: each gets its own message and thread
    (:func:`question_messages`). ``late_note`` says why a post comes late.
    """
    fields = [_published_field(lesson)]
    if due_at is not None:
        fields.append(_due_field(due_at))
    head, overflow = _head(lesson, fields)
    body = _join(overflow, lesson.summary)
    count = len(lesson.questions)
    noun = "question" if count == 1 else "questions"
    footer = f"{count} discussion {noun}: reply in the threads below."
    return _pack(head, body, buttons=resource_buttons(lesson), content=late_note, footer=footer)


def question_messages(lesson: Lesson, index: int) -> list[MessageSpec]:
    """The message that opens question ``index``'s thread (0-based); any overflow follows it."""
    total = len(lesson.questions)
    head = EmbedSpec(title=f"Question {index + 1} of {total}")
    return _pack(head, lesson.questions[index], footer=truncate(lesson.title, EMBED_FOOTER_LIMIT))


def overview_messages(lesson: Lesson) -> list[MessageSpec]:
    """What ``/lesson`` shows: title, date, summary, the questions and the reading buttons."""
    head, overflow = _head(lesson, [_published_field(lesson)])
    body = _join(overflow, lesson.summary, _questions_block(lesson))
    footer = "Readings: /resources" + (" · Transcript: /transcript" if lesson.transcript else "")
    return _pack(head, body, buttons=resource_buttons(lesson), footer=footer)


def resources_messages(lesson: Lesson) -> list[MessageSpec]:
    """What ``/resources`` shows: the readings as a list, with a link button for each link."""
    head = EmbedSpec(title=truncate(f"Readings: {lesson.title}", EMBED_TITLE_LIMIT))
    if not lesson.resources:
        body = "This lesson has no readings."
    else:
        body = "\n".join(f"{i}. {resource_line(r)}" for i, r in enumerate(lesson.resources, 1))
    return _pack(head, body, buttons=resource_buttons(lesson))


def transcript_file(lesson: Lesson) -> FileSpec | None:
    """The lesson's transcript as a UTF-8 text file, or ``None`` when it has none."""
    if not lesson.transcript or not lesson.transcript.strip():
        return None
    name = f"{lesson.slug}-transcript.txt"
    if len(name) > ATTACHMENT_NAME_LIMIT:
        name = "transcript.txt"
    text = f"{lesson.title}\n\n{lesson.transcript.strip()}\n"
    return FileSpec(filename=name, data=text.encode("utf-8"))


# --- the terminal preview -------------------------------------------------------------------


def _embed_text(embed: EmbedSpec) -> list[str]:
    lines: list[str] = []
    if embed.title:
        lines.append(f"# {embed.title}")
    if embed.url:
        lines.append(f"  <{embed.url}>")
    for f in embed.fields:
        lines.append(f"  {f.name}: {f.value}")
    if embed.description:
        lines.append(embed.description)
    if embed.footer:
        lines.append(f"-- {embed.footer}")
    return lines


def _message_text(message: MessageSpec) -> list[str]:
    lines: list[str] = []
    if message.content:
        lines.append(message.content)
    for embed in message.embeds:
        lines += _embed_text(embed)
    for button in message.buttons:
        lines.append(f"  [button] {button.label} -> {button.url}")
    return lines


def preview_text(lesson: Lesson) -> str:
    """The lesson post and its question threads as plain text, for ``seminar preview``."""
    out: list[str] = []
    posts = lesson_messages(lesson)
    for n, message in enumerate(posts, 1):
        label = f" (message {n} of {len(posts)})" if len(posts) > 1 else ""
        out.append(f"=== Lesson post{label} ===")
        out += _message_text(message)
        out.append("")
    for index, _question in enumerate(lesson.questions):
        out.append(f"=== Thread: {thread_name(index, lesson.questions[index])} ===")
        for message in question_messages(lesson, index):
            out += _message_text(message)
        out.append("")
    missing = [r.title for r in lesson.resources if _safe_url(r.url, BUTTON_URL_LIMIT) is None]
    for title in missing:
        out.append(f"note: reading “{title}” has no usable link, so it gets no button.")
    if lesson.transcript:
        out.append(f"Transcript: {len(lesson.transcript.split())} words (sent by /transcript).")
    return "\n".join(out).rstrip() + "\n"
