"""Logging: the token redacted from every record, network failures as one line each."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import discord


class RedactToken(logging.Filter):
    """Replaces the bot token wherever it would appear in a log record, tracebacks included."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def _redact(self, text: str) -> str:
        return text.replace(self.token, "[token]")

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = self._redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


#: Failures that mean "Discord could not be reached", not a bug to show a traceback for.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    OSError, aiohttp.ClientError, asyncio.TimeoutError, discord.GatewayNotFound)
#: ...and failures that mean Discord itself is in trouble for now (a 5xx at login).
LOGIN_TROUBLE: tuple[type[Exception], ...] = (*NETWORK_ERRORS, discord.DiscordServerError)
CANNOT_REACH = (
    "Cannot reach Discord at {address}: {reason}. Check this machine's network connection "
    "and DNS{config}."
)


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words a teacher or an operator can act on."""
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, socket.gaierror):
        return "its name could not be looked up (DNS)"
    if isinstance(cause, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, asyncio.TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, discord.GatewayNotFound):
        return "it did not say where its gateway is"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


def cannot_reach(address: str, exc: BaseException, *, configured: bool) -> str:
    """The sentence for a failed connection to ``address``."""
    config = (", and discord.api_base and discord.gateway_url in the config" if configured
              else "")
    return CANNOT_REACH.format(address=address, reason=network_reason(exc), config=config)


class NetworkTrouble(logging.Filter):
    """discord.py's reconnect messages as one line with the reason, not a traceback.

    While the bot runs, discord.py reconnects by itself after a network failure, logging
    "Attempting a reconnect in N s" with the whole traceback of the failure each time.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("discord.") or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if exc is None or not isinstance(exc, NETWORK_ERRORS):
            return True
        record.msg = f"Lost the connection to Discord ({network_reason(exc)}). {record.msg}"
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: str, token: str) -> None:
    """Log to stderr at ``level``, with the token redacted from every record."""
    discord.utils.setup_logging(level=logging.getLevelNamesMapping()[level], root=True)
    redact = RedactToken(token)
    trouble = NetworkTrouble()
    for handler in logging.getLogger().handlers:
        handler.addFilter(trouble)
        handler.addFilter(redact)

