"""Driving an emulator from outside its process: a world spec, /_emu/ endpoints, a launcher.

Benchmarks start ``python -m tests.emulator`` in a subprocess (see EmulatorProcess) so that
the emulator's work does not count against the bot being measured, then act as users
through plain HTTP: ``POST /_emu/user_messages`` for a burst of student replies, and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import yaml
from aiohttp import web

from .errors import ApiError
from .model import GUILD_CATEGORY, GUILD_FORUM, GUILD_TEXT
from .records import json_response

if TYPE_CHECKING:
    from .interactions import InteractionResult, ResponseMessage
    from .server import DiscordEmulator

REPO_ROOT = Path(__file__).resolve().parents[2]
_KINDS = {"text": GUILD_TEXT, "forum": GUILD_FORUM, "category": GUILD_CATEGORY}


# ---- building a world from a spec -------------------------------------------------------------


def load_spec(path: Path) -> dict[str, Any]:
    """Read a world spec (YAML or JSON)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a world spec is a mapping with a 'guilds' list")
    return data


def apply_spec(emu: DiscordEmulator, spec: dict[str, Any]) -> dict[str, Any]:
    """Create the guilds, roles, channels and members a spec describes; return their ids.

    Spec: ``{"guilds": [{"name", "id"?, "roles": [{"name", "permissions"?, "id"?}],
    "channels": [{"name", "type": text|forum|category, "tags"?, "id"?, "topic"?}],
    "members": [{"username", "roles": [role names]?, "id"?}],
    "students": N, "student_role": "Student"?}]}``. ``students`` adds N members called
    student-0001... with the student role.
    """
    summary: dict[str, Any] = {"guilds": []}
    for guild_spec in spec.get("guilds") or []:
        guild = emu.add_guild(guild_spec.get("name", "School"), id=guild_spec.get("id"))
        roles: dict[str, int] = {}
        for role_spec in guild_spec.get("roles") or []:
            role = emu.add_role(guild.id, role_spec["name"],
                                permissions=int(role_spec.get("permissions", 0)),
                                id=role_spec.get("id"))
            roles[role.name] = role.id
        channels: dict[str, int] = {}
        for channel_spec in guild_spec.get("channels") or []:
            kind = _KINDS[channel_spec.get("type", "text")]
            if kind == GUILD_FORUM:
                channel = emu.add_forum_channel(guild.id, channel_spec["name"],
                                                tags=channel_spec.get("tags") or [],
                                                id=channel_spec.get("id"))
            elif kind == GUILD_CATEGORY:
                channel = emu.add_category(guild.id, channel_spec["name"],
                                           id=channel_spec.get("id"))
            else:
                channel = emu.add_text_channel(guild.id, channel_spec["name"],
                                               id=channel_spec.get("id"),
                                               topic=channel_spec.get("topic"))
            channels[channel.name] = channel.id
        members: dict[str, int] = {}
        for member_spec in guild_spec.get("members") or []:
            member = emu.add_member(guild.id, member_spec["username"], id=member_spec.get("id"),
                                    roles=[roles[r] for r in member_spec.get("roles") or []])
            members[member_spec["username"]] = member.user_id
        student_role = guild_spec.get("student_role")
        for n in range(int(guild_spec.get("students") or 0)):
            name = f"student-{n + 1:04d}"
            member = emu.add_member(guild.id, name,
                                    roles=[roles[student_role]] if student_role else [])
            members[name] = member.user_id
        summary["guilds"].append({"id": guild.id, "name": guild.name, "roles": roles,
                                  "channels": channels, "members": members})
    return summary


# ---- serialising results ---------------------------------------------------------------------


def _message_json(message: ResponseMessage) -> dict[str, Any]:
    return {"id": message.id, "content": message.content, "embeds": message.embeds,
            "components": message.components, "ephemeral": message.ephemeral,
            "attachments": [{"filename": a["filename"], "size": a["size"]}
                            for a in message.attachments]}


def result_json(result: InteractionResult) -> dict[str, Any]:
    """An InteractionResult as JSON (attachment bytes left out)."""
    final = result.final()
    return {
        "id": result.id,
        "type": result.type,
        "error": result.error,
        "ephemeral": result.ephemeral,
        "content": result.content,
        "embeds": result.embeds,
        "components": result.components,
        "choices": result.choices,
        "original": _message_json(result.original) if result.original else None,
        "followups": [_message_json(m) for m in result.followups],
        "final": _message_json(final) if final else None,
        "duplicate_callbacks": result.duplicate_callbacks,
    }


# ---- the /_emu/ endpoints --------------------------------------------------------------------


def info(emu: DiscordEmulator) -> dict[str, Any]:
    """Where the emulator listens and who the bot is."""
    return {"base_url": emu.base_url, "api_base": emu.api_base, "gateway_url": emu.gateway_url,
            "token": emu.token, "bot_user_id": emu.bot_user_id,
            "application_id": emu.application_id, "shard_count": emu.shard_count}


def install(emu: DiscordEmulator, stopping: asyncio.Event | None = None) -> None:
    """Add the /_emu/ control endpoints to an emulator (call before start())."""

    def wrap(handler: Any) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json() if request.can_read_body else {}
                return json_response(await handler(request, body or {}))
            except (LookupError, ValueError, TypeError) as error:
                return json_response({"error": str(error)}, 400)
            except ApiError as error:
                return json_response({"error": error.message, "code": error.code}, error.status)
            except TimeoutError as error:
                return json_response({"error": str(error) or "timed out"}, 504)
        return run

    async def get_info(request: web.Request, body: dict[str, Any]) -> Any:
        return info(emu)

    async def setup(request: web.Request, body: dict[str, Any]) -> Any:
        return apply_spec(emu, body)

    async def user_message(request: web.Request, body: dict[str, Any]) -> Any:
        created = body.get("created_at")
        return await emu.user_message(
            int(body["channel_id"]), int(body["author_id"]), body.get("content", ""),
            reply_to=body.get("reply_to"),
            created_at=datetime.fromisoformat(created) if created else None)

    async def user_messages(request: web.Request, body: dict[str, Any]) -> Any:
        channel = emu.state.channel(int(body["channel_id"]))
        authors = [int(a) for a in body.get("author_ids") or [body["author_id"]]]
        template = body.get("content", "message {i}")
        ids = []
        for i in range(int(body.get("count", 1))):
            author = emu.state.user(authors[i % len(authors)])
            message = emu.create_message(channel, author, {"content": template.format(i=i)}, [])
            ids.append(message["id"])
        await emu.gateway.flush()
        return {"ids": ids}

    async def invoke(request: web.Request, body: dict[str, Any]) -> Any:
        result = await emu.invoke_command(
            body.get("guild_id"), int(body["channel_id"]), int(body["user_id"]), body["name"],
            body.get("options"), body.get("subcommand"),
            timeout=float(body.get("timeout", 10)))
        return result_json(result)

    async def autocomplete(request: web.Request, body: dict[str, Any]) -> Any:
        choices = await emu.autocomplete(
            body.get("guild_id"), int(body["channel_id"]), int(body["user_id"]), body["name"],
            focused=body["focused"], value=body.get("value", ""), options=body.get("options"),
            subcommand=body.get("subcommand"), timeout=float(body.get("timeout", 10)))
        return {"choices": choices}

    async def click(request: web.Request, body: dict[str, Any]) -> Any:
        result = await emu.click_button(
            body.get("guild_id"), int(body["channel_id"]), int(body["user_id"]),
            int(body["message_id"]), body["custom_id"], timeout=float(body.get("timeout", 10)))
        return result_json(result)

    async def drop(request: web.Request, body: dict[str, Any]) -> Any:
        await emu.drop_gateway(bool(body.get("resumable", True)), hold=bool(body.get("hold")))
        return {"ok": True}

    async def release(request: web.Request, body: dict[str, Any]) -> Any:
        emu.release_gateway()
        return {"ok": True}

    async def rate_limits(request: web.Request, body: dict[str, Any]) -> Any:
        emu.rate_limits.enabled = bool(body.get("enabled", True))
        return {"enabled": emu.rate_limits.enabled, "limited": emu.rate_limits.limited}

    async def open_threads(request: web.Request, body: dict[str, Any]) -> Any:
        """Open threads under channels at once (a world's open lessons), without REST."""
        ids = {}
        for channel_id, names in body["threads"].items():
            ids[channel_id] = [int(emu.add_thread(int(channel_id), name).id) for name in names]
        await emu.gateway.flush()
        return ids

    async def inject(request: web.Request, body: dict[str, Any]) -> Any:
        emu.inject(body.get("method", "POST"), body.get("path_regex", ".*"),
                   int(body.get("status", 429)), times=body.get("times", 1),
                   retry_after=float(body.get("retry_after", 0.5)), json=body.get("json"),
                   perform=bool(body.get("perform")))
        return {"ok": True}

    async def clear(request: web.Request, body: dict[str, Any]) -> Any:
        emu.clear_injections()
        return {"ok": True}

    async def calls(request: web.Request, body: dict[str, Any]) -> Any:
        since = int(request.query.get("since", 0))
        return {"next": len(emu.calls), "calls": [
            {"method": c.method, "path": c.path, "query": c.query, "json": c.json,
             "status": c.status, "injected": c.injected} for c in emu.calls[since:]]}

    async def messages(request: web.Request, body: dict[str, Any]) -> Any:
        return emu.messages(int(request.match_info["channel_id"]))

    async def threads(request: web.Request, body: dict[str, Any]) -> Any:
        return emu.threads(int(request.match_info["channel_id"]))

    async def commands(request: web.Request, body: dict[str, Any]) -> Any:
        guild_id = request.query.get("guild_id")
        return emu.commands(int(guild_id) if guild_id else None)

    async def stats(request: web.Request, body: dict[str, Any]) -> Any:
        by_route: dict[str, int] = {}
        refused: dict[str, int] = {}  # answered 429
        for call in emu.calls:
            key = f"{call.method} {_route_shape(call.path)}"
            by_route[key] = by_route.get(key, 0) + 1
            if call.status == 429:
                refused[key] = refused.get(key, 0) + 1
        return {"calls": len(emu.calls), "calls_by_route": by_route,
                "refused_by_route": refused,
                "unknown_routes": [list(r) for r in emu.unknown_routes],
                "identify_count": emu.identify_count, "resume_count": emu.resume_count,
                "live_sessions": len(emu.gateway.live_sessions()),
                "rate_limited": emu.rate_limits.limited,
                "messages": sum(len(m) for m in emu.state.messages.values())}

    async def wait_connected(request: web.Request, body: dict[str, Any]) -> Any:
        await emu.wait_until_connected(float(body.get("timeout", 10)), body.get("shards"))
        return {"ok": True}

    async def shutdown(request: web.Request, body: dict[str, Any]) -> Any:
        if stopping is not None:
            stopping.set()
        return {"ok": True}

    def add(app: web.Application) -> None:
        r = app.router
        r.add_get("/_emu/info", wrap(get_info))
        r.add_post("/_emu/setup", wrap(setup))
        r.add_post("/_emu/user_message", wrap(user_message))
        r.add_post("/_emu/user_messages", wrap(user_messages))
        r.add_post("/_emu/invoke_command", wrap(invoke))
        r.add_post("/_emu/autocomplete", wrap(autocomplete))
        r.add_post("/_emu/click_button", wrap(click))
        r.add_post("/_emu/drop_gateway", wrap(drop))
        r.add_post("/_emu/release_gateway", wrap(release))
        r.add_post("/_emu/inject", wrap(inject))
        r.add_post("/_emu/rate_limits", wrap(rate_limits))
        r.add_post("/_emu/open_threads", wrap(open_threads))
        r.add_delete("/_emu/inject", wrap(clear))
        r.add_get("/_emu/calls", wrap(calls))
        r.add_get("/_emu/messages/{channel_id}", wrap(messages))
        r.add_get("/_emu/threads/{channel_id}", wrap(threads))
        r.add_get("/_emu/commands", wrap(commands))
        r.add_get("/_emu/stats", wrap(stats))
        r.add_post("/_emu/wait_connected", wrap(wait_connected))
        r.add_post("/_emu/shutdown", wrap(shutdown))

    emu.add_routes(add)


def _route_shape(path: str) -> str:
    """A path with ids and tokens replaced, for counting calls per route."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part.isdigit():
            parts[i] = "{id}"
        elif i == 3 and parts[1] in ("interactions", "webhooks"):
            parts[i] = "{token}"
    return "/".join(parts)


# ---- launching it in another process ---------------------------------------------------------


class EmulatorProcess:
    """An emulator running as ``python -m tests.emulator`` and its control endpoints."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any],
                 session: aiohttp.ClientSession) -> None:
        self.process = process
        self.info = info
        self._session = session

    @property
    def api_base(self) -> str:
        """The REST base to configure the bot with."""
        return str(self.info["api_base"])

    @property
    def gateway_url(self) -> str:
        """The gateway URL to configure the bot with."""
        return str(self.info["gateway_url"])

    @property
    def token(self) -> str:
        """The bot token the emulator accepts."""
        return str(self.info["token"])

    async def call(self, method: str, endpoint: str, body: Any = None) -> Any:
        """Call a control endpoint, e.g. ``call("POST", "user_messages", {...})``."""
        url = f"{self.info['base_url']}/_emu/{endpoint}"
        async with self._session.request(method, url, json=body) as response:
            data = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"{method} /_emu/{endpoint}: {data.get('error', data)}")
            return data

    @classmethod
    @contextlib.asynccontextmanager
    async def run(cls, *, spec: dict[str, Any] | None = None, shards: int = 1,
                  extra_args: tuple[str, ...] = (),
                  spec_file: Path | None = None) -> AsyncIterator[EmulatorProcess]:
        """Start an emulator process (with a world spec), yield it, stop it at the end."""
        args = [sys.executable, "-m", "tests.emulator", "--port", "0", "--shards", str(shards),
                *extra_args]
        if spec_file is not None:
            args += ["--state", str(spec_file)]
        process = await asyncio.create_subprocess_exec(
            *args, cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            if not line:
                raise RuntimeError("the emulator process exited before printing its address")
            started = json.loads(line)
            async with aiohttp.ClientSession() as session:
                emulator = cls(process, started, session)
                if spec is not None:
                    emulator.info["world"] = await emulator.call("POST", "setup", spec)
                yield emulator
                with contextlib.suppress(aiohttp.ClientError):
                    await emulator.call("POST", "shutdown")
            await asyncio.wait_for(process.wait(), 10)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
