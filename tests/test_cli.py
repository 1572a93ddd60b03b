"""The ``seminar`` command line, run in-process: sentences and exit codes, never tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
lessons:
  folder: lessons
courses:
  history-101:
    name: History 101
    guild_id: 111111111111111111
    channel_id: 222222222222222222
    timezone: America/New_York
    calendar:
      entries:
        - lesson: week-1
          post_at: 2026-09-07 09:00
"""

LESSON = """\
title: The Cold War Begins
published: 2019-03-05
summary: Churchill names the iron curtain.
questions:
  - Why did the wartime alliance fall apart?
  - Could the Cold War have been avoided?
resources:
  - title: The Sinews of Peace
    author: Winston Churchill
    url: https://example.org/sinews
  - title: The Long Telegram
"""


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A config file with one course and a lessons folder with one lesson; returns the config."""
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "week-1.yaml").write_text(LESSON, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


# --- check -----------------------------------------------------------------------------------

def test_check_a_good_setup_prints_a_summary(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(setup), "check")
    assert code == 0, err
    assert "Config OK: 1 course(s), 1 lesson(s)." in out
    assert "course history-101: History 101" in out
    assert "America/New_York" in out
    assert "lesson week-1: The Cold War Begins (2 question(s), 2 reading(s))" in out
    # A reading without a link does not stop the bot, but the teacher hears about it.
    assert "note: lesson week-1: reading 2 (The Long Telegram) has no url" in out


def test_check_the_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(ROOT / "config.example.yaml"), "check")
    assert code == 0, err
    assert "lesson stalins-crimes-and-russias-future: Stalin’s Crimes and Russia’s Future" in out


def test_check_a_broken_lesson_names_file_and_line(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lesson = setup.parent / "lessons" / "week-1.yaml"
    lesson.write_text(LESSON.replace("published: 2019-03-05", "published: soon"), "utf-8")
    code, out, err = run(capsys, "--config", str(setup), "check")
    assert code == 1
    assert out == ""
    assert "Found 1 problem(s):" in err
    assert f"{lesson}:2: published " in err


def test_check_a_broken_config_lists_every_problem(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.write_text(
        CONFIG.replace("America/New_York", "America/Atlantis")
        .replace("    guild_id: 111111111111111111\n", "")
        .replace("lessons:\n  folder", "lessons:\n  foldr"),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "--config", str(setup), "check")
    assert code == 1
    assert out == ""
    assert "Found 3 problem(s):" in err
    assert "lessons.foldr: unknown setting" in err
    assert "courses.history-101.guild_id: this setting is required" in err
    assert "courses.history-101.timezone: unknown time zone 'America/Atlantis'" in err


def test_check_a_calendar_naming_a_missing_lesson(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.write_text(CONFIG.replace("lesson: week-1", "lesson: week-2"), encoding="utf-8")
    code, _, err = run(capsys, "--config", str(setup), "check")
    assert code == 1
    assert "lesson 'week-2' has no file in" in err
    assert "(lessons: week-1)" in err


@pytest.mark.parametrize("command", ["run", "sync"])
def test_run_and_sync_stop_at_what_check_refuses(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    setup.write_text(CONFIG.replace("lesson: week-1", "lesson: week-2"), encoding="utf-8")
    code, out, err = run(capsys, command, "--config", str(setup))
    assert (code, out) == (1, "")
    assert "courses.history-101.calendar: lesson 'week-2' has no file in" in err


def test_check_without_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--config", str(tmp_path / "config.yaml"), "check")
    assert code == 1
    assert "no such config file (copy config.example.yaml" in err


# --- run -------------------------------------------------------------------------------------

def test_run_without_a_token_explains_how_to_get_one(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    code, out, err = run(capsys, "--config", str(setup), "run")
    assert code == 1
    assert out == ""
    assert "No Discord bot token found in the environment variable DISCORD_TOKEN." in err
    assert "https://discord.com/developers/applications" in err
    assert "export DISCORD_TOKEN=" in err


def test_run_with_a_broken_config_lists_the_problems_before_anything_else(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    setup.write_text(CONFIG.replace("America/New_York", "Nowhere"), encoding="utf-8")
    code, _, err = run(capsys, "--config", str(setup), "run")
    assert code == 1
    assert "courses.history-101.timezone: unknown time zone 'Nowhere'" in err


def test_run_with_a_broken_lesson_stops_before_connecting(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    lesson = setup.parent / "lessons" / "week-1.yaml"
    lesson.write_text(LESSON.replace("questions:", "questons:"), encoding="utf-8")
    code, _, err = run(capsys, "--config", str(setup), "run")
    assert code == 1
    assert f"{lesson}:4: questons is not a lesson field (check its spelling)" in err


# --- preview ---------------------------------------------------------------------------------

def test_preview_of_an_unknown_lesson_says_which_exist(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(setup), "preview", "week-9")
    assert code == 1
    assert out == ""
    assert err.strip() == "no lesson named 'week-9' (lessons: week-1)"


def test_preview_shows_the_lesson(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(setup), "preview", "week-1")
    assert code == 0
    assert "The Cold War Begins" in out
    assert "Why did the wartime alliance fall apart?" in out


# --- usage -----------------------------------------------------------------------------------

def test_slug_with_several_pages_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["import", "a.txt", "b.txt", "--slug", "x", "-o", str(tmp_path)])
    assert caught.value.code == 2
    assert "--slug names one lesson: give one page with it" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["check"], ["schedule"], ["preview", "week-1"], ["run"]])
def test_config_is_taken_before_or_after_the_command(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)  # `run` stops at the missing token
    before = run(capsys, "--config", str(setup), *command)
    after = run(capsys, *command, "--config", str(setup))
    assert before == after
    assert "unrecognized arguments" not in after[2]
    assert "no such config file" not in after[2]


# --- import ----------------------------------------------------------------------------------

SEED_PAGE = ROOT / "tests" / "pages" / "seed.txt"


def test_import_writes_into_the_configs_lessons_folder(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(setup.parent)  # config.yaml is here and names `lessons`, not `prompts`
    code, out, _ = run(capsys, "import", str(SEED_PAGE))
    target = setup.parent / "lessons" / "stalins-crimes-and-russias-future.yaml"
    assert code == 0 and out.strip() == f"wrote {target}"
    assert target.exists() and not (setup.parent / "prompts").exists()
    other = setup.parent / "elsewhere.yaml"
    other.write_text(CONFIG.replace("folder: lessons", "folder: units"), encoding="utf-8")
    code, out, _ = run(capsys, "import", str(SEED_PAGE), "--config", str(other))
    assert code == 0 and (setup.parent / "units" / target.name).exists()


def test_import_of_two_pages_to_stdout_prints_two_yaml_documents(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml

    code, out, _ = run(capsys, "import", str(SEED_PAGE), str(ROOT / "tests" / "pages" /
                                                            "star_bullets_nbsp.txt"), "-o", "-")
    assert code == 0
    documents = list(yaml.safe_load_all(out))
    assert len(documents) == 2
    assert documents[0]["title"] == "Stalin’s Crimes and Russia’s Future"
    assert documents[1]["title"] != documents[0]["title"]


def test_import_of_a_page_that_is_not_utf8_or_too_large_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(SEED_PAGE.read_text(encoding="utf-8").replace("’", "'").encode("utf-8")
                      .replace(b"Published", "Publié".encode("latin-1")))
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"x" * (5 * 2**20))
    code, out, err = run(capsys, "import", str(latin), str(huge), "-o", str(tmp_path))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{latin}: cannot read the file: line 6 is not UTF-8 text (byte 0xe9); save the file "
        "as UTF-8",
        f"{huge}: the page is 5.0 MiB; Seminar reads files of at most 4 MiB: is it the right "
        "file?",
    ]


def test_grades_explains_each_thing_it_cannot_use(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(setup)
    policy = setup.parent / "new.yaml"
    assert main(["grades", "--config", config, "--course", "math", "--policy",
                 str(policy)]) == 1
    assert "no course named 'math'" in capsys.readouterr().err
    assert main(["grades", "--config", config, "--course", "history-101", "--policy",
                 str(policy)]) == 1
    assert capsys.readouterr().err == f"{policy}: no such policy file\n"
    policy.write_text("points_per_lesson: 10\nclassmates: 2\n", encoding="utf-8")
    assert main(["grades", "--config", config, "--course", "history-101", "--policy",
                 str(policy)]) == 1
    assert capsys.readouterr().err == (
        f"{policy}:1: grading: classmates is 2 but classmate_points is 0: say how many of the "
        "lesson's points replying to classmates is worth\n")
    policy.write_text("points_per_lesson: 5\n", encoding="utf-8")
    assert main(["grades", "--config", config, "--course", "history-101", "--policy",
                 str(policy)]) == 1
    err = capsys.readouterr().err
    assert "there is no database at" in err and "Traceback" not in err


def test_roster_import_reads_the_lms_file_and_says_what_changed(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup.parent / "with-db.yaml"
    config.write_text(CONFIG + f"database:\n  url: sqlite+aiosqlite:///{setup.parent}/s.db\n",
                      encoding="utf-8")
    grades = setup.parent / "grades.csv"
    grades.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n"
                      "    Points Possible,,,,\n"
                      '"Doe, Jane",1001,S-1,jdoe,P2\n"Roe, John",1002,S-2,jroe,P2\n',
                      encoding="utf-8-sig")
    argv = ["roster", "import", str(grades), "--course", "history-101", "--config", str(config)]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert out.splitlines() == [
        f"Imported the roster of history-101 from {grades} (Canvas gradebook export): "
        "2 student(s): 2 new, 0 updated, 0 unchanged.",
        "  Columns read: Student -> name, ID -> LMS id, SIS User ID -> SIS id, "
        "SIS Login ID -> login, Section -> section.",
    ]
    grades.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n"
                      '"Doe, Jane",1001,S-1,jdoe,P3\n', encoding="utf-8")
    code, out, _ = run(capsys, *argv)
    assert (code, out.splitlines()[:2]) == (0, [
        f"Imported the roster of history-101 from {grades} (Canvas gradebook export): "
        "1 student(s): 0 new, 1 updated, 0 unchanged.",
        "  1 student(s) no longer in the file: kept with their records, marked as left."])
    grades.write_text("First,Last\nJane,Doe\n", encoding="utf-8")
    code, _, err = run(capsys, *argv)
    assert code == 1 and err.startswith(f"{grades}: no roster columns recognised: ")
    code, _, err = run(capsys, "roster", "import", str(setup.parent / "none.csv"), "--course",
                       "history-101", "--config", str(config))
    assert code == 1 and "none.csv: cannot read the file" in err


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    """``seminar schedule | head -n 1``: the pipe closes before the output is all written."""
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    entries = "".join(f"        - lesson: week-1\n          post_at: 2026-09-{d:02d} 09:00\n"
                      for d in range(1, 29))
    config.write_text(CONFIG.split("      entries:\n")[0] + "      entries:\n" + entries,
                      encoding="utf-8")
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "week-1.yaml").write_text(LESSON, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "schedule", "--all", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
