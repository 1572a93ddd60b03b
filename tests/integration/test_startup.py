"""Starting and stopping the bot: `seminar run` in its own process, bad tokens, missing intents."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from bot.client.run import open_bot, serve, sync_now
from bot.core.config import Settings
from tests.emulator import DiscordEmulator
from tests.integration.conftest import PROMPTS, School, StartBot

REPO = Path(__file__).resolve().parents[2]


def write_config(emulator: DiscordEmulator, school: School, tmp_path: Path) -> Path:
    config = {
        "discord": {"api_base": emulator.api_base, "gateway_url": emulator.gateway_url,
                    "token_env": "SEMINAR_TEST_TOKEN"},
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'seminar.db'}"},
        "lessons": {"folder": str(PROMPTS)},
        "courses": {"history-101": {"name": "History 101", "guild_id": school.guild_id,
                                    "channel_id": school.class_channel_id}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_seminar_run_answers_and_stops_cleanly_on_sigterm(
    emulator: DiscordEmulator, school: School, tmp_path: Path
) -> None:
    config = write_config(emulator, school, tmp_path)
    env = {**os.environ, "SEMINAR_TEST_TOKEN": emulator.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await emulator.wait_until_connected(timeout=30)
        await emulator.wait_for(lambda: any(c["name"] == "lesson" for c in emulator.commands(
            school.guild_id)))
        result = await emulator.invoke_command(
            school.guild_id, school.class_channel_id, school.student_id, "lesson")
        assert result.embeds[0]["title"] == "Stalin’s Crimes and Russia’s Future"
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode("utf-8", "replace")
    assert process.returncode == 0, log
    assert "Received SIGTERM: shutting down." in log
    assert "Traceback" not in log
    assert emulator.token not in log
    assert (tmp_path / "seminar.db").exists()


async def test_a_rejected_token_says_where_to_get_a_new_one(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_bot(settings) as bot:
        code = await asyncio.wait_for(serve(bot, "not-the-token"), timeout=30)
    assert code == 1
    assert "Discord rejected the bot token in the environment variable DISCORD_TOKEN" in (
        caplog.text)
    assert "Reset Token" in caplog.text
    assert "Traceback" not in caplog.text


async def test_missing_privileged_intents_say_which_switches_to_turn_on(
    emulator: DiscordEmulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.privileged_intents = 0
    async with open_bot(settings) as bot:
        code = await asyncio.wait_for(serve(bot, emulator.token), timeout=30)
    assert code == 1
    assert "switch on 'Server Members Intent' and 'Message Content Intent'" in caplog.text
    assert "Traceback" not in caplog.text


async def test_seminar_sync_pushes_the_commands_every_time(
    emulator: DiscordEmulator, school: School, settings: Settings
) -> None:
    assert await sync_now(settings, emulator.token) == 0
    assert await sync_now(settings, emulator.token) == 0
    puts = [c for c in emulator.calls
            if c.method == "PUT" and c.path.endswith(f"/guilds/{school.guild_id}/commands")]
    assert len(puts) == 2
    assert {c["name"] for c in emulator.commands(school.guild_id)} >= {
        "lesson", "resources", "transcript", "schedule"}
    # seminar sync never connects to the gateway.
    assert emulator.identify_count == 0


async def test_discord_in_trouble_at_login_is_a_sentence_and_run_tries_again(
    emulator: DiscordEmulator, settings: Settings, start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Discord's servers answer 503 to the login: `seminar sync` says so and stops...
    emulator.inject("GET", r"^/users/@me$", status=503, times=1)
    assert await sync_now(settings, emulator.token) == 1
    trouble = (f"Discord answered 503 at {emulator.api_base}: its servers are having trouble "
               "(see https://discordstatus.com).")
    assert trouble in caplog.text
    # ...and `seminar run` tries again a moment later, and gets in.
    emulator.inject("GET", r"^/users/@me$", status=503, times=1)
    async with start_bot(settings) as bot:
        assert bot.is_ready()
    assert f"{trouble} Trying again in 1 s." in caplog.text
    assert "Traceback" not in caplog.text
