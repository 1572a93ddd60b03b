"""Records of what happened over HTTP (calls, uploads) and the faults a test plans."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .errors import ApiError


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON answer whose Content-Type is exactly application/json, as discord.py expects."""
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json"})


def api_error_response(error: ApiError) -> web.Response:
    """Turn an ApiError into Discord's JSON error response."""
    return json_response(error.body(), error.status)


@dataclass
class Upload:
    """A file uploaded in a multipart request (``files[n]``)."""

    index: int
    filename: str
    content: bytes
    content_type: str | None


@dataclass
class Call:
    """One REST request the bot made, and what the emulator answered."""

    method: str
    path: str  # relative to the API base, e.g. "/channels/1/messages"
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 0
    injected: bool = False


@dataclass
class Injection:
    """A planned fault: the next `times` matching requests get `status` instead."""

    method: str | None
    pattern: re.Pattern[str]
    status: int
    times: int | None
    retry_after: float
    body: Any
    perform: bool
    is_global: bool
    after: int = 0  # this many matching requests pass untouched first
    hits: int = 0
    passed: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (and still has uses left)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.pattern.search(path) is None:
            return False
        if self.passed < self.after:
            self.passed += 1
            return False
        return True

    def response(self) -> web.Response:
        """Build the faulty answer, with the headers discord.py relies on."""
        headers: dict[str, str] = {}
        body = self.body
        if self.status == 429:
            headers.update({
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(self.retry_after))),
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            })
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            if body is None:
                body = {"message": "You are being rate limited.",
                        "retry_after": self.retry_after, "global": self.is_global}
        elif body is None:
            body = _default_error_body(self.status)
        response = json_response(body, self.status)
        response.headers.update(headers)
        return response


def _default_error_body(status: int) -> dict[str, Any]:
    if status == 403:
        return {"message": "Missing Permissions", "code": 50013}
    if status == 404:
        return {"message": "404: Not Found", "code": 0}
    if status == 401:
        return {"message": "401: Unauthorized", "code": 0}
    if status == 400:
        return {"message": "Bad Request", "code": 0}
    return {"message": f"{status}: Server Error", "code": 0}
