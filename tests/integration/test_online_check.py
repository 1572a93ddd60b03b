"""The online check against the emulator: a server set up right passes; a missing channel, a
deleted role, a missing permission and an intent switched off are each named, with the fix;
``seminar schedule`` and ``/schedule list`` show the verdict for the next lesson."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.cli import main
from bot.core.config import load_settings
from tests.emulator import DiscordEmulator
from tests.emulator.model import EMBED_LINKS, INTENT_MESSAGE_CONTENT, PRIVILEGED_INTENTS
from tests.integration.classroom import Classroom, build_classroom
from tests.integration.conftest import COURSE, SEED, StartBot

ZONE = ZoneInfo("America/New_York")


@pytest.fixture
def room(emulator: DiscordEmulator) -> Classroom:
    return build_classroom(emulator, {"alice": None, "bob": None})


def write_config(emulator: DiscordEmulator, room: Classroom, tmp_path: Path) -> Path:
    teachers = emulator.add_text_channel(room.guild_id, name="teachers")
    next_week = (dt.datetime.now(ZONE) + dt.timedelta(days=7)).strftime("%Y-%m-%d 09:00")
    data = room.course_config(emulator, tmp_path, teacher_channel_id=int(teachers.id),
                              calendar={"entries": [{"lesson": SEED, "post_at": next_week}]})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def run(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_a_server_set_up_right_passes_and_the_schedule_says_so(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", emulator.token)
    config = write_config(emulator, room, tmp_path)
    assert await run("check", "--online", "--config", str(config)) == 0
    assert "Online: every course's server is set up (1 course(s))" in capsys.readouterr().out
    assert await run("schedule", "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "Next lesson: ready to post: the server was checked" in out


async def test_a_missing_channel_a_deleted_role_a_missing_permission_and_an_intent_are_named(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", emulator.token)
    config = write_config(emulator, room, tmp_path)
    course = load_settings(config).courses[COURSE]
    assert course.teacher_channel_id is not None and course.student_role_id is not None
    emulator.delete_channel(emulator.state.channel(course.teacher_channel_id))
    emulator.delete_role(room.guild_id, course.student_role_id)
    emulator.set_bot_permissions(room.guild_id, room.channel_id, deny=EMBED_LINKS)
    emulator.privileged_intents = PRIVILEGED_INTENTS & ~INTENT_MESSAGE_CONTENT

    assert await run("check", "--online", "--config", str(config)) == 1
    err = capsys.readouterr().err
    assert err.startswith("Online: 4 problem(s) to fix in Discord:")
    assert "Message Content Intent is off" in err and "Privileged Gateway Intents" in err
    assert (f"the teachers' channel (teacher_channel_id: {course.teacher_channel_id}) is not "
            "a channel of Lincoln High") in err
    assert f"the role student_role_id: {course.student_role_id} is not a role" in err
    assert "in #history-101 in Lincoln High the bot lacks 'Embed Links'" in err
    assert "Edit Channel → Permissions" in err
    # The schedule shows the verdict for the next lesson, offline.
    assert await run("schedule", "--config", str(config)) == 0
    assert "Next lesson: would fail as configured" in capsys.readouterr().out

    # The running bot checks at start and /schedule list shows the same verdict.
    emulator.privileged_intents = PRIVILEGED_INTENTS
    emulator.allow_command(room.guild_id, "schedule", role_id=room.teacher_role_id)
    async with start_bot(load_settings(config)):
        listed = await emulator.invoke_command(room.guild_id, room.channel_id, room.teacher_id,
                                               "schedule", subcommand="list")
    text = listed.final().content
    assert "Next lesson: would fail as configured" in text and "Embed Links" in text
