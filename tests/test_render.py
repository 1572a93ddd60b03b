"""Rendering lessons for Discord: every message within every limit, and no text lost."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core import limits, render
from bot.core.lessons import Lesson, Resource, load_lessons
from bot.core.render import (
    BUTTON_LABEL_LIMIT,
    BUTTONS_PER_MESSAGE,
    BUTTONS_PER_ROW,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELD_NAME_LIMIT,
    EMBED_FIELD_VALUE_LIMIT,
    EMBED_FIELDS_LIMIT,
    EMBED_FOOTER_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    MESSAGE_CONTENT_LIMIT,
    THREAD_NAME_LIMIT,
    MessageSpec,
    chunk_text,
)

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
SEED = "stalins-crimes-and-russias-future"


def seed_lesson() -> Lesson:
    return load_lessons(PROMPTS)[SEED]


def assert_within_limits(messages: list[MessageSpec]) -> None:
    """Every message, embed, field and button is within Discord's limits."""
    assert messages, "at least one message"
    for message in messages:
        assert message.content or message.embeds or message.buttons or message.files
        assert len(message.content or "") <= MESSAGE_CONTENT_LIMIT
        assert len(message.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(e.length for e in message.embeds) <= EMBED_TOTAL_LIMIT
        assert len(message.buttons) <= BUTTONS_PER_MESSAGE
        assert all(len(row) <= BUTTONS_PER_ROW for row in message.button_rows)
        for button in message.buttons:
            assert 0 < len(button.label) <= BUTTON_LABEL_LIMIT
            assert re.match(r"^https?://\S+$", button.url)
        for embed in message.embeds:
            assert len(embed.title or "") <= EMBED_TITLE_LIMIT
            assert len(embed.description or "") <= EMBED_DESCRIPTION_LIMIT
            assert len(embed.footer or "") <= EMBED_FOOTER_LIMIT
            assert len(embed.fields) <= EMBED_FIELDS_LIMIT
            assert embed.title or embed.description or embed.footer or embed.fields
            for field in embed.fields:
                assert 0 < len(field.name) <= EMBED_FIELD_NAME_LIMIT
                assert 0 < len(field.value) <= EMBED_FIELD_VALUE_LIMIT


def all_descriptions(messages: list[MessageSpec]) -> str:
    return " ".join(e.description or "" for m in messages for e in m.embeds)


def squash(text: str) -> str:
    return " ".join(text.split())


# --- chunk_text ---------------------------------------------------------------------------


def assert_pieces_of(text: str, chunks: list[str], limit: int) -> None:
    """Each chunk fits, and the chunks are the text in order with only whitespace between."""
    position = 0
    stripped = text.strip()
    for chunk in chunks:
        assert 0 < len(chunk) <= limit
        assert chunk == chunk.strip()
        found = stripped.find(chunk, position)
        assert found >= 0, chunk
        assert stripped[position:found].strip() == "", "text between chunks was lost"
        position = found + len(chunk)
    assert stripped[position:].strip() == ""


@given(st.text(), st.integers(min_value=1, max_value=300))
@settings(max_examples=300)
def test_chunk_text_keeps_all_text_within_the_limit(text: str, limit: int) -> None:
    assert_pieces_of(text, chunk_text(text, limit), limit)


words = st.text(alphabet=st.characters(categories=("L", "N", "P")), min_size=1, max_size=20)
prose = st.lists(
    st.tuples(words, st.sampled_from([" ", " ", " ", ". ", "\n", "\n\n", ", "])), max_size=400
).map(lambda parts: "".join(w + sep for w, sep in parts))


@given(prose, st.integers(min_value=40, max_value=500))
# Found by hypothesis: the only space sits exactly at half the limit.
@example(text="00000000000000000000 00000000000000000000 ", limit=40)
@settings(max_examples=200)
def test_chunk_text_splits_prose_between_words(text: str, limit: int) -> None:
    chunks = chunk_text(text, limit)
    assert_pieces_of(text, chunks, limit)
    # Words of at most 20 characters never need a hard cut.
    assert squash(" ".join(chunks)) == squash(text)


def test_chunk_text_prefers_paragraphs_then_sentences() -> None:
    text = ("The first paragraph is right here.\n\n"
            "Second one, which is a little longer. It has two sentences.")
    assert chunk_text(text, 50) == [
        "The first paragraph is right here.",
        "Second one, which is a little longer.",
        "It has two sentences.",
    ]


def test_chunk_text_cuts_a_word_longer_than_the_limit() -> None:
    assert chunk_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert chunk_text("   \n  ", 10) == []


# --- small helpers ------------------------------------------------------------------------


def test_discord_timestamp_needs_an_aware_time() -> None:
    when = dt.datetime(2021, 8, 10, 13, 0, tzinfo=dt.UTC)
    assert render.discord_timestamp(when) == "<t:1628600400:F>"
    assert render.discord_timestamp(when, "R") == "<t:1628600400:R>"
    with pytest.raises(ValueError, match="aware"):
        render.discord_timestamp(when.replace(tzinfo=None))


@given(st.integers(min_value=0, max_value=99), st.text())
def test_thread_name_is_never_empty_or_too_long(index: int, question: str) -> None:
    name = render.thread_name(index, question)
    assert 0 < len(name) <= THREAD_NAME_LIMIT
    assert "\n" not in name
    assert name.startswith(f"Q{index + 1}")


def test_thread_name_cuts_at_a_word_with_an_ellipsis() -> None:
    question = "Why " + "really " * 30 + "?"
    name = render.thread_name(0, question)
    assert name.startswith("Q1: Why really")
    assert name.endswith("really…")


# --- the seed lesson ----------------------------------------------------------------------


def test_seed_overview_shows_title_date_summary_questions_and_buttons() -> None:
    lesson = seed_lesson()
    messages = render.overview_messages(lesson)
    assert_within_limits(messages)
    assert len(messages) == 1
    (embed,) = messages[0].embeds
    assert embed.title == "Stalin’s Crimes and Russia’s Future"
    assert ("Published", "August 10, 2021") in [(f.name, f.value) for f in embed.fields]
    assert embed.description is not None
    assert embed.description.startswith("To legitimize his authoritarian agenda")
    assert "1. Why is Vladimir Putin trying to rehabilitate Josef Stalin’s image?" in (
        embed.description)
    assert "2. Can Vladimir Putin succeed in improving Stalin’s image?" in embed.description
    urls = [b.url for b in messages[0].buttons]
    assert urls == [r.url for r in lesson.resources]
    assert all("hoover.org" in url for url in urls)


def test_seed_resources_list_every_reading_with_a_button() -> None:
    lesson = seed_lesson()
    messages = render.resources_messages(lesson)
    assert_within_limits(messages)
    text = all_descriptions(messages)
    assert "1. Read [“Russia’s Re-Stalinization”](https://www.hoover.org/" in text
    assert "by Paul R. Gregory" in text
    assert [b.label for b in messages[0].buttons] == [
        "Read: Russia’s Re-Stalinization",
        "Read: A Green Light for Russian Hegemony",
        "Read: Women of the Gulag: Portraits of Five Remarkable Lives",
    ]


def test_reading_without_a_link_is_listed_without_a_button() -> None:
    lesson = seed_lesson().model_copy(update={"resources": [
        Resource(title="The class handout", author="Ms. Lee"),
        Resource(title="A video", url="https://example.org/v", kind="watch"),
    ]})
    messages = render.resources_messages(lesson)
    text = all_descriptions(messages)
    assert "1. Read “The class handout”, by Ms. Lee (no link)" in text
    assert "2. Watch [“A video”](https://example.org/v)" in text
    assert [(b.label, b.url) for b in messages[0].buttons] == [
        ("Watch: A video", "https://example.org/v")]


def test_lesson_post_has_due_time_and_late_note() -> None:
    due = dt.datetime(2026, 9, 14, 13, 0, tzinfo=dt.UTC)
    messages = render.lesson_messages(seed_lesson(), due_at=due, late_note="Posted late.")
    assert_within_limits(messages)
    assert messages[0].content == "Posted late."
    fields = {f.name: f.value for f in messages[0].embeds[0].fields}
    assert fields["Due"] == f"<t:{int(due.timestamp())}:F> (<t:{int(due.timestamp())}:R>)"


def test_question_messages_name_the_question() -> None:
    messages = render.question_messages(seed_lesson(), 1)
    assert_within_limits(messages)
    embed = messages[0].embeds[0]
    assert embed.title == "Question 2 of 2"
    assert embed.description == "Can Vladimir Putin succeed in improving Stalin’s image?"


def test_transcript_file_holds_the_whole_transcript() -> None:
    lesson = seed_lesson()
    file = render.transcript_file(lesson)
    assert file is not None
    assert file.filename == f"{SEED}-transcript.txt"
    text = file.data.decode("utf-8")
    assert text.startswith("Stalin’s Crimes and Russia’s Future\n\nToday, Russia’s president")
    assert squash(lesson.transcript or "") in squash(text)
    assert render.transcript_file(lesson.model_copy(update={"transcript": None})) is None


def test_preview_text_shows_post_and_threads() -> None:
    text = render.preview_text(seed_lesson())
    assert "# Stalin’s Crimes and Russia’s Future" in text
    assert "=== Thread: Q1: Why is Vladimir Putin trying" in text
    assert "https://www.hoover.org/research/russias-re-stalinization" in text


# --- long and odd lessons -----------------------------------------------------------------


def test_a_4000_word_summary_is_split_and_nothing_is_lost() -> None:
    sentence = "The Great Terror reached every town and village of the Soviet Union. "
    summary = "\n\n".join(sentence * 10 for _ in range(50))  # 5,500 words
    lesson = seed_lesson().model_copy(update={"summary": summary})
    for messages in (render.lesson_messages(lesson), render.overview_messages(lesson)):
        assert_within_limits(messages)
        assert len(messages) > 1
        assert squash(summary) in squash(all_descriptions(messages))
        # The link buttons come once, after the text.
        assert [len(m.buttons) for m in messages] == [0] * (len(messages) - 1) + [3]


def test_a_long_title_is_cut_in_the_title_but_shown_whole() -> None:
    title = "A very long lesson title " * 11
    lesson = seed_lesson().model_copy(update={"title": title.strip()})
    messages = render.overview_messages(lesson)
    assert_within_limits(messages)
    assert messages[0].embeds[0].title is not None
    assert messages[0].embeds[0].title.endswith("…")
    assert squash(title) in squash(all_descriptions(messages))


def test_thirty_readings_need_two_messages_of_buttons() -> None:
    resources = [Resource(title=f"Reading {i}", url=f"https://example.org/{i}") for i in range(30)]
    lesson = seed_lesson().model_copy(update={"resources": resources})
    messages = render.resources_messages(lesson)
    assert_within_limits(messages)
    assert sum(len(m.buttons) for m in messages) == 30


def visible(text: str) -> bool:
    return any(ch.isprintable() and not ch.isspace() for ch in text)


lesson_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=9000
).filter(visible)


@st.composite
def lessons(draw: st.DrawFn) -> Lesson:
    n_questions = draw(st.integers(min_value=1, max_value=limits.MAX_QUESTIONS))
    return Lesson(
        slug="any-lesson",
        title=draw(st.text(min_size=1, max_size=300).filter(visible)),
        published=draw(st.dates(limits.EARLIEST_PUBLISHED, limits.LATEST_DATE)),
        source_url=draw(st.sampled_from([None, "https://example.org/x"])),
        summary=draw(lesson_text),
        questions=draw(st.lists(lesson_text.map(lambda t: t[:limits.MAX_QUESTION_LENGTH]),
                                min_size=n_questions, max_size=n_questions)),
        resources=[
            Resource(title=t, url=u)
            for t, u in draw(st.lists(
                st.tuples(st.text(min_size=1, max_size=300).filter(visible),
                          st.sampled_from([None, "https://example.org/r"])),
                max_size=30,
            ))
        ],
        transcript=draw(st.one_of(st.none(), st.text(max_size=2000))),
    )


@given(lessons())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_lesson_renders_within_limits_and_loses_no_text(lesson: Lesson) -> None:
    overview = render.overview_messages(lesson)
    assert_within_limits(overview)
    overview_text = squash(all_descriptions(overview))
    assert squash(lesson.summary) in overview_text
    for question in lesson.questions:
        assert squash(question) in overview_text

    assert_within_limits(render.lesson_messages(lesson, late_note="late " * 500))
    for index, question in enumerate(lesson.questions):
        messages = render.question_messages(lesson, index)
        assert_within_limits(messages)
        assert squash(question) == squash(all_descriptions(messages))
        assert 0 < len(render.thread_name(index, question)) <= THREAD_NAME_LIMIT

    resources = render.resources_messages(lesson)
    assert_within_limits(resources)
    for resource in lesson.resources:
        shown = render.escape_for_discord(resource.title, max_length=None)
        assert squash(shown) in squash(all_descriptions(resources))
