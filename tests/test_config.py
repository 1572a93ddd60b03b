"""The config: the example is valid; a bad config lists every problem at once."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import reports
from bot.core.calendar import occurrences
from bot.core.checks import check_references
from bot.core.config import (
    DEFAULT_API_BASE,
    DEFAULT_DATABASE_URL,
    ConfigError,
    Settings,
    load_settings,
    read_token,
)
from bot.core.lessons import load_lessons

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"

COURSE = """\
courses:
  history-101:
    name: History 101
    guild_id: 111111111111111111
    channel_id: 222222222222222222
    timezone: Europe/Paris
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


def test_the_example_config_is_valid_and_its_lessons_exist() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.discord.token_env == "DISCORD_TOKEN"
    assert settings.lessons.folder == ROOT / "prompts"
    course = settings.courses["history-101"]
    assert course.timezone == "America/New_York"
    assert course.guild_id == 111111111111111111
    # The example's calendar names the shipped lesson, so `seminar check` passes on it.
    assert check_references(settings, load_lessons(settings.lessons.folder)) == []


def test_an_empty_config_uses_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert settings.discord.api_base == DEFAULT_API_BASE
    assert settings.database.url == DEFAULT_DATABASE_URL
    assert settings.courses == {}
    # A relative lessons folder is relative to the config file, not the working directory.
    assert settings.lessons.folder == tmp_path / "prompts"


def test_a_course_and_an_emulator_address(tmp_path: Path) -> None:
    text = "discord:\n  api_base: http://127.0.0.1:8080/api/v10/\n" + COURSE
    settings = load_settings(write(tmp_path, text))
    assert settings.discord.api_base == "http://127.0.0.1:8080/api/v10"
    assert settings.courses["history-101"].zone.key == "Europe/Paris"
    assert settings.course_for_channel(222222222222222222) == (
        "history-101", settings.courses["history-101"]
    )
    assert settings.course_for_channel(1) is None


def test_a_bad_config_lists_every_problem_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, """\
discord:
  api_base: discord.com/api
  tokn_env: MY_TOKEN
database:
  url: mysql://localhost/seminar
courses:
  history-101:
    name: History 101
    channel_id: 222222222222222222
    timezone: Mars/Olympus_Mons
""")
    problems = problems_of(path)
    assert len(problems) == 5, problems
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", p) for p in problems), problems
    text = "\n".join(problems)
    assert "discord.api_base: 'discord.com/api' is not a URL" in text
    assert "discord.tokn_env: unknown setting (check its spelling and indentation)" in text
    assert "database.url: 'mysql://localhost/seminar' is not supported" in text
    assert "courses.history-101.guild_id: this setting is required" in text
    assert "courses.history-101.timezone: unknown time zone 'Mars/Olympus_Mons'" in text
    assert "use an IANA name such as 'Europe/Paris'" in text


def test_an_impossible_date_in_the_calendar_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, COURSE + """\
    calendar:
      weekly:
        start: 2026-13-01
        end: 2026-12-18
        weekdays: [mon]
        time: "09:00"
        lessons: [week-1]
""")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:9: courses.history-101.calendar.weekly.start: ")


def test_an_unquoted_time_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, COURSE + """\
    calendar:
      weekly:
        start: 2026-09-07
        end: 2026-12-18
        weekdays: [mon]
        time: 17:00
        lessons: [week-1]
""")
    [problem] = problems_of(path)
    assert 'write the time in quotes, e.g. time: "17:00"' in problem


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "discord:\n  token_env: [unclosed\ncourses: {}\n")
    [problem] = problems_of(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: ", problem), problem
    assert "not valid YAML" in problem


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, "- a\n- b\n")) == [
        f"{tmp_path / 'config.yaml'}: the top level must be a mapping of settings"
    ]


def test_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "config.yaml")
    assert "no such config file" in problem
    assert "copy config.example.yaml" in problem


def test_bad_course_key(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, COURSE.replace("history-101", "History 101!")))
    assert problem.endswith(": courses.History 101!: course key 'History 101!' must be a short "
                            "lowercase name such as 'history-101'"), problem


# --- the token -------------------------------------------------------------------------------

def test_missing_token_says_how_to_get_one() -> None:
    with pytest.raises(ConfigError) as caught:
        read_token(Settings(), environ={})
    [message] = caught.value.problems
    assert message.startswith("No Discord bot token found in the environment variable "
                              "DISCORD_TOKEN.")
    assert "https://discord.com/developers/applications" in message
    assert "export DISCORD_TOKEN=" in message


def test_token_from_the_named_variable(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "discord:\n  token_env: SEMINAR_TOKEN\n"))
    assert read_token(settings, environ={"SEMINAR_TOKEN": " abc.def \n"}) == "abc.def"
    with pytest.raises(ConfigError) as caught:
        read_token(settings, environ={"DISCORD_TOKEN": "not this one", "SEMINAR_TOKEN": " "})
    assert "SEMINAR_TOKEN" in caught.value.problems[0]


# --- arbitrary files -------------------------------------------------------------------------

_CONFIGISH = st.lists(
    st.one_of(
        st.sampled_from([
            "discord:", "  api_base: x", "  gateway_url: ws://h", "  shard_count: 0",
            "  shard_ids: [3]", "database:", "  url: sqlite+aiosqlite:///x.db", "courses:",
            "  c1:", "    name: N", "    guild_id: -1", "    channel_id: 2",
            "    timezone: Nowhere", "    calendar:", "      weekly:", "        start: 2026-02-30",
            "        time: 25:99", "        skip: [2026-13-01]", "log_level: LOUD", "? x", "- 1",
        ]),
        st.text(max_size=20),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_CONFIGISH.map("\n".join))
def test_any_config_file_loads_or_lists_problems(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(path)
    except ConfigError as exc:
        assert exc.problems
        assert all(p.startswith(str(path)) for p in exc.problems)


# --- ranges, offsets and rules across fields (what `check` accepts, the bot can run) --------


def test_every_problem_comes_in_one_round_with_its_line(tmp_path: Path) -> None:
    # An upper-case course key used to be reported only once the other problems were fixed.
    path = write(tmp_path, """\
courses:
  History:
    name: History
    guild_id: 1
    channel_id: 2
    timezone: Nowhere/Atlantis
""")
    problems = problems_of(path)
    assert problems == [
        f"{path}:2: courses.History: course key 'History' must be a short lowercase name such "
        "as 'history-101'",
        f"{path}:6: courses.History.timezone: unknown time zone 'Nowhere/Atlantis': use an IANA "
        "name such as 'Europe/Paris' or 'America/New_York'",
    ]


def test_list_entries_are_counted_from_one(tmp_path: Path) -> None:
    path = write(tmp_path, COURSE + """\
    calendar:
      entries:
        - {lesson: week-1, post_at: 2026-09-07 09:00}
        - {lesson: week-2, post_at: 2026-09-14 9h}
""")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:10: courses.history-101.calendar.entries[2].post_at: ")


@pytest.mark.parametrize(("line", "field", "says"), [
    ("    grading: {min_words: 100000000000000000000}", "grading.min_words",
     "less than or equal to 2000"),
    ("    grading: {required_peer_replies: 99999999}", "grading.required_peer_replies",
     "less than or equal to 1000"),
    ("    grading: {checkpoints: [{name: a, by: 9999-12-10 23:59, replies: 1}]}",
     "grading.checkpoints[1].by", "9999-12-10 is outside the dates Seminar schedules: use one "
     "from 2000-01-01 to 2100-12-31"),
    ("    calendar: {entries: [{lesson: week-1, post_at: 9999-12-31 23:00}]}",
     "calendar.entries[1].post_at", "outside the dates Seminar schedules"),
    ("    calendar: {weekly: {start: 2026-09-07, end: 9999-12-31, weekdays: [mon], "
     "time: '09:00', lessons: [week-1]}}", "calendar.weekly.end", "outside the dates"),
    ("    teacher_role_id: 99999999999999999999", "teacher_role_id",
     "less than or equal to 9223372036854775807"),
    ("    name: '   '", "name", "has no visible text (only spaces or control characters)"),
    # A deadline without a time is ambiguous (its first minute, or the whole day?).
    ("    grading: {checkpoints: [{name: a, by: 2026-12-10}]}", "grading.checkpoints[1].by",
     "2026-12-10 has no time of day: write one too, e.g. '2026-12-10 23:59'"),
])
def test_numbers_and_dates_out_of_range_are_refused(
    tmp_path: Path, line: str, field: str, says: str
) -> None:
    path = write(tmp_path, COURSE + line + "\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:7: courses.history-101.{field}: "), problem
    assert says in problem, problem


@pytest.mark.parametrize(("written", "instant"), [
    ("2026-12-10T23:59:00Z", dt.datetime(2026, 12, 10, 23, 59, tzinfo=dt.UTC)),
    ("2026-12-10 23:59+05:00", dt.datetime(2026, 12, 10, 18, 59, tzinfo=dt.UTC)),
    # Without an offset: the course's wall clock (Europe/Paris, UTC+1 in December).
    ("2026-12-10 23:59", dt.datetime(2026, 12, 10, 22, 59, tzinfo=dt.UTC)),
])
def test_a_checkpoint_with_an_offset_means_that_instant(
    tmp_path: Path, written: str, instant: dt.datetime
) -> None:
    path = write(tmp_path, COURSE + f"    grading: {{checkpoints: [{{name: a, by: {written}}}]}}\n")
    course = load_settings(path).courses["history-101"]
    [deadline] = reports.checkpoint_deadlines(course.grading, course.zone)
    assert deadline.due_at == instant
    assert deadline.cutoff == instant + dt.timedelta(minutes=1)


def test_a_calendar_entry_with_an_offset_posts_at_that_instant(tmp_path: Path) -> None:
    path = write(tmp_path, COURSE + """\
    calendar:
      entries:
        - {lesson: week-1, post_at: "2026-09-07T07:00:00Z", due_at: 2026-09-14 09:00}
        - {lesson: week-2, post_at: 2026-09-14 09:00, due_at: "2026-09-14T06:00:00Z"}
""")
    problems = problems_of(path)
    # Paris is UTC+2 in September: week-2's due time, 06:00Z, is 08:00 there, before the post.
    assert problems == [
        f"{path}:2: courses.history-101: calendar.entries[2] (lesson 'week-2'): due_at "
        "2026-09-14 06:00 is not after post_at 2026-09-14 09:00"]
    path.write_text(path.read_text().replace("06:00:00Z", "08:00:00Z"))
    course = load_settings(path).courses["history-101"]
    first, second = occurrences("history-101", course)
    assert first.post_at == dt.datetime(2026, 9, 7, 7, 0, tzinfo=dt.UTC)
    assert first.local_post_at.hour == 9 and not first.shifted
    assert second.due_at == dt.datetime(2026, 9, 14, 8, 0, tzinfo=dt.UTC)


TWO_COURSES = """\
courses:
  history-101:
    name: History 101
    guild_id: 111111111111111111
    channel_id: 222222222222222222
    teacher_channel_id: {teachers}
    teacher_role_id: 444444444444444444
    student_role_id: {students}
  history-102:
    name: History 102
    guild_id: 111111111111111111
    channel_id: {other}
"""


@pytest.mark.parametrize(("values", "expected"), [
    ({"other": 222222222222222222}, [
        "12: courses.history-102.channel_id: is also the class channel of course 'history-101': "
        "give each course its own class channel (a reply there would count for only one of "
        "them)"]),
    ({"teachers": 222222222222222222}, [
        "6: courses.history-101.teacher_channel_id: is the class channel of this course: the "
        "teachers' notices would reach the students; use a channel only teachers see"]),
    ({"teachers": 666666666666666666, "other": 666666666666666666}, [
        "6: courses.history-101.teacher_channel_id: is the class channel of course "
        "'history-102': the teachers' notices would reach the students; use a channel only "
        "teachers see"]),
    ({"students": 444444444444444444}, [
        "8: courses.history-101.student_role_id: is the teacher role too: teachers would be "
        "counted as students and students could use teacher commands; use two roles"]),
])
def test_courses_cannot_share_a_class_channel_or_mix_up_roles(
    tmp_path: Path, values: dict[str, int], expected: list[str]
) -> None:
    filled = {"teachers": 333333333333333333, "students": 555555555555555555,
              "other": 777777777777777777, **values}
    path = write(tmp_path, TWO_COURSES.format(**filled))
    assert problems_of(path) == [f"{path}:{e}" for e in expected]


def test_a_shared_class_channel_comes_in_the_same_round_as_other_problems(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, TWO_COURSES.format(
        teachers=333333333333333333, students=555555555555555555, other=222222222222222222)
        + "log_level: LOUD\n")
    problems = problems_of(path)
    assert [p.split(": ")[1] for p in problems] == ["log_level", "courses.history-102.channel_id"]
