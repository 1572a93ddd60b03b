"""The config: the example is valid; a bad config lists every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.checks import check_references
from bot.config import (
    DEFAULT_API_BASE,
    DEFAULT_DATABASE_URL,
    ConfigError,
    Settings,
    load_settings,
    read_token,
)
from bot.lessons import load_lessons

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
    assert all(p.startswith(f"{path}: ") for p in problems)
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
    assert problem.startswith(f"{path}: courses.history-101.calendar.weekly.start: ")


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
    assert problem.startswith(f"{path}: line ")
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
    assert "must be short lowercase names such as 'history-101'" in problem


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
