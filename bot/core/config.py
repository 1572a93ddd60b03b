"""Config YAML -> validated, typed settings.

The token never lives in the file: the config names the environment variable that holds it
(``DISCORD_TOKEN`` by default) and :func:`read_token` fetches it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from bot.core import limits
from bot.core.calendar import Weekday, to_utc
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

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///seminar.db"

TOKEN_HELP = (
    "No Discord bot token found in the environment variable {var}.\n"
    "To get one: open https://discord.com/developers/applications, create an application, "
    "open 'Bot', press 'Reset Token' and copy it. Then, in the shell that runs Seminar:\n"
    "    export {var}='paste-the-token-here'\n"
    "Keep the token secret: never put it in config.yaml or in the repository."
)


class ConfigError(Problems):
    """The config cannot be used; ``problems`` lists every reason, one sentence each."""


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # 'America' is a folder of zones
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris' "
            "or 'America/New_York'"
        ) from None
    return name


_date_in_range = limits.date_check(limits.EARLIEST_DATE, limits.LATEST_DATE,
                                   "is outside the dates Seminar schedules")


def _datetime_in_range(value: dt.datetime) -> dt.datetime:
    _date_in_range(value.date())
    return value


def _with_a_time(value: Any) -> Any:
    # A bare date is ambiguous for a deadline (its first minute, or all of it?): ask.
    if (isinstance(value, dt.date) and not isinstance(value, dt.datetime)) or (
            isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", value)):
        raise ValueError(f"{value} has no time of day: write one too, e.g. '{value} 23:59'")
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
Snowflake = Annotated[int, Field(gt=0, le=limits.MAX_SNOWFLAKE)]
Name = Annotated[str, Field(min_length=1, max_length=limits.MAX_NAME_LENGTH),
                 AfterValidator(visible)]
#: A date of the course calendar.
CourseDate = Annotated[dt.date, AfterValidator(_date_in_range)]
#: A date and time: the course's wall clock, or an instant when written with an offset
#: (``2026-12-10T23:59:00Z``); :func:`bot.core.calendar.to_utc` reads both.
CourseDateTime = Annotated[dt.datetime, BeforeValidator(_with_a_time),
                           AfterValidator(_datetime_in_range)]
Count = Annotated[int, Field(ge=0, le=limits.MAX_REQUIRED)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordSettings(_Strict):
    token_env: str = "DISCORD_TOKEN"
    api_base: str = DEFAULT_API_BASE
    gateway_url: str | None = None
    shard_count: int | None = Field(default=None, ge=1, le=limits.MAX_SHARDS)
    shard_ids: list[int] | None = Field(default=None, min_length=1)

    @field_validator("api_base", "gateway_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|wss?)://", value):
            raise ValueError(f"{value!r} is not a URL (it must start with http(s):// or ws(s)://)")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("shard_ids needs shard_count too")
            bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if bad:
                raise ValueError(f"shard ids {bad} are outside 0..{self.shard_count - 1}")
            if len(set(self.shard_ids)) != len(self.shard_ids):
                raise ValueError("shard_ids lists a shard more than once: list each once")
        return self


class DatabaseSettings(_Strict):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if "\0" in value:
            raise ValueError("a database URL cannot contain a NUL character (\\0)")
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                f"{value!r} is not supported: use 'sqlite+aiosqlite:///FILE.db' "
                "or 'postgresql+asyncpg://USER:PASSWORD@HOST/DB'"
            )
        return value


class LessonsSettings(_Strict):
    folder: Path = Path("prompts")

    @field_validator("folder")
    @classmethod
    def _usable(cls, value: Path) -> Path:
        if "\0" in str(value):
            raise ValueError("a folder name cannot contain a NUL character (\\0)")
        return value


def _time_given_as_text(value: Any) -> Any:
    # Unquoted, YAML 1.1 reads 17:00 as the base-60 number 1020, which pydantic would
    # silently turn into 00:17; refuse it instead of posting at the wrong time.
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            "write the time in quotes, e.g. time: \"17:00\" (unquoted, YAML reads "
            "17:00 as a number)"
        )
    return value


def _time_without_offset(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError(
            "write the course's local time without an offset, e.g. \"09:00\"; "
            "the course time zone applies"
        )
    return value


LocalTime = Annotated[
    dt.time, BeforeValidator(_time_given_as_text), AfterValidator(_time_without_offset)
]


class CalendarEntry(_Strict):
    """One explicit post: a lesson at a local date and time, with an optional due time."""

    lesson: str
    post_at: CourseDateTime
    due_at: CourseDateTime | None = None


class WeeklyDue(_Strict):
    """Due on the next given weekday at a local time after the post."""

    weekday: Weekday
    time: LocalTime


class WeeklyPattern(_Strict):
    """Lessons in order, one per listed weekday between start and end, minus skip dates."""

    start: CourseDate
    end: CourseDate
    weekdays: list[Weekday] = Field(min_length=1)
    time: LocalTime
    lessons: list[str] = Field(min_length=1, max_length=limits.MAX_CALENDAR_ENTRIES)
    skip: list[CourseDate] = []
    due_after_days: int | None = Field(default=None, ge=0, le=limits.DAYS_A_YEAR)
    due: WeeklyDue | None = None

    @model_validator(mode="after")
    def _order(self) -> WeeklyPattern:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.due_after_days is not None and self.due is not None:
            raise ValueError("give either due_after_days or due, not both")
        repeated = sorted({slug for slug in self.lessons if self.lessons.count(slug) > 1})
        if repeated:
            raise ValueError(f"lessons {repeated} are listed more than once: list each once")
        return self


class CalendarSettings(_Strict):
    entries: list[CalendarEntry] = Field(default=[], max_length=limits.MAX_CALENDAR_ENTRIES)
    weekly: WeeklyPattern | None = None


class CatchUp(_Strict):
    """What to do with an occurrence missed while the bot was down."""

    mode: Literal["post", "skip"] = "post"
    max_late_hours: float = Field(default=12, ge=0, le=limits.HOURS_A_YEAR)


class Checkpoint(_Strict):
    """A graded-discussion milestone: by a local date-time, a number of replies of a kind."""

    name: Name
    by: CourseDateTime
    replies: Count = 0
    peer_replies: Count = 0


Points = Annotated[float, Field(ge=0, le=limits.MAX_POINTS, allow_inf_nan=False)]


class Clumping(_Strict):
    """A penalty for posting every reply of a lesson in the last minutes before it is due."""

    minutes: int = Field(ge=1, le=limits.MAX_CLUMPING_MINUTES)
    penalty: Points


class GradingSettings(_Strict):
    """A course's grading policy: what a reply counts for, and what a lesson is worth.

    The defaults grade as Seminar counted before scores existed: every reply is substantive,
    late replies are marked but keep full credit, nothing is dropped.
    """

    min_words: int = Field(default=0, ge=0, le=limits.MAX_WORDS)
    required_peer_replies: Count = 0
    checkpoints: list[Checkpoint] = Field(default=[], max_length=limits.MAX_CHECKPOINTS)
    points_per_lesson: Points = 10
    questions: int = Field(default=1, ge=1, le=limits.MAX_QUESTIONS)
    classmates: Count = 0
    classmate_points: Points = 0
    late_window_hours: float | None = Field(default=None, ge=0, le=limits.HOURS_A_YEAR)
    clumping: Clumping | None = None
    drop_lowest: int = Field(default=0, ge=0, le=limits.MAX_CALENDAR_ENTRIES)

    @model_validator(mode="after")
    def _points_add_up(self) -> GradingSettings:
        if self.points_per_lesson <= 0:
            raise ValueError("points_per_lesson must be more than 0")
        if self.classmate_points > self.points_per_lesson:
            raise ValueError(f"classmate_points ({self.classmate_points:g}) is more than "
                             f"points_per_lesson ({self.points_per_lesson:g}): it is the part "
                             "of a lesson's points given for replying to classmates")
        if self.classmates and not self.classmate_points:
            raise ValueError(f"classmates is {self.classmates} but classmate_points is 0: say "
                             "how many of the lesson's points replying to classmates is worth")
        if self.classmate_points and not self.classmates:
            raise ValueError("classmate_points is set but classmates is 0: say how many "
                             "classmates a student must reply to for those points")
        if self.clumping is not None and self.clumping.penalty > self.points_per_lesson:
            raise ValueError(f"clumping.penalty ({self.clumping.penalty:g}) is more than "
                             f"points_per_lesson ({self.points_per_lesson:g})")
        return self


class Extension(_Strict):
    """One student's later due time for one lesson (an accommodation known in advance)."""

    student: Snowflake
    lesson: str = Field(min_length=1, max_length=100)
    until: CourseDateTime


class GradebookSettings(_Strict):
    """How the LMS exports name their grade items, and where OneRoster results go."""

    #: The total's column (Canvas assignment, Moodle grade item, OneRoster line item);
    #: a lesson's column is "TITLE: lesson title".
    title: Name = "Discussion participation"
    #: OneRoster's ``classSourcedId`` and ``gradingPeriodSourcedId`` of this class, as the
    #: district's student information system knows them (ask its administrator).
    oneroster_class: Name | None = None
    oneroster_grading_period: Name | None = None


class ReminderSettings(_Strict):
    hours_before_due: float | None = Field(default=None, gt=0, le=limits.HOURS_A_YEAR)


class CourseSettings(_Strict):
    name: Name
    guild_id: Snowflake
    channel_id: Snowflake
    teacher_channel_id: Snowflake | None = None
    timezone: TimeZoneName = "UTC"
    teacher_role_id: Snowflake | None = None
    student_role_id: Snowflake | None = None
    calendar: CalendarSettings = CalendarSettings()
    catch_up: CatchUp = CatchUp()
    lock_at_due: bool = False
    #: Students answer each question before they may read their classmates' replies (each
    #: lesson may say otherwise with its own ``answer_first``).
    answer_first: bool = False
    store_text: bool = False
    retention_days: int = Field(default=365, ge=1, le=limits.MAX_RETENTION_DAYS)
    grading: GradingSettings = GradingSettings()
    gradebook: GradebookSettings = GradebookSettings()
    reminders: ReminderSettings = ReminderSettings()
    extensions: list[Extension] = Field(default=[], max_length=limits.MAX_EXTENSIONS)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _due_after_post(self) -> CourseSettings:
        for index, entry in enumerate(self.calendar.entries, 1):
            if entry.due_at is None:
                continue
            if to_utc(entry.due_at, self.zone) <= to_utc(entry.post_at, self.zone):
                raise ValueError(
                    f"calendar.entries[{index}] (lesson {entry.lesson!r}): due_at "
                    f"{entry.due_at:%Y-%m-%d %H:%M} is not after post_at "
                    f"{entry.post_at:%Y-%m-%d %H:%M}")
        scheduled = {entry.lesson for entry in self.calendar.entries}
        if self.calendar.weekly is not None:
            scheduled.update(self.calendar.weekly.lessons)
        seen: set[tuple[int, str]] = set()
        for index, extension in enumerate(self.extensions, 1):
            if extension.lesson not in scheduled:
                raise ValueError(f"extensions[{index}]: lesson {extension.lesson!r} is not in "
                                 "this course's calendar, so the extension would never apply")
            key = (extension.student, extension.lesson)
            if key in seen:
                raise ValueError(f"extensions[{index}]: student {extension.student} already "
                                 f"has an extension for lesson {extension.lesson!r}: keep one")
            seen.add(key)
        return self


def _course_key(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,49}", value):
        raise ValueError(f"course key {value!r} must be a short lowercase name such as "
                         "'history-101'")
    return value


CourseKey = Annotated[str, AfterValidator(_course_key)]


class Settings(_Strict):
    discord: DiscordSettings = DiscordSettings()
    database: DatabaseSettings = DatabaseSettings()
    lessons: LessonsSettings = LessonsSettings()
    courses: dict[CourseKey, CourseSettings] = Field(default={},
                                                     max_length=limits.MAX_COURSES)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def course_for_channel(self, channel_id: int) -> tuple[str, CourseSettings] | None:
        """The course whose class channel (or, failing that, teacher channel) is ``channel_id``."""
        for key, course in self.courses.items():
            if course.channel_id == channel_id:
                return key, course
        for key, course in self.courses.items():
            if course.teacher_channel_id == channel_id:
                return key, course
        return None


def _shared_channels_and_roles(
    courses: Mapping[str, CourseSettings],
) -> list[tuple[tuple[str, ...], str]]:
    """Each class channel belongs to one course, and each course keeps its roles apart."""
    problems: list[tuple[tuple[str, ...], str]] = []
    owners: dict[int, str] = {}
    for key, course in courses.items():
        owner = owners.setdefault(course.channel_id, key)
        if owner != key:
            problems.append((("courses", key, "channel_id"),
                f"is also the class channel of course {owner!r}: give each course its own class "
                "channel (a reply there would count for only one of them)"))
        if (course.teacher_role_id is not None
                and course.teacher_role_id == course.student_role_id):
            problems.append((("courses", key, "student_role_id"),
                "is the teacher role too: teachers would be counted as students and "
                "students could use teacher commands; use two roles"))
    for key, course in courses.items():
        if course.teacher_channel_id is None or course.teacher_channel_id not in owners:
            continue
        owner = owners[course.teacher_channel_id]
        which = "this course" if owner == key else f"course {owner!r}"
        problems.append((("courses", key, "teacher_channel_id"),
            f"is the class channel of {which}: the teachers' notices would reach the students; "
            "use a channel only teachers see"))
    return problems


def _valid_courses(raw: Any) -> dict[str, CourseSettings]:
    """The courses of raw config data that are valid on their own (for rules across them)."""
    valid: dict[str, CourseSettings] = {}
    if isinstance(raw, dict):
        for key, course in raw.items():
            with contextlib.suppress(ValidationError):
                valid[str(key)] = CourseSettings.model_validate(course)
    return valid


def _error_message(error: ErrorDetails) -> str:
    if error["type"] in ("extra_forbidden", "invalid_key"):
        return "unknown setting (check its spelling and indentation)"
    if error["type"] == "missing":
        return "this setting is required"
    return str(error["msg"]).removeprefix("Value error, ")


def parse_settings(data: Any, source: str = "config", text: str | None = None) -> Settings:
    """Validate already-parsed YAML data; raise :class:`ConfigError` listing every problem.

    With the file's ``text``, each problem names its line: ``config.yaml:12: courses.x...``.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of settings"])
    problems: list[tuple[tuple[str | int, ...], str]] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            # A course key's own problem is reported at the key, not at "[key]" inside it.
            loc = tuple(p for p in error["loc"] if p != "[key]")
            if error["type"] in ("extra_forbidden", "invalid_key"):  # a key, not a position
                loc = (*loc[:-1], str(loc[-1]))
            problems.append((loc, _error_message(error)))
        # Rules across courses in the same round, among the courses that are valid alone.
        problems.extend(_shared_channels_and_roles(_valid_courses(data.get("courses"))))
    else:
        problems.extend(_shared_channels_and_roles(settings.courses))
    if problems:
        positions = Positions(text) if text is not None else None
        sentences = []
        for loc, message in problems:
            line = positions.line_of(loc) if positions is not None else None
            where = f"{source}:{line}" if line is not None else source
            sentences.append(f"{where}: {field_name(loc)}: {message}")
        raise ConfigError(sentences)
    assert settings is not None
    return settings


def _read_yaml(path: Path, what: str, *, missing: str) -> tuple[str, Any]:
    """A YAML file's text and data; :class:`ConfigError` with one sentence if unreadable."""
    if not path.exists():
        raise ConfigError([missing])
    try:
        text = read_text(path, what)
    except FileProblem as exc:
        raise ConfigError([str(exc)]) from None
    try:
        return text, load_yaml(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc, text)
        where = f"{path}:{line}" if line is not None else str(path)
        raise ConfigError([f"{where}: not valid YAML ({problem})"]) from None


def load_settings(path: Path) -> Settings:
    """Read and validate a config file; relative paths in it are relative to the file."""
    text, data = _read_yaml(path, "config file", missing=(
        f"{path}: no such config file (copy config.example.yaml to {path} and edit it)"))
    settings = parse_settings(data, str(path), text)
    folder = settings.lessons.folder
    if not folder.is_absolute():
        folder = (path.parent / folder).resolve()
        settings = settings.model_copy(
            update={"lessons": LessonsSettings(folder=folder)}
        )
    return settings


def load_policy(path: Path) -> GradingSettings:
    """A grading policy file (a course's ``grading:`` section, alone or under that key).

    Raises :class:`ConfigError` naming the file, the line and the setting of each problem.
    """
    text, data = _read_yaml(path, "policy file", missing=f"{path}: no such policy file")
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict) and set(data) == {"grading"}:
        data, prefix = data["grading"], ("grading",)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: write the policy as settings, e.g. 'points_per_lesson: 10' "
                           "(the keys of a course's grading: section)"])
    try:
        return GradingSettings.model_validate(data)
    except ValidationError as exc:
        positions = Positions(text)
        problems = []
        for error in exc.errors():
            loc = (*prefix, *error["loc"])
            line = positions.line_of(loc)
            where = f"{path}:{line}" if line is not None else str(path)
            name = field_name(loc) if loc else "grading"
            problems.append(f"{where}: {name}: {_error_message(error)}")
        raise ConfigError(problems) from None


def read_token(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """The bot token from the environment; :class:`ConfigError` with set-up help if absent."""
    env = os.environ if environ is None else environ
    token = env.get(settings.discord.token_env, "").strip()
    if not token:
        raise ConfigError([TOKEN_HELP.format(var=settings.discord.token_env)])
    return token
