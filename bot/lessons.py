"""The Lesson model, and loading and validating the lesson files in ``prompts/``.

A lesson file is YAML; its slug is the file name without ``.yaml``. A broken file raises
:class:`LessonError` naming the file, the field and the line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
LESSON_SUFFIXES = (".yaml", ".yml")


class Resource(BaseModel):
    """A reading, video or recording that goes with a lesson."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=300)
    author: str | None = Field(default=None, max_length=200)
    url: str | None = None
    kind: Literal["read", "watch", "listen"] = "read"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value):
            raise ValueError(f"{value!r} is not a web address (it must start with https://)")
        return value


class Lesson(BaseModel):
    """One lesson: what the bot posts and what students discuss."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str
    title: str = Field(min_length=1, max_length=300)
    published: dt.date
    source_url: str | None = None
    summary: str = Field(min_length=1)
    questions: list[str] = Field(min_length=1)
    resources: list[Resource] = []
    transcript: str | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(
                f"{value!r} is not a usable lesson name: use lowercase letters, digits, "
                "'-' and '_' (rename the file)"
            )
        return value

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: list[str]) -> list[str]:
        for i, question in enumerate(value, 1):
            if not question.strip():
                raise ValueError(f"question {i} is empty")
        return value

    def to_yaml_data(self) -> dict[str, Any]:
        """The lesson as the mapping written to a lesson file (the slug is the file name)."""
        data = self.model_dump(mode="json", exclude={"slug"}, exclude_none=True)
        data["resources"] = [
            r.model_dump(mode="json", exclude_none=True) for r in self.resources
        ]
        return data


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that leaves an impossible date such as 2021-13-45 as text.

    PyYAML raises a bare ``ValueError`` for those; kept as text, the field's validation
    reports it with the file, the field and the line like any other bad value.
    """


def _timestamp_or_text(loader: SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


class NestedTooDeeply(yaml.YAMLError):
    """YAML nested deeper than the parser's recursion allows (unclosed brackets, say)."""

    problem = "it is nested too deeply: look for brackets that are never closed"


def load_yaml(text: str) -> Any:
    """Parse YAML like ``yaml.safe_load``, keeping impossible dates as text."""
    try:
        return yaml.load(text, Loader=SafeLoader)  # a SafeLoader subclass: no arbitrary objects
    except RecursionError:
        # PyYAML composes nodes recursively: thousands of '[' exhaust Python's stack.
        raise NestedTooDeeply() from None


def yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """The line (1-based, when known) and a short description of why ``text`` is not YAML."""
    if isinstance(exc, yaml.reader.ReaderError):
        # Raised for control characters and the like: an offset, not a line mark.
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        return line, (f"it contains the character U+{exc.character:04X}, which YAML "
                      "does not allow: delete it")
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be read"
    return (mark.line + 1 if mark is not None else None), str(problem)


def not_utf8_sentence(path: Path, exc: UnicodeDecodeError) -> str:
    """A problem sentence for a file that is not UTF-8 text, naming the line of the bad byte."""
    line = bytes(exc.object[:exc.start]).count(b"\n") + 1
    byte = exc.object[exc.start]
    return (f"{path}: cannot read the file: line {line} is not UTF-8 text (byte 0x{byte:02x}); "
            "save the file as UTF-8")


class LessonError(Exception):
    """One or more lesson files are broken; ``problems`` has one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class _Positions:
    """Line numbers (1-based) of the YAML nodes of a document, by field path."""

    lines: dict[tuple[str | int, ...], int]

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def _positions(text: str) -> _Positions:
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines[(*path, key.value)] = key.start_mark.line + 1
                    walk(value, (*path, key.value))
                    lines[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            walk(root, ())
    except (yaml.YAMLError, RecursionError):  # no line numbers then, still every problem
        return _Positions({})
    return _Positions(lines)


def _field_name(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part + 1}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "(top level)"


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a lesson field (check its spelling)"
    if kind == "invalid_key":
        return "is not a lesson field (field names are words, such as title or summary)"
    if kind == "too_short" and error["loc"][-1:] == ("questions",):
        return "needs at least one question"
    return str(error["msg"]).removeprefix("Value error, ")


def parse_lesson(text: str, slug: str, source: str) -> Lesson:
    """Validate one lesson file's text; raise :class:`LessonError` naming field and line."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc, text)
        where = f"{source}:{line}" if line is not None else source
        raise LessonError([f"{where}: not valid YAML ({problem})"]) from None
    if not isinstance(data, dict):
        raise LessonError(
            [f"{source}: a lesson file must be a mapping with title, published, summary, "
             "questions"]
        )
    if "slug" in data:
        raise LessonError([f"{source}: remove 'slug': a lesson's name is its file name"])
    try:
        return Lesson.model_validate({**data, "slug": slug})
    except ValidationError as exc:
        positions = _positions(text)
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "invalid_key":  # the key itself, not a list position
                loc = (*loc[:-1], str(loc[-1]))
            line = positions.line_of(loc) if loc != ("slug",) else None
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {_field_name(loc)} {_message(error)}")
        raise LessonError(problems) from None


def lesson_files(folder: Path) -> list[Path]:
    """The lesson files in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix in LESSON_SUFFIXES and p.is_file())


def load_lesson(path: Path) -> Lesson:
    """Load one lesson file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LessonError([not_utf8_sentence(path, exc)]) from None
    except OSError as exc:
        raise LessonError([f"{path}: cannot read the file ({exc})"]) from None
    return parse_lesson(text, path.stem, str(path))


def load_lessons(folder: Path) -> dict[str, Lesson]:
    """Load every lesson in ``folder``, keyed by slug; report every broken file at once."""
    if not folder.is_dir():
        raise LessonError([f"{folder}: the lessons folder does not exist"])
    lessons: dict[str, Lesson] = {}
    problems: list[str] = []
    for path in lesson_files(folder):
        if path.stem in lessons:
            problems.append(f"{path}: lesson name {path.stem!r} is used by another file too")
            continue
        try:
            lessons[path.stem] = load_lesson(path)
        except LessonError as exc:
            problems.extend(exc.problems)
    if problems:
        raise LessonError(problems)
    return lessons


class _LessonDumper(yaml.SafeDumper):
    """Writes multi-line text as YAML block scalars, which teachers can edit by hand."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LessonDumper.add_representer(str, _represent_str)


def dump_lesson(lesson: Lesson) -> str:
    """The YAML text of a lesson file, readable by a teacher."""
    return yaml.dump(
        lesson.to_yaml_data(),
        Dumper=_LessonDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
