"""The bot application's plain parts: the token never reaches a log, endpoints, sync hashes."""

from __future__ import annotations

import logging

import discord

from bot.client.logs import RedactToken
from bot.client.run import configure_endpoints
from bot.client.sync import command_set_hash
from bot.core.config import parse_settings
from tests.databases import TestDatabase

TOKEN = "MTIz.secret-token.abc"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("bot", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_token_is_redacted_from_messages_arguments_and_tracebacks() -> None:
    redact = RedactToken(TOKEN)
    formatter = logging.Formatter("%(message)s")

    record = _record("connecting with %s", TOKEN)
    assert redact.filter(record)
    assert formatter.format(record) == "connecting with [token]"

    try:
        raise RuntimeError(f"bad header Bot {TOKEN}")
    except RuntimeError as exc:
        record = _record("failed", exc=exc)
    redact.filter(record)
    text = formatter.format(record)
    assert TOKEN not in text
    assert "RuntimeError: bad header Bot [token]" in text


def test_records_without_the_token_are_untouched() -> None:
    record = _record("synced %d commands", 3)
    assert RedactToken(TOKEN).filter(record)
    assert record.getMessage() == "synced 3 commands"


def test_endpoints_follow_the_config() -> None:
    settings = parse_settings({"discord": {"api_base": "http://127.0.0.1:9/api/v10",
                                           "gateway_url": "ws://127.0.0.1:9"}})
    try:
        configure_endpoints(settings)
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        assert str(gateway.with_query(v=10)) == "ws://127.0.0.1:9/?v=10"
    finally:
        configure_endpoints(parse_settings({}))
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


def test_the_command_hash_ignores_order_but_not_content() -> None:
    a = {"name": "lesson", "description": "Show a lesson"}
    b = {"name": "resources", "description": "Readings"}
    assert command_set_hash([a, b]) == command_set_hash([b, a])
    assert command_set_hash([a, b]) != command_set_hash([a, {**b, "description": "Links"}])


async def test_command_hashes_persist_in_the_database(database: TestDatabase) -> None:
    assert await database.repo.state.get("commands:1:2") is None
    await database.repo.state.set("commands:1:2", "abc")
    await database.repo.state.set("commands:1:2", "def")
    # A later start (another engine, as another process would have) sees the newest hash.
    assert await database.new_repository().state.get("commands:1:2") == "def"


