"""Pointing the discord.py client at the emulator (the only module here that imports discord).

discord.py reads two class attributes: ``discord.http.Route.BASE`` for every REST call
(interaction callbacks and followups included) and ``DiscordWebSocket.DEFAULT_GATEWAY`` for
the first IDENTIFY and for every re-IDENTIFY after an invalid session. A sharded client asks
``GET /gateway/bot`` (under Route.BASE) for the URL instead, and RESUMEs go to READY's
``resume_gateway_url``; the emulator answers both with its own address.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, TypeVar


class _HasUrls(Protocol):
    @property
    def api_base(self) -> str: ...

    @property
    def gateway_url(self) -> str: ...


class _HasUrlsAndToken(_HasUrls, Protocol):
    @property
    def token(self) -> str: ...


class _Startable(Protocol):
    async def start(self, token: str) -> Any: ...

    async def wait_until_ready(self) -> Any: ...

    async def close(self) -> Any: ...


_Client = TypeVar("_Client", bound=_Startable)


@contextlib.contextmanager
def restore_discord_py_urls() -> Iterator[None]:
    """Undo, on exit, whatever changes were made to discord.py's REST base and gateway URL."""
    import discord.gateway
    import discord.http

    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@contextlib.contextmanager
def discord_py_pointed_at(emulator: _HasUrls) -> Iterator[None]:
    """Send every discord.py client in this process to the emulator for the block's duration."""
    import discord.gateway
    import discord.http
    import yarl

    with restore_discord_py_urls():
        discord.http.Route.BASE = emulator.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
        yield


@contextlib.asynccontextmanager
async def running_client(client: _Client, emulator: _HasUrlsAndToken, *,
                         timeout: float = 15.0) -> AsyncIterator[_Client]:
    """Start a discord.py client against the emulator, yield it once ready, close it after.

    For tests of the emulator itself and of code that takes a plain client; the Seminar bot
    has its own start path (config `discord.api_base` / `discord.gateway_url`).
    """
    with discord_py_pointed_at(emulator):
        task = asyncio.create_task(client.start(emulator.token))
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            await client.close()
            if task in done:
                error = task.exception()
                if error is not None:
                    raise error
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            raise RuntimeError("the client did not get ready against the emulator")
        try:
            yield client
        finally:
            await client.close()
            await asyncio.wait_for(task, timeout)
