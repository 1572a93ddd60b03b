"""Discord's rate limits in the emulator, and what the bot's catch-up costs under them.

The limits are Discord's documented ones (tests/emulator/ratelimit.py): per-route buckets
with ``X-RateLimit-*`` headers and ``429`` with ``retry_after``, a global limit of 50
requests a second, and the invalid-request limit. The emulator's clock is frozen where a
test counts requests, so that no test depends on how fast the machine is.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.emulator import DiscordEmulator
from tests.integration.conftest import School


def frozen(emulator: DiscordEmulator) -> None:
    emulator.rate_limits.enabled = True
    emulator.rate_limits.clock = lambda: 1000.0


async def call(emulator: DiscordEmulator, session: aiohttp.ClientSession, method: str,
               path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    async with session.request(method, emulator.api_base + path, json=body, headers={
            "Authorization": f"Bot {emulator.token}"}) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def test_a_route_bucket_answers_429_with_its_headers_once_spent(
    emulator: DiscordEmulator, school: School,
) -> None:
    frozen(emulator)
    async with aiohttp.ClientSession() as session:
        answers = [await call(emulator, session, "POST",
                              f"/channels/{school.class_channel_id}/messages",
                              {"content": f"message {i}"}) for i in range(6)]
        other = await call(emulator, session, "POST",
                           f"/channels/{school.other_channel_id}/messages", {"content": "hi"})
    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert [h["X-RateLimit-Remaining"] for _, h, _ in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(h["X-RateLimit-Limit"] == "5" and float(h["X-RateLimit-Reset-After"]) > 0
               and h["X-RateLimit-Bucket"] for _, h, _ in answers)
    _, headers, body = answers[-1]
    assert body["global"] is False and body["retry_after"] > 0
    assert headers["X-RateLimit-Scope"] == "user" and int(headers["Retry-After"]) >= 1
    # The refused message was not sent; another channel has its own bucket.
    assert len(emulator.messages(school.class_channel_id)) == 5
    assert other[0] == 200


async def test_the_global_limit_counts_every_route_but_interactions(
    emulator: DiscordEmulator, school: School,
) -> None:
    frozen(emulator)
    channels = [school.class_channel_id, school.other_channel_id]
    channels += [int(emulator.add_text_channel(school.guild_id, name=f"c{i}").id)
                 for i in range(5)]
    async with aiohttp.ClientSession() as session:
        statuses = []
        for index in range(51):
            status, headers, body = await call(emulator, session, "GET",
                                               f"/channels/{channels[index % 7]}")
            statuses.append(status)
    assert statuses[:50] == [200] * 50
    assert statuses[50] == 429 and body["global"] is True
    assert headers["X-RateLimit-Scope"] == "global"


async def test_too_many_invalid_requests_lock_the_bot_out(
    emulator: DiscordEmulator, school: School,
) -> None:
    frozen(emulator)
    emulator.rate_limits.invalid_limit = 3
    async with aiohttp.ClientSession() as session:
        refused = []
        for _ in range(3):
            async with session.get(emulator.api_base + "/users/@me",
                                   headers={"Authorization": "Bot wrong"}) as response:
                refused.append(response.status)
        status, _, body = await call(emulator, session, "GET", "/users/@me")
    assert refused == [401, 401, 401]
    # Three invalid requests: even a valid one is refused until the window has passed.
    assert status == 429 and body["global"] is True
