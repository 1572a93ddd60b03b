"""The importer turns lesson pages copied from the web into lessons, or says what is missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.core.importer import ImportResult, PageImportError, import_page, slug_for
from bot.core.lessons import dump_lesson, parse_lesson

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seeds" / "000_d1ae947d5f9bb881.txt"
PAGES = Path(__file__).resolve().parent / "pages"
SEED_SLUG = "stalins-crimes-and-russias-future"


def read_page(path: Path) -> str:
    """A page as the CLI reads it (universal newlines off, so CRLF pages stay CRLF)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def seed_text() -> str:
    """The seed page; tests/pages/seed.txt is a byte-for-byte copy that travels with the repo."""
    copy = read_page(PAGES / "seed.txt")
    if SEED.exists():  # in the workspace, the copy must not drift from the original
        assert read_page(SEED) == copy
    return copy


# --- the seed --------------------------------------------------------------------------------

def test_seed_title_date_and_questions(seed_text: str) -> None:
    lesson = import_page(seed_text, SEED_SLUG).lesson
    assert lesson.slug == SEED_SLUG
    assert lesson.title == "Stalin’s Crimes and Russia’s Future"
    assert lesson.published == dt.date(2021, 8, 10)
    assert lesson.questions == [
        "Why is Vladimir Putin trying to rehabilitate Josef Stalin’s image?",
        "Can Vladimir Putin succeed in improving Stalin’s image?",
    ]
    assert lesson.summary.startswith("To legitimize his authoritarian agenda")
    assert lesson.summary.endswith("no regard for the rule of law or individual rights.")


def test_seed_resources_have_titles_and_authors(seed_text: str) -> None:
    result = import_page(seed_text, SEED_SLUG)
    resources = result.lesson.resources
    assert [r.title for r in resources] == [
        "Russia’s Re-Stalinization",
        "A Green Light for Russian Hegemony",
        "Women of the Gulag: Portraits of Five Remarkable Lives",
    ]
    assert {r.author for r in resources} == {"Paul R. Gregory"}
    assert {r.kind for r in resources} == {"read"}
    # The page says "Available here." without a link: imported without one, and said so.
    assert [r.url for r in resources] == [None, None, None]
    assert any(w.startswith("resource 2 has no URL: add one") for w in result.warnings)


def test_seed_transcript_is_clean_and_mended(seed_text: str) -> None:
    lesson = import_page(seed_text, SEED_SLUG).lesson
    assert lesson.transcript is not None
    paragraphs = lesson.transcript.split("\n\n")
    assert paragraphs[0].startswith("Today, Russia’s president Vladimir Putin")
    assert paragraphs[-1].endswith("even more brutal footsteps?")
    # "...to his loyal" + blank line + "executioners in the NKVD..." is one paragraph.
    assert any("to his loyal executioners in the NKVD" in p for p in paragraphs)
    assert not any(p.startswith("executioners") for p in paragraphs)
    assert len(paragraphs) == 13
    dumped = dump_lesson(lesson)
    assert "Back to top" not in dumped
    assert "\u00a0" not in dumped
    assert "  " not in lesson.summary


def test_seed_yaml_loads_back_as_the_same_lesson(seed_text: str) -> None:
    lesson = import_page(seed_text, SEED_SLUG).lesson
    assert parse_lesson(dump_lesson(lesson), SEED_SLUG, "x.yaml") == lesson


def test_slug_comes_from_the_title(seed_text: str) -> None:
    assert slug_for(seed_text, Path("000_d1ae947d5f9bb881.txt")) == SEED_SLUG


def test_slug_falls_back_to_the_file_name() -> None:
    assert slug_for("", Path("Week 3 - Marshall Plan.txt")) == "week-3-marshall-plan"
    assert slug_for("???\n", Path("???.txt")) == "lesson"
    assert slug_for("Économie & Société", Path("x.txt")) == "economie-societe"


def test_shipped_seed_lesson_matches_the_importer(seed_text: str) -> None:
    """prompts/ holds the importer's output for the seed, plus the reading URLs."""
    shipped = yaml.safe_load((ROOT / "prompts" / f"{SEED_SLUG}.yaml").read_text("utf-8"))
    imported = import_page(seed_text, SEED_SLUG).lesson
    assert shipped["title"] == imported.title
    assert shipped["questions"] == imported.questions
    assert shipped["transcript"] == imported.transcript
    assert [r["title"] for r in shipped["resources"]] == [r.title for r in imported.resources]
    assert all(r["url"].startswith("https://www.hoover.org/") for r in shipped["resources"])


# --- variants --------------------------------------------------------------------------------

def test_windows_line_endings_paren_numbers_dash_bullets_and_urls() -> None:
    text = read_page(PAGES / "crlf_paren_dash.txt")
    assert "\r\n" in text
    result = import_page(text, "cold-war")
    lesson = result.lesson
    assert lesson.title == "The Cold War Begins"  # breadcrumbs above the title are dropped
    assert lesson.published == dt.date(2019, 3, 5)
    assert lesson.summary.split("\n\n") == [
        "Winston Churchill's \"iron curtain\" speech named the division of Europe.",
        "Within two years the wartime allies were rivals.",
    ]
    assert lesson.questions == [
        "Why did the wartime alliance fall apart so quickly?",
        "Could the Cold War have been avoided? Explain your answer with one example.",
    ]
    assert [(r.title, r.author, r.kind, r.url) for r in lesson.resources] == [
        ("The Sinews of Peace", "Winston Churchill", "read",
         "https://www.nationalchurchillmuseum.org/sinews-of-peace-iron-curtain-speech.html"),
        ("The Iron Curtain Explained", "Jane Doe", "watch",
         "https://example.org/videos/iron-curtain"),
        ("Cold War Podcast, Episode 1", "John Roe", "listen", None),
        ("The Long Telegram", "George F. Kennan", "read",
         "https://example.org/long-telegram?page=1"),
    ]
    assert lesson.transcript == "In March 1946 Churchill spoke at a small college in Missouri."
    assert result.warnings == [
        "resource 3 has no URL: add one (url: https://...) under “Cold War Podcast, Episode 1” "
        "in the lesson file"
    ]
    assert "\r" not in dump_lesson(lesson)


def test_star_bullets_non_breaking_spaces_and_broken_paragraphs() -> None:
    lesson = import_page(read_page(PAGES / "star_bullets_nbsp.txt"), "gulag").lesson
    assert lesson.title == "Women of the Gulag"
    assert lesson.published == dt.date(2020, 8, 3)
    # A summary hard-wrapped over two lines is one paragraph.
    assert lesson.summary == ("Five women, five lives, one system of camps that reached into "
                              "every part of Soviet society.")
    assert lesson.questions[0] == "What did the camps do to families?"
    assert len(lesson.questions) == 3
    assert [(r.title, r.author, r.kind) for r in lesson.resources] == [
        ("Women of the Gulag", "Paul R. Gregory", "read"),
        ("Women of the Gulag (film trailer)", None, "watch"),
        ("Gulag: A History", "Anne Applebaum", "read"),
    ]
    assert lesson.resources[1].url == "https://www.example.org/trailer"
    assert lesson.transcript == (
        "The first camp opened in the far north, on islands in the White Sea.\n\n"
        "Prisoners cut timber and dug canals with their bare hands, in winters of forty below."
    )
    assert "\u00a0" not in dump_lesson(lesson)


def test_missing_questions_is_a_clear_error() -> None:
    with pytest.raises(PageImportError) as caught:
        import_page(read_page(PAGES / "missing_sections.txt"), "no-questions")
    assert caught.value.problems == [
        "no 'Discussion Questions' section: add one with numbered questions (1. ..., 2. ...)"
    ]


def test_unreadable_date_and_empty_questions_are_both_reported() -> None:
    with pytest.raises(PageImportError) as caught:
        import_page(read_page(PAGES / "bad_date_no_questions.txt"), "marshall")
    problems = caught.value.problems
    assert len(problems) == 2
    assert "'Published: sometime in 1948' has no date I can read" in problems[0]
    assert "write it like 'Published: August 10, 2021'" in problems[0]
    assert problems[1].startswith("the 'Discussion Questions' section has no questions")


def test_an_empty_page_lists_everything_missing() -> None:
    with pytest.raises(PageImportError) as caught:
        import_page("\n  \r\n", "empty")
    assert caught.value.problems == [
        "no title: put the lesson's title on the first line of the page",
        "no 'Published:' line: add one under the title, such as 'Published: August 10, 2021'",
        "no summary: add a paragraph between the 'Published:' line and 'Discussion Questions'",
        "no 'Discussion Questions' section: add one with numbered questions (1. ..., 2. ...)",
    ]


def test_optional_sections_missing_are_warnings() -> None:
    page = "Title\nPublished: 2021-08-10\nA summary.\nDiscussion Questions\n1. Why?\n"
    result = import_page(page, "short")
    assert result.lesson.resources == []
    assert result.lesson.transcript is None
    assert result.warnings == [
        "no 'Additional Resources' section: the lesson has no readings",
        "no 'View Transcript' section: the lesson has no transcript",
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Published: August 10, 2021", dt.date(2021, 8, 10)),
        ("Published: Tuesday, August 10, 2021", dt.date(2021, 8, 10)),
        ("Published on Sept. 1st, 2020", dt.date(2020, 9, 1)),
        ("Published: 10 August 2021", dt.date(2021, 8, 10)),
        ("Published: 2021-08-10", dt.date(2021, 8, 10)),
        ("PUBLISHED:   Aug 10 2021 | 3 min read", dt.date(2021, 8, 10)),
    ],
)
def test_published_date_forms(written: str, expected: dt.date) -> None:
    page = f"Title\n{written}\nSummary.\nDiscussion Questions\n1. Why?\n"
    assert import_page(page, "dated").lesson.published == expected


def test_published_date_on_the_next_line() -> None:
    page = "Title\nPublished:\n\nAugust 10, 2021\n\nSummary.\nDiscussion Questions\n1. Why?\n"
    lesson = import_page(page, "dated").lesson
    assert lesson.published == dt.date(2021, 8, 10)
    assert lesson.summary == "Summary."


def test_impossible_date_is_an_error() -> None:
    page = "Title\nPublished: February 30, 2021\nSummary.\nDiscussion Questions\n1. Why?\n"
    with pytest.raises(PageImportError) as caught:
        import_page(page, "dated")
    assert "'Published: February 30, 2021' has no date I can read" in caught.value.problems[0]


def test_unnumbered_questions_are_taken_line_by_line_with_a_warning() -> None:
    page = "T\nPublished: 2021-08-10\nS.\nDiscussion Questions\nWhy?\nHow?\n"
    result = import_page(page, "plain")
    assert result.lesson.questions == ["Why?", "How?"]
    assert any("not numbered" in w for w in result.warnings)


def test_a_gap_in_question_numbers_is_flagged() -> None:
    page = "T\nPublished: 2021-08-10\nS.\nDiscussion Questions\n1. Why?\n3. How?\n"
    result = import_page(page, "gap")
    assert result.lesson.questions == ["Why?", "How?"]
    assert any("jump from 1 to 3" in w for w in result.warnings)


def test_a_bad_slug_is_reported() -> None:
    page = "T\nPublished: 2021-08-10\nS.\nDiscussion Questions\n1. Why?\n"
    with pytest.raises(PageImportError) as caught:
        import_page(page, "Bad Name!")
    assert "'Bad Name!' is not a usable lesson name" in caught.value.problems[0]


# --- arbitrary input -------------------------------------------------------------------------

def check_outcome(text: str) -> None:
    """Any text gives a lesson that survives a YAML round trip, or problems in sentences."""
    try:
        result = import_page(text, "fuzz")
    except PageImportError as exc:
        assert exc.problems
        assert all(isinstance(p, str) and p.strip() for p in exc.problems)
        return
    assert isinstance(result, ImportResult)
    assert parse_lesson(dump_lesson(result.lesson), "fuzz", "fuzz.yaml") == result.lesson
    slug_for(text, Path("fuzz.txt"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_arbitrary_text_gives_a_lesson_or_a_clear_error(text: str) -> None:
    check_outcome(text)
    assert slug_for(text, Path("page.txt"))


_WORDS = st.text(
    alphabet=st.sampled_from("abcXYZ \u00a0’“”\"'.,:;?!()-•*#1\t\u200b"), max_size=40
)
_LINE = st.one_of(
    _WORDS,
    st.sampled_from([
        "", "Back to top", "Discussion Questions", "Additional Resources:", "View Transcript",
        "Published: August 10, 2021", "Published:", "Published: 31/12/2020", "Transcript",
        "  1. Why?", "2) How so", "3.", "• Read “A,” by B. Available here.", "- Watch x",
        "* Listen to “Pod” by Z. Available here: https://example.org/p.", "Available here:",
        "https://example.org/x)", "www.example.org", "Questions", "by", "“", "”", "1)",
    ]),
    st.builds(lambda n, w: f"{n}. {w}", st.integers(0, 999), _WORDS),
    st.builds(lambda b, w: f"{b} {w}", st.sampled_from("•-*–"), _WORDS),
    st.builds(lambda d: f"Published: {d:%B %d, %Y}", st.dates()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=40), st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
def test_page_shaped_junk_gives_a_lesson_or_a_clear_error(lines: list[str], end: str) -> None:
    check_outcome(end.join(lines))


# --- through the command line ----------------------------------------------------------------

def test_import_writes_the_lesson_file_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = PAGES / "crlf_paren_dash.txt"
    assert main(["import", str(page), "-o", str(tmp_path)]) == 0
    target = tmp_path / "the-cold-war-begins.yaml"
    assert f"wrote {target}" in capsys.readouterr().out
    assert parse_lesson(target.read_text("utf-8"), target.stem, str(target)).title == (
        "The Cold War Begins"
    )

    target.write_text("# the teacher's edits\n", encoding="utf-8")
    assert main(["import", str(page), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{target} already exists: not overwritten (use --force to replace it)" in err
    assert target.read_text("utf-8") == "# the teacher's edits\n"

    assert main(["import", str(page), "-o", str(tmp_path), "--force"]) == 0
    assert target.read_text("utf-8").startswith("title: The Cold War Begins")


def test_import_to_stdout_prints_the_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(PAGES / "star_bullets_nbsp.txt"), "-o", "-"]) == 0
    captured = capsys.readouterr()
    data = yaml.safe_load(captured.out)
    assert data["title"] == "Women of the Gulag"
    assert len(data["questions"]) == 3
    # Warnings go to stderr, so the YAML on stdout can be redirected into a file as it is.
    assert "resource 3 has no URL: add one" in captured.err
    assert "resource 3" not in captured.out


def test_import_with_a_slug_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = PAGES / "star_bullets_nbsp.txt"
    assert main(["import", str(page), "-o", str(tmp_path), "--slug", "week-1"]) == 0
    assert (tmp_path / "week-1.yaml").exists()


def test_import_of_broken_pages_reports_each_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = [str(PAGES / "missing_sections.txt"), str(PAGES / "bad_date_no_questions.txt"),
             str(tmp_path / "absent.txt"), str(PAGES / "crlf_paren_dash.txt")]
    assert main(["import", *pages, "-o", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "missing_sections.txt: no 'Discussion Questions' section" in captured.err
    assert "bad_date_no_questions.txt: 'Published: sometime in 1948'" in captured.err
    assert "absent.txt: cannot read the file" in captured.err
    assert "Traceback" not in captured.err
    # The good page among them is still imported.
    assert (tmp_path / "the-cold-war-begins.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["the-cold-war-begins.yaml"]
