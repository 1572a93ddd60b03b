"""Lesson page text copied from the web (the seed's shape) -> a :class:`~bot.core.lessons.Lesson`.

A page looks like this (blank lines and surrounding noise vary)::

    Back to top
    Stalin’s Crimes and Russia’s Future
    Published: August 10, 2021
    <summary paragraphs>
    Discussion Questions
      1. ...
    Additional Resources
      • Read “Title,” by Author. Available here.
    View Transcript
    <transcript paragraphs>

:func:`import_page` never raises anything but :class:`PageImportError`, whose ``problems`` say
what is missing and how to fix it. Things worth fixing that do not stop the import (a reading
without a link, no transcript) come back as ``ImportResult.warnings``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from bot.core import limits
from bot.core.lessons import SLUG_RE, Lesson, Resource, lesson_problem
from bot.core.problems import Problems
from bot.core.yamlfile import field_name

__all__ = ["ImportResult", "PageImportError", "import_page", "slug_for"]


class PageImportError(Problems):
    """A page cannot become a lesson; ``problems`` has one sentence per thing to fix."""


@dataclass(frozen=True)
class ImportResult:
    """The lesson read from a page, and what the teacher should still check or fill in."""

    lesson: Lesson
    warnings: list[str] = field(default_factory=list)


# --- text clean-up ---------------------------------------------------------------------------

# Characters a browser copy leaves in text that mean "a space".
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2000\u2001\u2002\u2003\u2004\u2005"
                                 "\u2006\u2008\u2009\u200a\u205f\u3000\t"), " ")
# Invisible characters that only get in the way (zero-width spaces and joiners, BOM).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def _clean_line(line: str) -> str:
    """One line with odd spaces made plain, control characters dropped, runs collapsed."""
    line = line.translate(_SPACES).translate(_INVISIBLE)
    if not line.isprintable():  # the per-character check only where something is odd
        line = "".join(ch for ch in line if ch == " " or unicodedata.category(ch)[0] != "C")
    return re.sub(r" {2,}", " ", line).strip()


def _lines(text: str) -> list[str]:
    """The page's lines, cleaned; ``splitlines`` also splits on \\r\\n, \\r and U+2028."""
    return [_clean_line(line) for line in text.splitlines()]


# Whole lines that are page furniture, not lesson content (compared lowercased, without
# surrounding arrows and punctuation).
_NOISE = frozenset({
    "back to top", "return to top", "go to top", "scroll to top", "top of page", "top",
    "skip to main content", "skip to content", "hide transcript", "close transcript",
    "share", "share this", "share this page", "print", "print this page", "email", "tweet",
    "advertisement", "loading", "play video", "watch video",
})


# Headings and page furniture are short lines: a longer one is text, whatever it says.
_SHORT_LINE = 60


def _key(line: str) -> str:
    """A line reduced to lowercase words, for matching headings and noise."""
    if len(line) > _SHORT_LINE:
        return ""
    line = line.lower().lstrip("#>+▸▶►↑^ ").rstrip(":.↑^▲ ")
    return re.sub(r"\s+", " ", line)


def _is_noise(line: str) -> bool:
    """Whether a line is page furniture such as "Back to top"."""
    return _key(line) in _NOISE


# --- sections --------------------------------------------------------------------------------

_HEADINGS: dict[str, frozenset[str]] = {
    "questions": frozenset({
        "discussion questions", "discussion question", "questions for discussion",
        "questions",
    }),
    "resources": frozenset({
        "additional resources", "resources", "further reading", "further resources",
        "additional reading", "additional readings", "suggested reading",
        "suggested readings", "readings",
    }),
    "transcript": frozenset({
        "view transcript", "transcript", "show transcript", "read transcript",
        "full transcript", "video transcript",
    }),
}

_NAMES = {
    "questions": "Discussion Questions",
    "resources": "Additional Resources",
    "transcript": "View Transcript",
}


def _heading(line: str) -> str | None:
    """Which section a line starts ("questions", "resources", "transcript"), if any."""
    key = _key(line)
    for name, words in _HEADINGS.items():
        if key in words:
            return name
    return None


@dataclass
class _Page:
    """The page's lines split into the part before any heading and one list per section."""

    head: list[str]
    sections: dict[str, list[str]]
    repeated: list[str]


def _split(lines: list[str]) -> _Page:
    """Split the lines at the section headings and drop noise.

    Only the first heading of each kind counts: a repeated one stays text, since a transcript
    may well contain a line such as "Questions".
    """
    head: list[str] = []
    sections: dict[str, list[str]] = {}
    repeated: list[str] = []
    current = head
    for line in lines:
        name = _heading(line)
        if name is not None and name not in sections:
            sections[name] = current = []
            continue
        if name is not None and name not in repeated:
            repeated.append(name)
        if not _is_noise(line):
            current.append(line)
    return _Page(head, sections, repeated)


# --- paragraphs ------------------------------------------------------------------------------

_SENTENCE_END = tuple(".!?…:;\"”’')]")


def _paragraphs(lines: list[str]) -> list[str]:
    """Lines -> paragraphs, mending paragraphs broken by a stray newline or blank line.

    Pages come with one paragraph per line, or hard-wrapped lines inside a paragraph, and
    now and then a blank line in the middle of a sentence. A line that follows a blank line
    starts a new paragraph unless the text before it stops mid-sentence and it starts in
    lowercase; a line right under another continues it unless the one above ends a sentence.
    """
    paragraphs: list[list[str]] = []  # each paragraph as its lines, joined at the end
    blank = True
    for line in lines:
        if not line:
            blank = True
            continue
        if paragraphs:
            mid_sentence = not paragraphs[-1][-1].endswith(_SENTENCE_END)
            if mid_sentence and (line[0].islower() or not blank):
                paragraphs[-1].append(line)
                blank = False
                continue
        paragraphs.append([line])
        blank = False
    return [" ".join(parts) for parts in paragraphs]


# --- date ------------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATE_FORMS = (
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b"),
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),
)
_PUBLISHED = re.compile(r"^(?:published|posted|date published)(?:\s+on)?\s*(?P<colon>:)?\s*"
                        r"(?P<rest>.*)$", re.IGNORECASE)


def _parse_date(text: str) -> dt.date | None:
    """The first date written like 'August 10, 2021', '10 Aug 2021' or '2021-08-10'."""
    for form in _DATE_FORMS:
        for match in form.finditer(text):
            month_text = match["month"]
            month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text.lower())
            if month is None:
                continue
            try:
                return dt.date(int(match["year"]), month, int(match["day"]))
            except ValueError:
                continue
    return None


# --- resources -------------------------------------------------------------------------------

_BULLET = re.compile(r"^(?:[•◦‣·▪●○■□–—*+-]|\(?\d{1,3}[.)])\s*(?=\S)")
_NUMBERED = re.compile(
    r"^(?:(?:q|question)\s*)?\(?(?P<number>\d{1,3})\s*[.):]\s*(?P<text>.*)$", re.IGNORECASE
)
_QUESTION_BULLET = re.compile(r"^[•◦‣·▪●○■□–—*+-]\s+(?P<text>.*)$")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"“”‘’]+", re.IGNORECASE)
# "Available here." / "Available here: URL" / "It is available online at ..." and everything
# after it (the URL has already been taken out).
_AVAILABLE = re.compile(
    r"\b(?:(?:it\s+is|it's|also)\s+)?available"
    r"(?:\s+(?:here|at|online|from|on)\b.*|[\s.:)–—-]*)$",
    re.IGNORECASE | re.DOTALL,
)
_KIND = re.compile(r"^(?P<verb>read|watch|listen(?:\s+to)?|view|see)\b\s*:?\s*", re.IGNORECASE)
_DOUBLE_QUOTED = re.compile(r"[“\"](?P<title>[^“”\"]+)[”\"]")
_SINGLE_QUOTED = re.compile(r"‘(?P<title>.+?)’(?=[\s,.;:]|$)")
_BY = re.compile(r"^[\s,.;:–—-]*by\s+(?P<author>.+)$", re.IGNORECASE | re.DOTALL)


def _trim_url(url: str) -> str:
    """A URL without the sentence punctuation that followed it, and with a scheme."""
    while (url and url[-1] in ".,;:!?'’”\"]}>") or (url.endswith(")") and "(" not in url):
        url = url[:-1]
    if url.lower().startswith("www."):
        url = "https://" + url
    return url


def _strip_period(text: str) -> str:
    """Drop a sentence-ending period, but keep one that ends an initial ('Paul R.')."""
    text = text.strip().rstrip(",;:").strip()
    if text.endswith(".") and not re.search(r"(?:^|\s)[A-Z]\.$", text):
        text = text[:-1].rstrip()
    return text


Kind = Literal["read", "watch", "listen"]


@dataclass
class _Reading:
    title: str
    author: str | None
    url: str | None
    kind: Kind


def _without_available(text: str) -> str:
    """The text without a trailing "Available here..." phrase."""
    match = _AVAILABLE.search(text)
    if match is not None:
        text = text[: match.start()].rstrip(" ,;.(–—-")
    return text.strip()


def _reading(item: str) -> _Reading:
    """One resource line: 'Read “Title,” by Author. Available here: URL' and looser forms."""
    urls = [_trim_url(m.group()) for m in _URL.finditer(item)]
    text = _URL.sub(" ", item)
    text = re.sub(r"\(\s*\)|<\s*>|\[\s*\]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _without_available(text)

    kind: Kind = "read"
    verb = _KIND.match(text)
    if verb is not None:
        word = verb["verb"].lower()
        if word in ("watch", "view"):
            kind = "watch"
        elif word.startswith("listen"):
            kind = "listen"
        text = text[verb.end():]

    author: str | None = None
    quoted = _DOUBLE_QUOTED.search(text) or _SINGLE_QUOTED.search(text)
    if quoted is not None:
        title = quoted["title"]
        by = _BY.match(text[quoted.end():])
        if by is not None:
            author = by["author"]
    else:
        head, sep, tail = text.rpartition(" by ")
        if sep and head.strip() and tail.strip():
            title, author = head, tail
        else:
            title = text
    title = _strip_period(title.strip().strip("“”\"‘’").strip())
    if author is not None:
        author = _without_available(author)
        author = _strip_period(author) or None
    url = next((u for u in urls if re.match(r"^https?://\S+$", u)), None)
    return _Reading(title=title, author=author, url=url, kind=kind)


def _resource_items(lines: list[str]) -> list[str]:
    """The section's lines grouped into one string per resource."""
    content = [line for line in lines if line]
    bulleted = any(_BULLET.match(line) for line in content)
    items: list[str] = []
    for line in content:
        bullet = _BULLET.match(line)
        attaches = (
            items
            and bullet is None
            and (bulleted or re.match(r"^(?:available|https?://|www\.)", line, re.IGNORECASE))
        )
        if attaches:
            items[-1] = f"{items[-1]} {line}"
        else:
            items.append(line[bullet.end():] if bullet else line)
    return items


def _resources(lines: list[str], problems: list[str], warnings: list[str]) -> list[Resource]:
    """The section's resources; what blocks the import goes to problems, the rest to warnings."""
    resources: list[Resource] = []
    for item in _resource_items(lines):
        number = len(resources) + 1
        reading = _reading(item)
        if not reading.title:
            if reading.url is None:
                warnings.append(f"resource {number} ({item[:60]!r}) has no title or URL: "
                                "skipped")
                continue
            reading.title = reading.url
            warnings.append(f"resource {number} has no title: its URL is used as the title, "
                            "write a better one in the lesson file")
        if len(reading.title) > limits.MAX_TITLE_LENGTH:
            problems.append(f"resource {number}'s title is {len(reading.title)} characters long "
                            f"(at most {limits.MAX_TITLE_LENGTH}): put each resource on its "
                            "own bullet line")
            continue
        if reading.author is not None and len(reading.author) > limits.MAX_AUTHOR_LENGTH:
            warnings.append(f"resource {number}: the text after 'by' is too long to be an "
                            "author, so no author was set")
            reading.author = None
        if reading.url is None:
            warnings.append(f"resource {number} has no URL: add one (url: https://...) under "
                            f"“{reading.title}” in the lesson file")
        try:
            resource = Resource(title=reading.title, author=reading.author, url=reading.url,
                                kind=reading.kind)
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ")
                                for e in exc.errors())
            problems.append(f"resource {number} cannot be read ({reasons}): fix that line")
            continue
        resources.append(resource)
    return resources


# --- questions -------------------------------------------------------------------------------

def _questions(lines: list[str], warnings: list[str]) -> list[str]:
    """Numbered ('1.', '1)') or bulleted questions; a line without a marker continues one."""
    questions: list[str] = []
    numbers: list[int] = []
    preface: list[str] = []
    content = [line for line in lines if line]
    marked = any(_NUMBERED.match(line) or _QUESTION_BULLET.match(line) for line in content)
    for line in content:
        numbered = _NUMBERED.match(line)
        bullet = _QUESTION_BULLET.match(line)
        if numbered is not None:
            numbers.append(int(numbered["number"]))
            questions.append(numbered["text"].strip())
        elif bullet is not None:
            questions.append(bullet["text"].strip())
        elif not marked:
            questions.append(line)
        elif questions:
            questions[-1] = f"{questions[-1]} {line}".strip()
        else:
            preface.append(line)
    if content and not marked:
        warnings.append("the discussion questions are not numbered: each line became one "
                        "question (check them)")
    if preface:
        warnings.append(f"text before the first question was left out: {' '.join(preface)!r}")
    for before, after in itertools.pairwise(numbers):
        if after != before + 1:
            warnings.append(f"question numbers jump from {before} to {after}: check that "
                            "nothing was lost when the page was copied")
    kept = []
    for index, question in enumerate(questions, 1):
        if question:
            kept.append(question)
        else:
            warnings.append(f"question {index} is empty: left out")
    return kept


# --- title, date, summary --------------------------------------------------------------------

@dataclass
class _Head:
    title: str | None
    published: dt.date | None
    published_text: str | None
    summary: list[str]


def _find_published(lines: list[str]) -> tuple[int, int, dt.date | None, str] | None:
    """Where the 'Published: ...' line is (first and last index), its date and its text."""
    for index, line in enumerate(lines):
        match = _PUBLISHED.match(line)
        if match is None:
            continue
        rest, last = match["rest"], index
        if not rest:
            # "Published:" alone on its line, the date on the next line with text.
            below = next((i for i in range(index + 1, min(index + 3, len(lines))) if lines[i]),
                         None)
            if below is not None and _parse_date(lines[below]) is not None:
                rest, last = lines[below], below
        date = _parse_date(rest)
        if date is not None or match["colon"]:
            text = line if last == index else f"{line} {rest}"
            return index, last, date, text
    return None


def _read_head(lines: list[str]) -> _Head:
    """Title, date and summary from the lines above the first section heading."""
    found = _find_published(lines)
    if found is not None:
        first, last, date, text = found
        above = [line for line in lines[:first] if line]
        # The title is the line right above the date; lines above it are site furniture
        # such as breadcrumbs.
        title = above[-1] if above else None
        return _Head(title, date, text, lines[last + 1:])
    start = next((i for i, line in enumerate(lines) if line), None)
    if start is None:
        return _Head(None, None, None, [])
    return _Head(lines[start], None, None, lines[start + 1:])


def _clean_title(title: str) -> str:
    """The title without Markdown heading marks."""
    return title.strip().strip("#").strip()


# --- slug ------------------------------------------------------------------------------------

def _slugify(text: str) -> str:
    """'Stalin’s Crimes and Russia’s Future' -> 'stalins-crimes-and-russias-future'."""
    text = re.sub(r"[’'‘ʼ`´]", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(text) > 80:
        cut = text[:81].rfind("-")
        text = text[: cut if cut > 0 else 80].strip("-")
    return text


def slug_for(text: str, path: Path) -> str:
    """The lesson's file name: from the page title, else the file name, else 'lesson'."""
    try:
        page = _split(_lines(text))
        head = _read_head(page.head)
        title = _clean_title(head.title) if head.title else ""
    except Exception:  # a slug is a convenience: a bad page is reported by import_page
        title = ""
    return _slugify(title) or _slugify(path.stem) or "lesson"


# --- the importer ----------------------------------------------------------------------------

def import_page(text: str, slug: str) -> ImportResult:
    """Read a lesson page; raise :class:`PageImportError` listing everything that is missing."""
    problems: list[str] = []
    warnings: list[str] = []
    if not SLUG_RE.match(slug):
        problems.append(f"{slug!r} is not a usable lesson name: use lowercase letters, digits, "
                        "'-' and '_' (for example --slug russia-lesson-1)")

    page = _split(_lines(text))
    head = _read_head(page.head)

    title = _clean_title(head.title) if head.title else ""
    if not title:
        problems.append("no title: put the lesson's title on the first line of the page")
    elif len(title) > limits.MAX_TITLE_LENGTH:
        problems.append(f"the title is {len(title)} characters long (at most "
                        f"{limits.MAX_TITLE_LENGTH}): put the title alone on the line above "
                        "'Published:'")

    if head.published_text is None:
        problems.append("no 'Published:' line: add one under the title, such as "
                        "'Published: August 10, 2021'")
    elif head.published is None:
        problems.append(f"{head.published_text[:80]!r} has no date I can read: write it like "
                        "'Published: August 10, 2021'")

    summary = "\n\n".join(_paragraphs(head.summary))
    if not summary:
        problems.append("no summary: add a paragraph between the 'Published:' line and "
                        "'Discussion Questions'")

    questions: list[str] = []
    if "questions" not in page.sections:
        problems.append("no 'Discussion Questions' section: add one with numbered questions "
                        "(1. ..., 2. ...)")
    else:
        questions = _questions(page.sections["questions"], warnings)
        if not questions:
            problems.append("the 'Discussion Questions' section has no questions: add numbered "
                            "questions under it (1. ..., 2. ...)")

    resources: list[Resource] = []
    if "resources" in page.sections:
        resources = _resources(page.sections["resources"], problems, warnings)
        if not resources:
            warnings.append("the 'Additional Resources' section lists no resources")
    else:
        warnings.append("no 'Additional Resources' section: the lesson has no readings")

    transcript: str | None = None
    if "transcript" in page.sections:
        transcript = "\n\n".join(_paragraphs(page.sections["transcript"])) or None
        if transcript is None:
            warnings.append("the 'View Transcript' section is empty: the lesson has no "
                            "transcript")
    else:
        warnings.append("no 'View Transcript' section: the lesson has no transcript")

    for name in page.repeated:
        warnings.append(f"the page has a second '{_NAMES[name]}' heading: only the first "
                        "section was used, the later heading is kept as text")

    if problems:
        raise PageImportError(problems)
    assert head.published is not None
    try:
        lesson = Lesson(
            slug=slug,
            title=title,
            published=head.published,
            summary=summary,
            questions=questions,
            resources=resources,
            transcript=transcript,
        )
    except ValidationError as exc:  # what the lesson file would refuse: too many readings, say
        raise PageImportError([
            f"the lesson's {field_name(loc)} {message}"
            for loc, message in map(lesson_problem, exc.errors())]) from None
    return ImportResult(lesson=lesson, warnings=warnings)
