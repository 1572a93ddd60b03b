"""Fixtures that run the real bot against the Discord emulator, through ``seminar run``'s path.

``emulator`` comes from tests/conftest.py. ``school``: an emulated server with a class
channel, an off-topic channel and a student.
``start_bot``: starts the bot with :func:`bot.client.run.open_bot` and
:func:`bot.client.run.serve` (what ``seminar run`` does, minus signal handlers) and stops it
cleanly at the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.client.bot import SeminarBot
from bot.client.run import open_bot, serve
from bot.core.config import Settings, parse_settings
from tests.emulator import DiscordEmulator
from tests.emulator.model import WAIT_TIMEOUT

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
SEED = "stalins-crimes-and-russias-future"
COURSE = "history-101"


@dataclass
class School:
    """The emulated server and who is in it."""

    guild_id: int
    class_channel_id: int
    other_channel_id: int
    student_id: int


@pytest.fixture
def school(emulator: DiscordEmulator) -> School:
    guild = emulator.add_guild(name="Lincoln High")
    class_channel = emulator.add_text_channel(guild.id, name="history-101")
    other = emulator.add_text_channel(guild.id, name="off-topic")
    student = emulator.add_member(guild.id, username="alice")
    return School(guild.id, _id(class_channel), _id(other), _id(student))


def _id(obj: Any) -> int:
    return int(obj["id"] if isinstance(obj, dict) else obj.id)


def course_config(emulator: DiscordEmulator, tmp_path: Path, **course: Any) -> dict[str, Any]:
    """A config (as YAML data) for one course in the emulated server, SQLite in ``tmp_path``.

    ``course`` holds the course's settings (guild_id and channel_id at least).

    Lessons: ``tmp_path/prompts`` when a test wrote lessons there, else the shipped ones.
    """
    folder = tmp_path / "prompts"
    return {
        "discord": {"api_base": emulator.api_base, "gateway_url": emulator.gateway_url},
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'seminar.db'}"},
        "lessons": {"folder": str(folder if folder.exists() else PROMPTS)},
        "log_level": "DEBUG",
        "courses": {COURSE: {
            "name": "History 101",
            "timezone": "America/New_York",
            **course,
        }},
    }


def make_settings(
    emulator: DiscordEmulator, school: School, tmp_path: Path, **course: Any
) -> Settings:
    """Settings for one course in the emulated server, with a SQLite file in ``tmp_path``."""
    return parse_settings(course_config(
        emulator, tmp_path,
        **{"guild_id": school.guild_id, "channel_id": school.class_channel_id, **course}))


@pytest.fixture
def settings(emulator: DiscordEmulator, school: School, tmp_path: Path) -> Settings:
    return make_settings(emulator, school, tmp_path)


StartBot = Callable[..., contextlib.AbstractAsyncContextManager[SeminarBot]]


@pytest.fixture
def start_bot(emulator: DiscordEmulator) -> StartBot:
    """``async with start_bot(settings, sync=False) as bot``: a connected, ready bot."""

    @contextlib.asynccontextmanager
    async def running(
        settings: Settings, *, sync: bool = False, token: str | None = None
    ) -> AsyncIterator[SeminarBot]:
        token = emulator.token if token is None else token
        # Discord waits 2 s for more guilds before READY; the emulator sends them all at once.
        async with open_bot(settings, sync=sync, guild_ready_timeout=0.1) as bot:
            task = asyncio.create_task(serve(bot, token))
            ready = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait({task, ready}, timeout=WAIT_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                exit_code = await task if task in done else None
                task.cancel()
                raise AssertionError(f"the bot did not get ready (exit code {exit_code})")
            await emulator.wait_until_connected()
            try:
                yield bot
            finally:
                await asyncio.wait_for(bot.close(), timeout=WAIT_TIMEOUT)
                assert await asyncio.wait_for(task, timeout=WAIT_TIMEOUT) == 0

    return running


T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T]], seconds: float = WAIT_TIMEOUT) -> T:
    """Poll an async check (a database query) until it gives something truthy; that value.

    The bot writes in its own time (in batches): the bound is generous so that a busy
    machine makes a test slower, never failed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not (value := await check()):
        if loop.time() > deadline:
            raise AssertionError(f"{check.__name__} did not hold within {seconds} s")
        await asyncio.sleep(0.02)
    return value
