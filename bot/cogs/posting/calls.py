"""One Discord call of a post: retried when a retry can fix it, else a sentence for the teacher.

A 403 names the permission the step needs that the bot lacks; a 404 says what is gone; a
5xx, a 429 discord.py gave up on, or no answer at all is tried again after a pause, and
after the last try the teacher is told Discord is in trouble.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import discord

from bot.client.permissions import missing_in
from bot.core import posting_rules

log = logging.getLogger(__name__)

T = TypeVar("T")
ClassChannel = discord.TextChannel | discord.ForumChannel
Place = discord.abc.GuildChannel | discord.Thread

# Permissions each step needs (discord.py's names), to say which one is missing on a 403.
SEND = ("view_channel", "send_messages", "embed_links")
OPEN_THREAD = ("create_public_threads", "read_message_history")
OPEN_PRIVATE_THREAD = ("create_private_threads", "manage_threads")
SEND_IN_THREAD = ("send_messages_in_threads", "embed_links")
READ_HISTORY = ("read_message_history",)

# Waits between tries when Discord fails (5xx, 429 that discord.py gave up on, no answer).
RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0, 9.0)


class PostRefused(Exception):
    """Discord (or the config) refused a post; ``reason`` is a sentence for the teacher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def where(place: Place) -> str:
    """A channel or a thread as a teacher would name it."""
    if isinstance(place, discord.Thread):
        return f"the thread “{place.name}”"
    return f"#{place.name}"


def sender(target: discord.abc.Messageable, nonce: str,
           kwargs: dict[str, Any]) -> Callable[[int], Awaitable[discord.Message]]:
    """A step that sends one message with its nonce (a retry sends the very same one)."""

    async def send(_attempt: int) -> discord.Message:
        return await target.send(nonce=nonce, **kwargs)

    return send


async def call(step: Callable[[int], Awaitable[T]], place: Place | None,
               needs: tuple[str, ...], slug: str,
               retry_delays: tuple[float, ...] = RETRY_DELAYS) -> T:
    """Run one Discord call, retrying what a retry can fix; :class:`PostRefused` if not.

    ``step`` gets the attempt number (0 first), so a step that cannot carry a nonce can
    look for what a lost answer may already have created before trying again.
    """
    shown = where(place) if place is not None else "the class channel"
    status: int | None = None
    attempts = len(retry_delays) + 1
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(retry_delays[attempt - 1])
        try:
            return await step(attempt)
        except discord.Forbidden as exc:
            missing = missing_in(place, needs) if place is not None else []
            raise PostRefused(posting_rules.permission_sentence(shown, missing, slug,
                                                                exc.text or None)) from exc
        except discord.NotFound as exc:
            raise PostRefused(f"Discord says {shown} does not exist ({exc.text}). "
                              f"{posting_rules.retry_hint(slug)}") from exc
        except discord.HTTPException as exc:
            if exc.status != 429 and exc.status < 500:
                raise PostRefused(f"Discord rejected what I sent to {shown} ({exc.status}: "
                                  f"{exc.text}). {posting_rules.retry_hint(slug)}") from exc
            status = exc.status
            log.warning("Discord answered %s in %s (try %s of %s).", exc.status, shown,
                        attempt + 1, attempts)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            status = None
            log.warning("No answer from Discord in %s (%r; try %s of %s).", shown, exc,
                        attempt + 1, attempts)
    raise PostRefused(posting_rules.server_trouble_sentence(status, attempts, slug))
