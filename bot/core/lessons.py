"""The Lesson model, and loading and validating the lesson files in ``prompts/``.

A lesson file is YAML; its slug is the file name without ``.yaml``. A broken file raises
:class:`LessonError` naming the file, the field and the line.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from bot.core import limits
from bot.core.problems import Problems
from bot.core.yamlfile import (
    FileProblem,
    Positions,
    field_name,
    load_yaml,
    read_text,
    visible,
    yaml_problem,
)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
LESSON_SUFFIXES = (".yaml", ".yml")


def _web_address(value: str) -> str:
    if not re.match(r"^https?://[^/\s]", value):
        raise ValueError(f"{value!r} is not a web address (it must start with https://)")
    if any(c.isspace() for c in value):
        raise ValueError(f"{value!r} contains a space: a web address has none (write %20 "
                         "for a space in it)")
    return value


_published = limits.date_check(limits.EARLIEST_PUBLISHED, limits.LATEST_DATE,
                               "is not a likely date")


Title = Annotated[str, Field(min_length=1, max_length=limits.MAX_TITLE_LENGTH),
                  AfterValidator(visible)]
Summary = Annotated[str, Field(min_length=1, max_length=limits.MAX_SUMMARY_LENGTH),
                    AfterValidator(visible)]
Question = Annotated[str, Field(min_length=1, max_length=limits.MAX_QUESTION_LENGTH),
                     AfterValidator(visible)]
WebAddress = Annotated[str, Field(max_length=limits.MAX_URL_LENGTH),
                       AfterValidator(_web_address)]


class Resource(BaseModel):
    """A reading, video or recording that goes with a lesson."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    author: str | None = Field(default=None, max_length=limits.MAX_AUTHOR_LENGTH)
    url: WebAddress | None = None
    kind: Literal["read", "watch", "listen"] = "read"


class Lesson(BaseModel):
    """One lesson: what the bot posts and what students discuss."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str
    title: Title
    published: Annotated[dt.date, AfterValidator(_published)]
    source_url: WebAddress | None = None
    summary: Summary
    questions: list[Question] = Field(
        min_length=1, max_length=limits.MAX_QUESTIONS)
    resources: list[Resource] = Field(default=[], max_length=limits.MAX_RESOURCES)
    transcript: str | None = None
    #: Students answer before they may read their classmates (private threads); None: as
    #: the course says.
    answer_first: bool | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(
                f"{value!r} is not a usable lesson name: use lowercase letters, digits, "
                "'-' and '_' (rename the file)"
            )
        return value

    def to_yaml_data(self) -> dict[str, Any]:
        """The lesson as the mapping written to a lesson file (the slug is the file name)."""
        data = self.model_dump(mode="json", exclude={"slug"}, exclude_none=True)
        data["resources"] = [
            r.model_dump(mode="json", exclude_none=True) for r in self.resources
        ]
        return data


class LessonError(Problems):
    """One or more lesson files are broken; ``problems`` has one sentence per problem."""


def lesson_problem(error: ErrorDetails) -> tuple[tuple[str | int, ...], str]:
    """Where a validation error is (a field path) and what it says, as a teacher reads it."""
    loc = tuple(error["loc"])
    if error["type"] == "invalid_key":  # the key itself, not a list position
        loc = (*loc[:-1], str(loc[-1]))
    return loc, _message(error)


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
    if kind == "too_long" and error["loc"][-1:] == ("questions",):
        return (f"lists {error['ctx']['actual_length']} questions; a lesson has at most "
                f"{limits.MAX_QUESTIONS} (a thread each): split it into two lessons")
    if kind == "too_long" and error["loc"][-1:] == ("resources",):
        return (f"lists {error['ctx']['actual_length']} readings; a lesson has at most "
                f"{limits.MAX_RESOURCES}: keep the ones students need")
    if kind == "string_too_long":
        return (f"is {len(error['input'])} characters long; at most "
                f"{error['ctx']['max_length']} fit here")
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
        positions = Positions(text)
        problems = []
        for error in exc.errors():
            loc, message = lesson_problem(error)
            line = positions.line_of(loc) if loc != ("slug",) else None
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {field_name(loc)} {message}")
        raise LessonError(problems) from None


def lesson_files(folder: Path) -> list[Path]:
    """The lesson files in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix in LESSON_SUFFIXES and p.is_file())


def load_lesson(path: Path) -> Lesson:
    """Load one lesson file."""
    try:
        text = read_text(path, "lesson file")
    except FileProblem as exc:
        raise LessonError([str(exc)]) from None
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
