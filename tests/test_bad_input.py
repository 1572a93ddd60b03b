"""Broken files, the way they really break: the shipped lesson, config and page cut short or
with bytes changed. Every outcome is a lesson (or settings), or problems in sentences that
name the file (and the line where there is one); never another exception, never a traceback
from ``seminar check``.

Hand-written junk and random text are in test_lessons.py, test_config.py and
test_importer.py; these start from the real files, so the damage lands in real structure.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.core import calendar, posting_rules
from bot.core.config import ConfigError, Settings, load_settings
from bot.core.importer import PageImportError, import_page
from bot.core.lessons import Lesson, LessonError, dump_lesson, load_lessons, parse_lesson

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "prompts" / "stalins-crimes-and-russias-future.yaml"
EXAMPLE = ROOT / "config.example.yaml"
PAGE = ROOT / "tests" / "pages" / "seed.txt"

# Problems that concern the whole file, so no line number belongs in them.
WHOLE_FILE = (
    "a lesson file must be a mapping",
    "remove 'slug'",
    "nested too deeply",
)
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def cuts(text: str, stride: int) -> Iterator[int]:
    """Offsets to cut ``text`` at: around every line break, and every ``stride`` characters."""
    offsets = set(range(0, len(text) + 1, stride))
    for match in re.finditer("\n", text):
        offsets.update(range(max(0, match.start() - 2), min(len(text), match.end() + 2) + 1))
    offsets.add(len(text))
    return iter(sorted(offsets))


def assert_lesson_problems(problems: list[str], source: str) -> None:
    """Each problem is one sentence naming the file, and its line unless it is about the file."""
    assert problems
    for problem in problems:
        assert problem.startswith(source), problem
        assert "\n" not in problem and "Traceback" not in problem, problem
        where = re.match(r"(:\d+)?: \S", problem[len(source):])
        assert where is not None, problem
        if "cannot read the file" in problem:
            assert re.search(r"line \d+ is not UTF-8 text", problem), problem
        elif not any(phrase in problem for phrase in WHOLE_FILE):
            assert where.group(1), f"no line number: {problem}"


# Config problems about the whole file, so no line number belongs in them.
CONFIG_WHOLE_FILE = (
    "the top level must be a mapping",
    "nested too deeply",
    "cannot read the file",
)


def assert_config_problems(problems: list[str], path: Path) -> None:
    """Each problem is one sentence naming the config file, and its line like lesson problems."""
    assert problems
    for problem in problems:
        assert problem.startswith(str(path)), problem
        assert "\n" not in problem and "Traceback" not in problem, problem
        assert "<unicode string>" not in problem, problem
        where = re.match(r"(:\d+)?: \S", problem[len(str(path)):])
        assert where is not None, problem
        if not any(phrase in problem for phrase in CONFIG_WHOLE_FILE):
            assert where.group(1), f"no line number: {problem}"


# --- edits --------------------------------------------------------------------------------

# Bytes that break YAML or text in interesting ways: structure, quoting, tabs, control
# characters, a lone UTF-8 lead byte, a byte that is never UTF-8, NEL.
_BYTES = st.one_of(
    st.sampled_from([b":", b"-", b"[", b"{", b"]", b"}", b"&a", b"*a", b"!", b"!!int", b"|",
                     b">", b"'", b'"', b"#", b"\n", b"\r", b"\t", b" ", b"  ", b"%", b"@",
                     b"`", b"?", b",", b"\x00", b"\x07", b"\x1b", b"\xc3", b"\xff", b"\xc2\x85",
                     b"\xef\xbb\xbf", b"9", b"-1", b"~", b"\\0"]),
    st.binary(min_size=1, max_size=3),
)
_EDIT = st.tuples(st.sampled_from(["replace", "insert", "delete"]),
                  st.floats(0, 1, exclude_max=True), _BYTES)


def apply_edits(data: bytes, edits: list[tuple[str, float, bytes]]) -> bytes:
    """``data`` with each edit applied at a relative position: replace, insert or delete."""
    for kind, where, piece in edits:
        at = int(where * (len(data) + 1))
        if kind == "insert":
            data = data[:at] + piece + data[at:]
        elif kind == "replace":
            data = data[:at] + piece + data[at + len(piece):]
        else:
            data = data[:at] + data[at + len(piece):]
    return data


# --- the shipped lesson, broken ----------------------------------------------------------------


def test_the_shipped_lesson_cut_short_anywhere_names_the_file_and_line() -> None:
    text = LESSON.read_text(encoding="utf-8")
    source = "prompts/stalins-crimes-and-russias-future.yaml"
    outcomes = {"lesson": 0, "problems": 0}
    for offset in cuts(text, stride=5):
        try:
            lesson = parse_lesson(text[:offset], LESSON.stem, source)
        except LessonError as exc:
            assert_lesson_problems(exc.problems, source)
            outcomes["problems"] += 1
        else:
            # Cut inside the transcript or the last reading: still a whole lesson.
            assert lesson.questions and lesson.title
            outcomes["lesson"] += 1
    assert outcomes["problems"] > 100 and outcomes["lesson"] > 0


@FUZZ
@given(st.lists(_EDIT, min_size=1, max_size=6))
def test_the_shipped_lesson_with_bytes_changed_names_the_file(
    edits: list[tuple[str, float, bytes]],
) -> None:
    data = apply_edits(LESSON.read_bytes(), edits)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / LESSON.name
        path.write_bytes(data)
        try:
            lessons = load_lessons(Path(folder))
        except LessonError as exc:
            assert_lesson_problems(exc.problems, str(path))
        else:
            assert isinstance(lessons[LESSON.stem], Lesson)


@pytest.mark.parametrize(("damage", "expected"), [
    # A lesson pasted from a terminal with a stray escape character.
    (lambda t: t.replace("summary: ", "summary: \x1b[0m"),
     r":3: not valid YAML \(it contains the character U\+001B, which YAML does not allow: "
     r"delete it\)$"),
    # An editor that saved Latin-1: the line of the first bad byte is named.
    (lambda t: t.replace("questions:", "questions: caf\udce9", 1),
     r": cannot read the file: line 7 is not UTF-8 text \(byte 0xe9\); save the file as "
     r"UTF-8$"),
    # Brackets that never close, thousands deep.
    (lambda t: t + "\nextra: " + "[" * 5000,
     r": not valid YAML \(it is nested too deeply: look for brackets that are never closed\)$"),
    # A key that is a number, not a word.
    (lambda t: t.replace("summary:", "5: x\nsummary:"),
     r":3: 5 is not a lesson field \(field names are words, such as title or summary\)$"),
])
def test_damage_that_used_to_confuse_the_loader_gets_a_sentence(
    tmp_path: Path, damage: Callable[[str], str], expected: str
) -> None:
    text = damage(LESSON.read_text(encoding="utf-8"))
    path = tmp_path / LESSON.name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(LessonError) as caught:
        load_lessons(tmp_path)
    [problem] = caught.value.problems
    assert re.fullmatch(re.escape(str(path)) + expected, problem), problem


# --- the example config, broken ----------------------------------------------------------------


def check_settings(path: Path) -> Settings | None:
    """Load a config: the settings, or None after checking the problems are sentences."""
    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        assert_config_problems(exc.problems, path)
        return None
    # What `seminar schedule` and the running bot compute from a config must work too.
    now = dt.datetime.now(dt.UTC)
    for key, course in loaded.courses.items():
        calendar.occurrences(key, course)
        assert now - posting_rules.lookback(course.catch_up) < now
        assert now - dt.timedelta(days=course.retention_days) < now
        assert now - dt.timedelta(hours=course.reminders.hours_before_due or 0) <= now
    return loaded


def test_the_example_config_cut_short_anywhere_lists_problems(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "config.yaml"
    outcomes = {"settings": 0, "problems": 0}
    for offset in cuts(text, stride=7):
        path.write_text(text[:offset], encoding="utf-8")
        outcomes["settings" if check_settings(path) else "problems"] += 1
    assert outcomes["problems"] > 50 and outcomes["settings"] > 50


@FUZZ
@given(st.lists(_EDIT, min_size=1, max_size=6))
def test_the_example_config_with_bytes_changed_lists_problems(
    edits: list[tuple[str, float, bytes]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_bytes(apply_edits(EXAMPLE.read_bytes(), edits))
        check_settings(path)


@pytest.mark.parametrize(("line", "expected"), [
    # Cut short while typing: 'America' is a folder of zones, not a zone.
    ("    timezone: America", "courses.history-101.timezone: unknown time zone 'America'"),
    ("    timezone: " + "x" * 300, "courses.history-101.timezone: unknown time zone 'xxx"),
    ('    timezone: "Europe/Paris\\0"', "courses.history-101.timezone: unknown time zone"),
    ("    timezone: \x00", "not valid YAML (it contains the character U+0000, which "
                          "YAML does not allow: delete it)"),
    ("    5: x", "courses.history-101.5: unknown setting (check its spelling and indentation)"),
    # A digit too many: it passed `seminar check`, then overflowed a date in the running bot.
    ("    retention_days: 3650000000000",
     "courses.history-101.retention_days: Input should be less than or equal to 36500"),
    ("    catch_up: {max_late_hours: 1212121212121}",
     "courses.history-101.catch_up.max_late_hours: Input should be less than or equal to 8784"),
    ("    reminders: {hours_before_due: 2424242424242}",
     "courses.history-101.reminders.hours_before_due: Input should be less than or equal to "
     "8784"),
    ("    calendar: {weekly: {start: 2026-09-07, end: 2026-12-18, weekdays: [mon], "
     "time: '09:00', lessons: [week-1], due_after_days: 7777777}}",
     "courses.history-101.calendar.weekly.due_after_days: Input should be less than or equal "
     "to 366"),
])
def test_config_damage_that_used_to_crash_gets_a_sentence(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("courses:\n  history-101:\n    name: History 101\n"
                    "    guild_id: 111111111111111111\n    channel_id: 222222222222222222\n"
                    "\n\n\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:10: {expected}"), problem


@pytest.mark.parametrize(("text", "expected"), [
    ('lessons:\n  folder: "prompts\\0"\n',
     ":2: lessons.folder: a folder name cannot contain a NUL character (\\0)"),
    ('database:\n  url: "sqlite+aiosqlite:///x\\0.db"\n',
     ":2: database.url: a database URL cannot contain a NUL character (\\0)"),
    ("[" * 5000, ": not valid YAML (it is nested too deeply: look for brackets that are never "
                 "closed)"),
])
def test_paths_and_nesting_that_used_to_crash_get_a_sentence(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [f"{path}{expected}"]


def test_a_config_saved_as_latin_1_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("courses:\n  history-101:\n    name: Histoire de l'\xe9t\xe9\n".encode(
        "latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [
        f"{path}: cannot read the file: line 3 is not UTF-8 text (byte 0xe9); save the file "
        "as UTF-8"]


# --- seminar check on broken files -------------------------------------------------------------


def seminar(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``seminar`` in-process; the exit code, stdout and stderr (never a traceback)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def assert_check_outcome(code: int, out: str, err: str) -> None:
    """`seminar check` either passes with a summary or lists exactly the problems it counted."""
    if code == 0:
        assert out.startswith("Config OK: ") and err == ""
        return
    assert code == 1 and out == ""
    lines = err.splitlines()
    found = re.fullmatch(r"Found (\d+) problem\(s\):", lines[0])
    assert found is not None, err
    assert len(lines) == 1 + int(found.group(1)), err
    assert all(line.startswith("  - ") and len(line) > 6 for line in lines[1:]), err


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(config_edits=st.lists(_EDIT, max_size=3), lesson_edits=st.lists(_EDIT, max_size=3),
       config_cut=st.none() | st.floats(0, 1), lesson_cut=st.none() | st.floats(0, 1))
def test_seminar_check_on_damaged_files_exits_1_with_sentences(
    capsys: pytest.CaptureFixture[str],
    config_edits: list[tuple[str, float, bytes]],
    lesson_edits: list[tuple[str, float, bytes]],
    config_cut: float | None,
    lesson_cut: float | None,
) -> None:
    def damaged(data: bytes, edits: list[tuple[str, float, bytes]], cut: float | None) -> bytes:
        data = apply_edits(data, edits)
        return data if cut is None else data[:int(cut * len(data))]

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_bytes(damaged(EXAMPLE.read_bytes(), config_edits, config_cut))
        (Path(folder) / "prompts").mkdir()
        (Path(folder) / "prompts" / LESSON.name).write_bytes(
            damaged(LESSON.read_bytes(), lesson_edits, lesson_cut))
        assert_check_outcome(*seminar(capsys, "--config", str(config), "check"))
        code, _, err = seminar(capsys, "--config", str(config), "schedule", "--all")
        assert code in (0, 1)
        if code == 1:
            assert err.strip() and all(line.strip() for line in err.splitlines())


def test_seminar_check_on_a_truncated_lesson_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "prompts").mkdir()
    lesson = tmp_path / "prompts" / LESSON.name
    text = LESSON.read_text(encoding="utf-8")
    # Cut right after the first reading's "- title:", as a half-saved file would be.
    cut = text.index("- title:", text.index("resources:")) + len("- title:")
    lesson.write_text(text[:cut], "utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, err = seminar(capsys, "--config", str(config), "check")
    assert_check_outcome(code, out, err)
    assert code == 1
    assert f"{lesson}:11: resources[1].title Input should be a valid string" in err, err


def test_seminar_check_on_a_config_cut_in_the_time_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(text[:text.index("America/New_York") + len("America")], encoding="utf-8")
    code, out, err = seminar(capsys, "--config", str(config), "check")
    assert_check_outcome(code, out, err)
    assert "courses.history-101.timezone: unknown time zone 'America': use an IANA name" in err


# --- the seed page to the importer, broken -----------------------------------------------------


def check_import(text: str) -> None:
    """A page gives a lesson that survives a round trip, or problems in sentences."""
    try:
        result = import_page(text, "fuzz")
    except PageImportError as exc:
        assert exc.problems
        assert all(p.strip() and "\n" not in p for p in exc.problems), exc.problems
        return
    assert parse_lesson(dump_lesson(result.lesson), "fuzz", "fuzz.yaml") == result.lesson


def test_the_seed_page_cut_short_anywhere_imports_or_says_what_is_missing() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for offset in cuts(text, stride=40):
        check_import(text[:offset])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_EDIT, min_size=1, max_size=8))
def test_the_seed_page_with_bytes_changed_imports_or_says_what_is_wrong(
    edits: list[tuple[str, float, bytes]],
) -> None:
    check_import(apply_edits(PAGE.read_bytes(), edits).decode("utf-8", "replace"))


def test_seminar_import_of_cut_pages_never_shows_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = PAGE.read_bytes()
    pages = []
    for index, offset in enumerate((0, 40, len(data) // 3, len(data) // 2, len(data) - 200)):
        page = tmp_path / f"page-{index}.txt"
        page.write_bytes(data[:offset] + (b"\xff" if index == 2 else b""))
        pages.append(str(page))
    out_dir = tmp_path / "out"
    code, _, err = seminar(capsys, "import", *pages, "-o", str(out_dir))
    assert code == 1
    assert f"{pages[0]}: " in err and f"{pages[2]}: cannot read the file" in err
    for line in err.splitlines():
        assert line.startswith(str(tmp_path)), line


# --- hostile or huge files ---------------------------------------------------------------------

ALIAS_BOMB = "".join(
    f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9) if level else ', '.join('x' * 9)}]\n"
    for level in range(10))


@pytest.mark.parametrize("kind", ["lesson", "config"])
def test_an_alias_bomb_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Nine levels of nine aliases stand for 387 million values: expanding them took minutes
    # and gigabytes; now `seminar check` refuses the file before it expands anything.
    config = tmp_path / "config.yaml"
    (tmp_path / "prompts").mkdir()
    lesson = tmp_path / "prompts" / "bomb.yaml"
    if kind == "lesson":
        config.write_text("courses: {}\n", encoding="utf-8")
        lesson.write_text("title: T\npublished: 2021-01-01\nsummary: S\nquestions: [Q]\n"
                          + ALIAS_BOMB.replace("l0:", "transcript: x\nl0:"), encoding="utf-8")
        bad = lesson
    else:
        config.write_text("courses: {}\n" + ALIAS_BOMB.replace("l9:", "log_level:"),
                          encoding="utf-8")
        bad = config
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert (f"{bad}: not valid YAML (its aliases (*name) expand to more than 1,000,000 values: "
            "write the values out, or use fewer aliases)") in err


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("title: &t [*t]\n", encoding="utf-8")
    with pytest.raises(LessonError) as caught:
        load_lessons(tmp_path)
    assert caught.value.problems == [
        f"{path}: not valid YAML (an alias (*name) is used inside the value it names: "
        "remove it)"]


def test_aliases_a_teacher_might_use_still_work(tmp_path: Path) -> None:
    # One calendar written once and used by 39 courses.
    config = tmp_path / "config.yaml"
    course = ("    name: {0}\n    guild_id: 1\n    channel_id: {1}\n"
              "    calendar: *term\n")
    text = ("courses:\n  bio-1:\n    name: Bio 1\n    guild_id: 1\n    channel_id: 2\n"
            "    calendar: &term\n      weekly: {start: 2026-09-07, end: 2026-12-18, "
            "weekdays: [mon], time: '09:00', lessons: [a]}\n"
            + "".join(f"  bio-{n}:\n" + course.format(f"Bio {n}", n + 10) for n in range(2, 40)))
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config)
    assert len(settings.courses) == 39
    assert {c.calendar.weekly.lessons[0] for c in settings.courses.values()
            if c.calendar.weekly is not None} == {"a"}


def test_a_lesson_file_too_large_is_not_read_and_every_transcript_fits_discord(
    tmp_path: Path,
) -> None:
    from bot.core import limits, render

    path = tmp_path / "huge.yaml"
    path.write_text("title: T\npublished: 2021-01-01\nsummary: S\nquestions: [Q]\n"
                    "transcript: |\n" + "  words and words\n" * 300_000, encoding="utf-8")
    with pytest.raises(LessonError) as caught:
        load_lessons(tmp_path)
    assert caught.value.problems == [
        f"{path}: the lesson file is 5.1 MiB; Seminar reads files of at most 4 MiB: is it the "
        "right file?"]
    # The largest lesson file check accepts still makes a transcript Discord takes.
    path.write_text("title: T\npublished: 2021-01-01\nsummary: S\nquestions: [Q]\n"
                    "transcript: |\n" + "  words and words\n" * 230_000, encoding="utf-8")
    assert path.stat().st_size <= limits.MAX_FILE_BYTES
    [lesson] = load_lessons(tmp_path).values()
    transcript = render.transcript_file(lesson)
    assert transcript is not None
    assert len(transcript.data) <= render.ATTACHMENT_SIZE_LIMIT
    assert limits.MAX_FILE_BYTES + 4 * limits.MAX_TITLE_LENGTH < render.ATTACHMENT_SIZE_LIMIT
