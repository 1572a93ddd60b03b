"""/lesson, /resources and /transcript as a student sees them, with the real bot and client.

The bot starts through ``seminar run``'s own path against the Discord emulator, with the
seed lesson from prompts/.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core import render
from bot.core.config import Settings
from bot.core.lessons import load_lessons
from tests.emulator import DiscordEmulator
from tests.integration.conftest import (
    PROMPTS,
    SEED,
    School,
    StartBot,
    make_settings,
)

SEED_TITLE = "Stalin’s Crimes and Russia’s Future"
HOOVER_URLS = [
    "https://www.hoover.org/research/russias-re-stalinization",
    "https://www.hoover.org/research/green-light-russian-hegemony",
    "https://www.hoover.org/press-releases/women-gulag-portraits-five-remarkable-lives-gregory-"
    "highlights-tragedy-among-women",
]


def link_buttons(result: Any) -> list[tuple[str, str]]:
    """(label, url) of every link button in an answer."""
    buttons = []
    for row in result.components or []:
        for item in row.get("components", []):
            if item.get("type") == 2 and item.get("style") == 5:
                buttons.append((item["label"], item["url"]))
    return buttons


def command_puts(emulator: DiscordEmulator, guild_id: int) -> int:
    path = re.compile(rf"/applications/\d+/guilds/{guild_id}/commands$")
    return sum(1 for c in emulator.calls if c.method == "PUT" and path.search(c.path))


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records), [r.getMessage() for r in caplog.records
                                                             if r.exc_info]


async def test_commands_sync_once_to_the_course_guild(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with start_bot(settings):
        names = {c["name"] for c in emulator.commands(school.guild_id)}
        assert {"lesson", "resources", "transcript", "schedule"} <= names
        lesson = next(c for c in emulator.commands(school.guild_id) if c["name"] == "lesson")
        option = lesson["options"][0]
        assert option["name"] == "lesson"
        assert option["autocomplete"] is True
        assert option["description"].startswith("The lesson's name")
    assert command_puts(emulator, school.guild_id) == 1

    # Same commands, second start: nothing is synced.
    async with start_bot(settings):
        pass
    assert command_puts(emulator, school.guild_id) == 1

    # `seminar run --sync` syncs anyway.
    async with start_bot(settings, sync=True):
        pass
    assert command_puts(emulator, school.guild_id) == 2
    assert emulator.token not in caplog.text


async def test_lesson_shows_the_current_lesson(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot
) -> None:
    async with start_bot(settings):
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
    assert result.ephemeral
    (embed,) = result.embeds
    assert embed["title"] == SEED_TITLE
    assert {"name": "Published", "value": "August 10, 2021", "inline": True} in embed["fields"]
    description = embed["description"]
    assert description.startswith("To legitimize his authoritarian agenda, Vladimir Putin")
    assert "**Discussion questions**" in description
    assert "1. Why is Vladimir Putin trying to rehabilitate Josef Stalin’s image?" in description
    assert "2. Can Vladimir Putin succeed in improving Stalin’s image?" in description
    assert [url for _, url in link_buttons(result)] == HOOVER_URLS


async def test_lesson_by_name_with_autocomplete(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot
) -> None:
    async with start_bot(settings):
        choices = await emulator.autocomplete(
            school.guild_id, school.class_channel_id, school.student_id, "lesson",
            focused="lesson", value="stal")
        assert [c["value"] for c in choices] == [SEED]
        assert choices[0]["name"] == f"{SEED_TITLE} (2021-08-10)"
        by_title_word = await emulator.autocomplete(
            school.guild_id, school.class_channel_id, school.student_id, "resources",
            focused="lesson", value="russia")
        assert [c["value"] for c in by_title_word] == [SEED]

        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson",
            options={"lesson": choices[0]["value"]})
    assert result.embeds[0]["title"] == SEED_TITLE


async def test_resources_with_and_without_a_lesson_name(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot
) -> None:
    async with start_bot(settings):
        current = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "resources")
        named = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "resources",
            options={"lesson": SEED})
    for result in (current, named):
        assert result.ephemeral
        (embed,) = result.embeds
        assert embed["title"] == f"Readings: {SEED_TITLE}"
        assert "1. Read [“Russia’s Re-Stalinization”](" in embed["description"]
        assert "3. Read [“Women of the Gulag: Portraits of Five Remarkable Lives”](" in (
            embed["description"])
        assert link_buttons(result) == [
            ("Read: Russia’s Re-Stalinization", HOOVER_URLS[0]),
            ("Read: A Green Light for Russian Hegemony", HOOVER_URLS[1]),
            ("Read: Women of the Gulag: Portraits of Five Remarkable Lives", HOOVER_URLS[2]),
        ]


async def test_transcript_is_a_private_text_file(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot
) -> None:
    async with start_bot(settings):
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "transcript")
    assert result.ephemeral
    (attachment,) = result.attachments
    assert attachment["filename"] == f"{SEED}-transcript.txt"
    text = attachment["content"].decode("utf-8")
    transcript = load_lessons(PROMPTS)[SEED].transcript or ""
    assert text.startswith(f"{SEED_TITLE}\n\nToday, Russia’s president Vladimir Putin")
    assert transcript.strip() in text


async def test_unknown_lesson_gets_suggestions_not_a_traceback(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_bot(settings):
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson",
            options={"lesson": "stalin crimes"})
        nothing = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "transcript",
            options={"lesson": "photosynthesis"})
    assert result.ephemeral
    assert result.content == (
        f"There is no lesson called “stalin crimes”. Did you mean: “{SEED_TITLE}” (`{SEED}`)?")
    assert nothing.content == ("There is no lesson called “photosynthesis”. Start typing and "
                               "pick a lesson from the list.")
    assert_no_traceback(caplog)


async def test_a_channel_outside_any_course_names_the_class_channel(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_bot(settings):
        results = [
            await emulator.invoke_command(
                school.guild_id, school.other_channel_id, school.student_id, name)
            for name in ("lesson", "resources", "transcript")
        ]
    for result in results:
        assert result.ephemeral
        assert result.content == (
            "This channel is not part of a course. Ask me in your class channel: "
            f"<#{school.class_channel_id}> (History 101).")
    assert_no_traceback(caplog)


async def test_a_lesson_without_a_transcript_says_so(
    emulator: DiscordEmulator, school: School, start_bot: StartBot, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    text = (PROMPTS / f"{SEED}.yaml").read_text(encoding="utf-8")
    text = text[: text.index("transcript:")]
    (folder / "no-transcript.yaml").write_text(text, encoding="utf-8")
    settings = make_settings(emulator, school, tmp_path)
    settings = settings.model_copy(update={"lessons": settings.lessons.model_copy(
        update={"folder": folder})})
    async with start_bot(settings):
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "transcript")
    assert result.ephemeral
    assert result.content == f"“{SEED_TITLE}” has no transcript. Try /lesson or /resources."


CALLBACK = r"/interactions/\d+/[^/]+/callback"


async def test_a_discord_5xx_on_the_answer_is_retried_and_the_student_gets_it(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_bot(settings):
        for status in (503, 500):
            emulator.inject(method="POST", path_regex=CALLBACK, status=status, times=1)
            result = await emulator.invoke_command(
                school.guild_id, school.class_channel_id, school.student_id, "lesson")
            assert result.ephemeral
            assert result.embeds[0]["title"] == SEED_TITLE
        after = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "resources")
    assert after.embeds[0]["title"] == f"Readings: {SEED_TITLE}"
    statuses = [c.status for c in emulator.calls if re.search(CALLBACK, c.path)]
    assert statuses == [503, 200, 500, 200, 200]
    assert_no_traceback(caplog)


async def test_an_unexpected_failure_is_logged_with_context_and_the_student_gets_an_apology(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_bot(settings):
        emulator.inject(method="POST", path_regex=CALLBACK, status=400, times=1,
                        json={"code": 50035, "message": "Invalid Form Body"})
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
        after = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
    assert result.ephemeral
    assert result.content.startswith("Sorry, something went wrong on my side.")
    assert after.embeds[0]["title"] == SEED_TITLE
    (record,) = [r for r in caplog.records if r.name == "bot.client.errors" and r.exc_info]
    assert record.getMessage() == (
        f"Command /lesson (guild {school.guild_id}, channel {school.class_channel_id}, "
        f"user {school.student_id}) failed")
    assert "Invalid Form Body" in caplog.text
    assert emulator.token not in caplog.text


async def test_a_refused_answer_names_the_missing_permission(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    embed_links = 1 << 14
    async with start_bot(settings):
        emulator.set_bot_permissions(school.guild_id, school.class_channel_id, deny=embed_links)
        emulator.inject(method="POST", path_regex=CALLBACK, status=403, times=1,
                        json={"code": 50013, "message": "Missing Permissions"})
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
    assert result.ephemeral
    assert result.content == (
        "I can't do that here: I need the 'Embed Links' permission(s) in this channel. "
        "Please ask a server admin to give them to me.")
    assert_no_traceback(caplog)


async def test_commands_work_in_a_thread_of_the_class_channel(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot
) -> None:
    async with start_bot(settings):
        thread = await emulator.user_create_thread(
            school.class_channel_id, school.student_id, "Q1: Why is Putin...")
        result = await emulator.invoke_command(
            school.guild_id, int(thread["id"]), school.student_id, "resources")
    assert result.embeds[0]["title"] == f"Readings: {SEED_TITLE}"


def two_lesson_folder(tmp_path: Path) -> Path:
    """The seed lesson and a newer one, 'The Cold War Begins'."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    seed = (PROMPTS / f"{SEED}.yaml").read_text(encoding="utf-8")
    (folder / f"{SEED}.yaml").write_text(seed, encoding="utf-8")
    (folder / "cold-war.yaml").write_text(
        "title: The Cold War Begins\npublished: '2021-09-01'\nsummary: Two powers.\n"
        "questions: ['Who started it?']\n", encoding="utf-8")
    return folder


async def test_the_current_lesson_is_the_latest_posted_then_scheduled_then_newest(
    emulator: DiscordEmulator, school: School, start_bot: StartBot, tmp_path: Path
) -> None:
    folder = two_lesson_folder(tmp_path)

    def with_folder(**course: Any) -> Settings:
        settings = make_settings(emulator, school, tmp_path, **course)
        return settings.model_copy(update={"lessons": settings.lessons.model_copy(
            update={"folder": folder})})

    async def current_title() -> str:
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
        return str(result.embeds[0]["title"])

    # No calendar, nothing posted: the newest lesson.
    async with start_bot(with_folder()):
        assert await current_title() == "The Cold War Begins"

    # The calendar posted the seed lesson last week (the newer lesson comes next year).
    calendar = {"entries": [{"lesson": SEED, "post_at": "2025-01-06 09:00"},
                            {"lesson": "cold-war", "post_at": "2099-01-06 09:00"}]}
    async with start_bot(with_folder(calendar=calendar)) as bot:
        assert await current_title() == SEED_TITLE
        # A lesson the bot actually posted wins over the calendar.
        assert bot.repository is not None
        post_id = await bot.repository.posts.claim(
            "history-101", "cold-war", discord_now(), None, "test")
        assert post_id is not None
        await bot.repository.posts.mark(post_id, "posted")
        assert await current_title() == "The Cold War Begins"


def discord_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_a_4000_word_summary_arrives_whole_in_several_messages(
    emulator: DiscordEmulator, school: School, start_bot: StartBot, tmp_path: Path
) -> None:
    sentence = "The Great Terror reached every town and village of the Soviet Union. "
    summary = "\n\n".join(sentence * 8 for _ in range(50))  # 4,400 words
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "long.yaml").write_text(yaml.safe_dump({
        "title": "A Very Long Lesson", "published": "2021-08-10", "summary": summary,
        "questions": ["Is it too long?"],
        "resources": [{"title": "More", "url": "https://example.org/more"}],
    }), encoding="utf-8")
    settings = make_settings(emulator, school, tmp_path)
    settings = settings.model_copy(update={"lessons": settings.lessons.model_copy(
        update={"folder": folder})})
    async with start_bot(settings) as bot:
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
        expected = len(render.overview_messages(bot.lessons["long"]))
        await result.wait_for(lambda r: len(r.messages()) == expected)
    messages = result.messages()
    assert expected > 1
    assert all(m.ephemeral for m in messages)
    assert messages[0].embeds[0]["title"] == "A Very Long Lesson"
    text = " ".join(e.get("description", "") for m in messages for e in m.embeds)
    assert " ".join(summary.split()) in " ".join(text.split())
    assert "1. Is it too long?" in text
    # The reading's button comes once, under the last part.
    assert [len(m.buttons()) for m in messages] == [0] * (len(messages) - 1) + [1]


async def test_mentioning_the_bot_is_not_a_command(
    emulator: DiscordEmulator, school: School, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_bot(settings):
        await emulator.user_message(school.class_channel_id, school.student_id,
                                    f"<@{emulator.bot_user_id}> help me")
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
    assert result.embeds[0]["title"] == SEED_TITLE
    assert emulator.messages(school.class_channel_id)[-1]["content"].endswith("help me")
    assert_no_traceback(caplog)


async def test_a_title_written_as_a_link_stays_text_in_resources_and_suggestions(
    emulator: DiscordEmulator, school: School, start_bot: StartBot, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "tricky.yaml").write_text(yaml.safe_dump({
        "title": "Click [here](https://evil.example) now", "published": "2021-08-10",
        "summary": "A lesson.", "questions": ["Why?"],
        "resources": [
            {"title": "Part one](https://evil.example/x) or [two", "author": "**Bold** @everyone",
             "url": "https://example.org/a_(b)"},
        ],
    }), encoding="utf-8")
    settings = make_settings(emulator, school, tmp_path)
    settings = settings.model_copy(update={"lessons": settings.lessons.model_copy(
        update={"folder": folder})})
    async with start_bot(settings):
        readings = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "resources")
        unknown = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson",
            options={"lesson": "trickey"})
    (embed,) = readings.embeds
    # One link, to the reading's own address; the title's brackets are shown as typed.
    assert embed["description"] == (
        "1. Read [“Part one\\](https://evil.example/x) or \\[two”](https://example.org/a_%28b%29)"
        ", by \\*\\*Bold\\*\\* @\u200beveryone")
    assert re.findall(r"(?<!\\)\]\(([^)]*)\)", embed["description"]) == [
        "https://example.org/a_%28b%29"]
    assert link_buttons(readings) == [
        ("Read: Part one](https://evil.example/x) or [two", "https://example.org/a_(b)")]
    assert unknown.content == (
        "There is no lesson called “trickey”. Did you mean: “Click \\[here\\]"
        "(https://evil.example) now” (`tricky`)?")
