"""The REST API (v10): routing, recording, fault injection, and one handler per route."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from .errors import ApiError, FormErrors, missing_access, missing_permissions, unknown
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionResult,
    ResponseMessage,
)
from .model import (
    ANNOUNCEMENT_THREAD,
    ATTACH_FILES,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    DM,
    EMBED_LINKS,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    GUILD_ANNOUNCEMENT,
    GUILD_CATEGORY,
    GUILD_FORUM,
    GUILD_TEXT,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    Channel,
    iso,
    utcnow,
)
from .records import Call, Upload, api_error_response, json_response
from .validate import check_choices, check_commands, check_message, check_thread_name

if TYPE_CHECKING:
    from .server import DiscordEmulator

MANAGE_ROLES = 1 << 28
INTERACTION_TOKEN_LIFETIME = 15 * 60
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class ApiRequest:
    """A parsed REST request: route parameters, query, JSON body and uploaded files."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    uploads: list[Upload]

    def id(self, name: str) -> int:
        """A numeric route parameter."""
        return int(self.params[name])

    @property
    def json(self) -> dict[str, Any]:
        """The JSON object body (an empty dict when there is none)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return self.body

    def int_query(self, name: str, default: int | None, low: int, high: int) -> int | None:
        """An integer query parameter within [low, high] (400 otherwise)."""
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            errors = FormErrors()
            errors.add(name, "NUMBER_TYPE_MAX" if value > high else "NUMBER_TYPE_MIN",
                       f"Must be between {low} and {high}.")
            errors.raise_if_any()
        return value


@dataclass
class Reply:
    """A handler result with a status other than 200."""

    status: int
    body: Any = None


Handler = Callable[["DiscordEmulator", ApiRequest], Awaitable[Any]]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool


ROUTES: list[Route] = []


def route(method: str, path: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Register a handler; `{x_id}` matches digits, other `{x}` any path segment."""

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        return rf"(?P<{name}>\d+)" if name.endswith("_id") else rf"(?P<{name}>[^/]+)"

    pattern = re.compile("^" + _PLACEHOLDER.sub(placeholder, re.escape(path).replace(
        r"\{", "{").replace(r"\}", "}")) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, pattern, handler, auth))
        return handler

    return register


# ---- entry point -----------------------------------------------------------------------------


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if request.content_type.startswith("multipart/"):
        body: Any = None
        uploads: list[Upload] = []
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            data = await part.read(decode=False)
            if name == "payload_json":
                body = json.loads(data.decode() or "null")
            elif name.startswith("files[") and name.endswith("]"):
                uploads.append(Upload(index=int(name[6:-1]), filename=part.filename or name,
                                      content=bytes(data),
                                      content_type=part.headers.get("Content-Type")))
        return body, uploads
    raw = await request.read()
    if not raw:
        return None, []
    return json.loads(raw), []


async def handle(emu: DiscordEmulator, request: web.Request) -> web.StreamResponse:
    """Record a REST call, apply planned faults, route it and answer like Discord."""
    path = "/" + request.match_info["tail"]
    method = request.method
    query = dict(request.query)
    call = Call(method=method, path=path, query=query, json=None)
    emu.calls.append(call)
    try:
        body, uploads = await _read_body(request)
    except ValueError:
        response: web.StreamResponse = api_error_response(
            ApiError(400, 50109, "The request body contains invalid JSON."))
        call.status = response.status
        return response
    call.json = body
    call.files = [(u.filename, u.content) for u in uploads]
    limit_headers, refused = emu.rate_limits.check(method, path)
    if refused is not None:
        response = json_response(refused, 429)
        response.headers.update(limit_headers)
        call.status = 429
        emu.rate_limits.answered(429)
        emu.notify()
        return response
    injection = next((i for i in emu.injections if i.matches(method, path)), None)
    if injection is not None:
        injection.hits += 1
    try:
        if injection is not None and not injection.perform:
            call.injected = True
            response = injection.response()
        else:
            response = await _dispatch(emu, request, ApiRequest(method, path, {}, query, body,
                                                                  uploads))
            if injection is not None:
                call.injected = True
                response = injection.response()
    except ApiError as error:
        response = api_error_response(error)
    except Exception as error:
        # A bug in the emulator, not in the bot: keep it visible to the test.
        logging.getLogger(__name__).exception("emulator error on %s %s", method, path)
        emu.internal_errors.append(f"{method} {path}: {error!r}")
        response = json_response({"message": f"emulator error: {error!r}", "code": 0}, 500)
    call.status = response.status
    if limit_headers and response.status != 429:
        response.headers.update(limit_headers)
    emu.rate_limits.answered(response.status)
    emu.notify()
    return response


async def _dispatch(emu: DiscordEmulator, request: web.Request,
                    req: ApiRequest) -> web.StreamResponse:
    path_matched = False
    for candidate in ROUTES:
        match = candidate.pattern.match(req.path)
        if match is None:
            continue
        path_matched = True
        if candidate.method != req.method:
            continue
        if candidate.auth and request.headers.get("Authorization") != f"Bot {emu.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        req.params = match.groupdict()
        result = await candidate.handler(emu, req)
        if isinstance(result, Reply):
            if result.body is None:
                return web.Response(status=result.status)
            return json_response(result.body, result.status)
        if result is None:
            return web.Response(status=204)
        return json_response(result)
    emu.unknown_routes.append((req.method, req.path))
    if path_matched:
        return json_response({"message": "405: Method Not Allowed", "code": 0}, 405)
    return json_response({"message": "404: Not Found", "code": 0}, 404)


# ---- helpers shared with the emulator --------------------------------------------------------


def attachments_from(emu: DiscordEmulator, channel_id: int, body: dict[str, Any],
                     uploads: list[Upload],
                     existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attachment payloads for a message: kept existing ones plus newly uploaded files."""
    by_index = {u.index: u for u in uploads}
    listed = body.get("attachments")
    keep: list[dict[str, Any]] = []
    new: list[tuple[Upload, dict[str, Any]]] = []
    if listed is None:
        keep = list(existing)
        new = [(u, {}) for u in uploads]
    else:
        existing_by_id = {str(a["id"]): a for a in existing}
        used: set[int] = set()
        for item in listed:
            raw_id = str(item.get("id"))
            if raw_id in existing_by_id:
                keep.append(existing_by_id[raw_id])
            elif raw_id.isdigit() and int(raw_id) in by_index:
                used.add(int(raw_id))
                new.append((by_index[int(raw_id)], item))
        new += [(u, {}) for u in uploads if u.index not in used]
    created = [
        emu.state.add_attachment(channel_id, item.get("filename") or upload.filename,
                                 upload.content, base_url=emu.base_url,
                                 description=item.get("description"))
        for upload, item in new
    ]
    return keep + created


def _convert_option(emu: DiscordEmulator, guild_id: int | None, option: dict[str, Any],
                    value: Any, resolved: dict[str, dict[str, Any]]) -> Any:
    kind = option.get("type")
    name = option["name"]
    state = emu.state
    if kind == 3:
        value = str(value)
    elif kind == 4:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"option {name!r} takes a whole number, not {value!r}")
    elif kind == 10:
        value = float(value)
    elif kind == 5:
        value = bool(value)
    elif kind in (6, 9) and (kind == 6 or int(value) in state.users):
        user_id = int(value)
        resolved.setdefault("users", {})[str(user_id)] = state.user(user_id).payload()
        if guild_id is not None and user_id in state.guild(guild_id).members:
            resolved.setdefault("members", {})[str(user_id)] = state.member_payload(
                guild_id, user_id, with_user=False)
        value = str(user_id)
    elif kind in (8, 9):
        role_id = int(value)
        guild = state.guild(guild_id) if guild_id is not None else None
        if guild is None or role_id not in guild.roles:
            raise ValueError(f"option {name!r}: role {role_id} does not exist in the guild")
        resolved.setdefault("roles", {})[str(role_id)] = guild.roles[role_id].payload()
        value = str(role_id)
    elif kind == 7:
        channel = state.channel(int(value))
        data: dict[str, Any] = {"id": str(channel.id), "name": channel.name,
                                "type": channel.type,
                                "permissions": str(state.bot_permissions_in(channel))}
        if channel.parent_id is not None:
            data["parent_id"] = str(channel.parent_id)
        if channel.is_thread:
            data["thread_metadata"] = state.thread_payload(channel)["thread_metadata"]
        resolved.setdefault("channels", {})[str(channel.id)] = data
        value = str(channel.id)
    elif kind == 11:
        filename, content = value
        attachment = state.add_attachment(0, filename, content, base_url=emu.base_url)
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        value = attachment["id"]
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise ValueError(f"option {name!r} must be one of "
                         f"{[c['value'] for c in choices]}, not {value!r}")
    return value


def build_options(emu: DiscordEmulator, guild_id: int | None, schema: list[dict[str, Any]],
                  given: dict[str, Any], resolved: dict[str, dict[str, Any]], *,
                  focused: str | None = None, focused_value: Any = None) -> list[dict[str, Any]]:
    """Interaction `data.options` for the values a user filled in, typed from the schema."""
    by_name = {o["name"]: o for o in schema}
    wrong = [n for n in [*given, *([focused] if focused else [])] if n not in by_name]
    if wrong:
        raise LookupError(f"unknown option(s) {wrong}; the command has {list(by_name)}")
    options = []
    for option in schema:
        name = option["name"]
        if name == focused:
            options.append({"type": option["type"], "name": name, "value": focused_value,
                            "focused": True})
        elif name in given:
            value = _convert_option(emu, guild_id, option, given[name], resolved)
            options.append({"type": option["type"], "name": name, "value": value})
        elif option.get("required") and focused is None:
            raise ValueError(f"option {name!r} is required")
    return options


def _require_view(emu: DiscordEmulator, channel: Channel) -> int:
    if channel.guild_id is None:
        return -1
    permissions = emu.state.bot_permissions_in(channel)
    if not permissions & VIEW_CHANNEL:
        raise missing_access()
    if (channel.type == PRIVATE_THREAD and emu.bot_user_id not in channel.thread_members
            and not permissions & MANAGE_THREADS):
        raise missing_access()  # a private thread shows only to its members and moderators
    return permissions


def _require(permissions: int, needed: int) -> None:
    if permissions & needed != needed:
        raise missing_permissions()


def _check_can_send(emu: DiscordEmulator, channel: Channel, body: dict[str, Any],
                    uploads: list[Upload]) -> None:
    if channel.type == DM:
        if channel.recipient_id in emu.state.dm_blocked:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        return
    if channel.type in (GUILD_FORUM, GUILD_CATEGORY):
        raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
    permissions = _require_view(emu, channel)
    _require(permissions, SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES)
    if channel.is_thread and channel.locked and not permissions & MANAGE_THREADS:
        if channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        raise missing_permissions()
    if uploads:
        _require(permissions, ATTACH_FILES)
    if body.get("embeds") and not permissions & EMBED_LINKS:
        # Discord drops embeds silently when the bot may not embed links.
        body["embeds"] = []


# ---- users, application, gateway -------------------------------------------------------------


@route("GET", "/users/@me")
async def get_me(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return {**emu.state.bot.payload(), "bot": True, "verified": True, "mfa_enabled": False,
            "email": None, "locale": "en-US", "premium_type": 0}


@route("GET", "/users/{user_id}")
async def get_user(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return emu.state.user(req.id("user_id")).payload()


def application_payload(emu: DiscordEmulator) -> dict[str, Any]:
    """GET /oauth2/applications/@me."""
    flags = 0
    if emu.privileged_intents & INTENT_GUILD_MEMBERS:
        flags |= 1 << 15
    if emu.privileged_intents & INTENT_MESSAGE_CONTENT:
        flags |= 1 << 19
    return {
        "id": str(emu.application_id),
        "name": emu.state.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": flags,
        "owner": emu.state.owner.payload(),
        "team": None,
        "bot": emu.state.bot.payload(),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": len(emu.state.guilds),
    }


@route("GET", "/oauth2/applications/@me")
async def get_application(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return application_payload(emu)


@route("GET", "/applications/@me")
async def get_application_me(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return application_payload(emu)


@route("GET", "/gateway")
async def get_gateway(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return {"url": emu.gateway_url}


@route("GET", "/gateway/bot")
async def get_gateway_bot(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return {"url": emu.gateway_url, "shards": emu.shard_count,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                    "max_concurrency": 1}}


@route("POST", "/users/@me/channels")
async def open_dm(emu: DiscordEmulator, req: ApiRequest) -> Any:
    recipient = req.json.get("recipient_id")
    if recipient is None:
        errors = FormErrors()
        errors.add("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
    return emu.state.channel_payload(emu.state.dm_channel(int(str(recipient))))


@route("GET", "/users/@me/guilds")
async def my_guilds(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return [{"id": str(g.id), "name": g.name, "icon": None, "banner": None, "owner": False,
             "permissions": str(emu.state.bot_role(g.id).permissions), "features": []}
            for g in emu.state.guilds.values()]


# ---- channels --------------------------------------------------------------------------------


@route("GET", "/channels/{channel_id}")
async def get_channel(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    _require_view(emu, channel)
    return emu.state.channel_payload(channel)


_THREAD_FIELDS = {"name", "archived", "locked", "auto_archive_duration", "rate_limit_per_user",
                  "invitable", "applied_tags", "flags"}
_CHANNEL_FIELDS = {"name", "topic", "nsfw", "rate_limit_per_user", "position", "parent_id",
                   "permission_overwrites", "available_tags", "default_auto_archive_duration",
                   "flags", "type", "default_reaction_emoji", "default_sort_order",
                   "default_forum_layout", "default_thread_rate_limit_per_user"}


@route("PATCH", "/channels/{channel_id}")
async def edit_channel(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    if channel.type == DM:
        raise missing_access()
    permissions = _require_view(emu, channel)
    changes = dict(req.json)
    if channel.is_thread:
        unknown_keys = set(changes) - _THREAD_FIELDS
        own = channel.owner_id == emu.bot_user_id
        if "locked" in changes or not own or ("applied_tags" in changes and not own):
            _require(permissions, MANAGE_THREADS)
        if "name" in changes:
            check_thread_name(changes["name"])
        if channel.locked and channel.archived and not permissions & MANAGE_THREADS:
            raise ApiError(400, 50083, "Thread is archived")
    else:
        unknown_keys = set(changes) - _CHANNEL_FIELDS
        _require(permissions, MANAGE_CHANNELS)
        if "name" in changes:
            check_thread_name(changes["name"])
    for key in unknown_keys:
        changes.pop(key)
    if "applied_tags" in changes:
        parent = emu.state.channels.get(channel.parent_id or 0)
        valid = {t["id"] for t in parent.available_tags} if parent is not None else set()
        bad = [t for t in changes["applied_tags"] or [] if str(t) not in valid]
        if bad:
            errors = FormErrors()
            errors.add("applied_tags", "INVALID_TAG", f"Unknown tag(s) {bad}")
            errors.raise_if_any()
    emu.update_channel(channel, changes)
    return emu.state.channel_payload(channel)


@route("DELETE", "/channels/{channel_id}")
async def delete_channel(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    _require(permissions, MANAGE_THREADS if channel.is_thread else MANAGE_CHANNELS)
    payload = emu.state.channel_payload(channel)
    emu.delete_channel(channel)
    return payload


# ---- messages --------------------------------------------------------------------------------


@route("GET", "/channels/{channel_id}/messages")
async def get_messages(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    limit = req.int_query("limit", 50, 1, 100) or 50
    if channel.guild_id is not None and not permissions & READ_MESSAGE_HISTORY:
        return []
    before = req.int_query("before", None, 0, 2**63)
    after = req.int_query("after", None, 0, 2**63)
    around = req.int_query("around", None, 0, 2**63)
    messages = emu.state.history(channel.id, limit=limit, before=before, after=after,
                                 around=around)
    return [_rest_visible(emu, m) for m in messages]


def _rest_visible(emu: DiscordEmulator, message: dict[str, Any]) -> dict[str, Any]:
    """Messages read over REST lose their content too when the app lacks the intent."""
    if emu.privileged_intents & INTENT_MESSAGE_CONTENT:
        return message
    bot_id = str(emu.bot_user_id)
    channel = emu.state.channels.get(int(message["channel_id"]))
    if (channel is None or channel.guild_id is None or message["author"]["id"] == bot_id
            or any(u["id"] == bot_id for u in message.get("mentions", []))):
        return message
    return {**message, "content": "", "embeds": [], "attachments": [], "components": []}


@route("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    if channel.guild_id is not None:
        _require(permissions, READ_MESSAGE_HISTORY)
    return _rest_visible(emu, emu.state.message(channel.id, req.id("message_id")))


@route("POST", "/channels/{channel_id}/messages")
async def send_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    body = dict(req.json)
    _check_can_send(emu, channel, body, req.uploads)
    check_message(body, has_files=bool(req.uploads))
    duplicate = emu.check_nonce(channel, emu.bot_user_id, body)
    if duplicate is not None:
        return duplicate
    body.pop("mentions", None)
    message = emu.create_message(channel, emu.state.bot, body, req.uploads)
    emu.remember_nonce(channel, emu.bot_user_id, body, message)
    return message


@route("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    _require_view(emu, channel)
    message = emu.state.message(channel.id, req.id("message_id"))
    body = dict(req.json)
    if message["author"]["id"] != str(emu.bot_user_id) and set(body) - {"flags"}:
        raise ApiError(403, 50005, "Cannot edit a message authored by another user")
    check_message(body, has_files=bool(req.uploads), require_content=False)
    emu.edit_message(channel, message, body, req.uploads)
    if not (message["content"] or message["embeds"] or message["components"]
            or message["attachments"]):
        raise ApiError(400, 50006, "Cannot send an empty message")
    return message


@route("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    message = emu.state.message(channel.id, req.id("message_id"))
    if message["author"]["id"] != str(emu.bot_user_id) and channel.guild_id is not None:
        _require(permissions, MANAGE_MESSAGES)
    emu.delete_message(channel, message)
    return None


@route("POST", "/channels/{channel_id}/messages/bulk-delete")
async def bulk_delete(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    _require(permissions, MANAGE_MESSAGES)
    ids = [int(i) for i in req.json.get("messages") or []]
    if not 2 <= len(ids) <= 100:
        errors = FormErrors()
        errors.add("messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")
        errors.raise_if_any()
    deleted = []
    for message_id in ids:
        message = emu.state.message_index.get(message_id)
        if message is not None and int(message["channel_id"]) == channel.id:
            emu.state.remove_message(message)
            deleted.append(str(message_id))
    data: dict[str, Any] = {"ids": deleted, "channel_id": str(channel.id)}
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    emu.gateway.dispatch("MESSAGE_DELETE_BULK", data, guild_id=channel.guild_id,
                         intent=INTENT_GUILD_MESSAGES)
    return None


@route("POST", "/channels/{channel_id}/typing")
async def typing(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _require_view(emu, emu.state.channel(req.id("channel_id")))
    return None


def _reaction(emu: DiscordEmulator, req: ApiRequest, add: bool) -> None:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    if add:
        _require(permissions, READ_MESSAGE_HISTORY)
    message = emu.state.message(channel.id, req.id("message_id"))
    name = req.params["emoji"]
    emoji_id = None
    if ":" in name:
        name, raw_id = name.split(":", 1)
        emoji_id = raw_id
    reactions = message.setdefault("reactions", [])
    entry = next((r for r in reactions if r["emoji"]["name"] == name), None)
    if add and (entry is None or not entry["me"]):
        if entry is None:
            entry = {"count": 0, "me": False, "emoji": {"id": emoji_id, "name": name},
                     "burst_colors": [], "count_details": {"burst": 0, "normal": 0},
                     "me_burst": False}
            reactions.append(entry)
        entry["count"] += 1
        entry["count_details"]["normal"] += 1
        entry["me"] = True
    elif not add and entry is not None and entry["me"]:
        entry["count"] -= 1
        entry["count_details"]["normal"] -= 1
        entry["me"] = False
        if entry["count"] <= 0:
            reactions.remove(entry)
    else:
        return
    data: dict[str, Any] = {"user_id": str(emu.bot_user_id), "channel_id": str(channel.id),
                            "message_id": str(message["id"]),
                            "emoji": {"id": emoji_id, "name": name}, "burst": False, "type": 0}
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
    emu.gateway.dispatch(event, data, guild_id=channel.guild_id, intent=1 << 10)


@route("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def add_reaction(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _reaction(emu, req, add=True)
    return None


@route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def remove_reaction(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _reaction(emu, req, add=False)
    return None


@route("GET", "/channels/{channel_id}/messages/pins")
async def get_pins(emu: DiscordEmulator, req: ApiRequest) -> Any:
    channel = emu.state.channel(req.id("channel_id"))
    _require_view(emu, channel)
    pinned = [m for m in reversed(emu.state.messages.get(channel.id, [])) if m.get("pinned")]
    return {"items": [{"pinned_at": m.get("_pinned_at", m["timestamp"]),
                       "message": {k: v for k, v in m.items() if k != "_pinned_at"}}
                      for m in pinned], "has_more": False}


def _pin(emu: DiscordEmulator, req: ApiRequest, pinned: bool) -> None:
    channel = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, channel)
    if channel.guild_id is not None:
        _require(permissions, MANAGE_MESSAGES)
    message = emu.state.message(channel.id, req.id("message_id"))
    message["pinned"] = pinned
    emu.gateway.dispatch("CHANNEL_PINS_UPDATE", {
        "channel_id": str(channel.id), "guild_id": str(channel.guild_id),
        "last_pin_timestamp": iso(utcnow()),
    }, guild_id=channel.guild_id)


@route("PUT", "/channels/{channel_id}/messages/pins/{message_id}")
async def pin_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _pin(emu, req, True)
    return None


@route("DELETE", "/channels/{channel_id}/messages/pins/{message_id}")
async def unpin_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _pin(emu, req, False)
    return None


# ---- threads ---------------------------------------------------------------------------------


@route("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def thread_from_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    parent = emu.state.channel(req.id("channel_id"))
    if parent.type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    permissions = _require_view(emu, parent)
    _require(permissions, CREATE_PUBLIC_THREADS | READ_MESSAGE_HISTORY)
    message = emu.state.message(parent.id, req.id("message_id"))
    if int(message.get("flags") or 0) & FLAG_HAS_THREAD or int(message["id"]) in (
            emu.state.channels):
        raise ApiError(400, 160004, "A thread has already been created for this message")
    body = req.json
    check_thread_name(body.get("name"))
    kind = ANNOUNCEMENT_THREAD if parent.type == GUILD_ANNOUNCEMENT else PUBLIC_THREAD
    thread = emu.create_thread(parent, body["name"], emu.bot_user_id, message_id=int(message["id"]),
                               kind=kind,
                               auto_archive_duration=int(body.get("auto_archive_duration") or 1440))
    return Reply(201, emu.state.thread_payload(thread))


@route("POST", "/channels/{channel_id}/threads")
async def start_thread(emu: DiscordEmulator, req: ApiRequest) -> Any:
    parent = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, parent)
    body = dict(req.json)
    check_thread_name(body.get("name"))
    archive = int(body.get("auto_archive_duration") or 1440)
    if parent.type == GUILD_FORUM:
        _require(permissions, SEND_MESSAGES)
        starter = dict(body.get("message") or {})
        if req.uploads:
            _require(permissions, ATTACH_FILES)
        check_message(starter, has_files=bool(req.uploads), prefix="message.")
        valid = {t["id"] for t in parent.available_tags}
        tags = [str(t) for t in body.get("applied_tags") or []]
        bad = [t for t in tags if t not in valid]
        if bad:
            errors = FormErrors()
            errors.add("applied_tags", "INVALID_TAG", f"Unknown tag(s) {bad}")
            errors.raise_if_any()
        thread = emu.create_thread(parent, body["name"], emu.bot_user_id, kind=PUBLIC_THREAD,
                                   auto_archive_duration=archive,
                                   applied_tags=[int(t) for t in tags])
        message = emu.create_message(thread, emu.state.bot, starter, req.uploads, id=thread.id)
        return Reply(201, {**emu.state.thread_payload(thread), "message": message})
    if parent.type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    kind = int(body.get("type") or PRIVATE_THREAD)
    _require(permissions, CREATE_PRIVATE_THREADS if kind == PRIVATE_THREAD
             else CREATE_PUBLIC_THREADS)
    thread = emu.create_thread(parent, body["name"], emu.bot_user_id, kind=kind,
                               auto_archive_duration=archive,
                               invitable=bool(body.get("invitable", True)))
    return Reply(201, emu.state.thread_payload(thread))


def _thread(emu: DiscordEmulator, req: ApiRequest) -> Channel:
    thread = emu.state.channel(req.id("channel_id"))
    if not thread.is_thread:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    _require_view(emu, thread)
    return thread


@route("PUT", "/channels/{channel_id}/thread-members/@me")
async def join_thread(emu: DiscordEmulator, req: ApiRequest) -> Any:
    thread = _thread(emu, req)
    if thread.archived:
        raise ApiError(400, 50083, "Thread is archived")
    thread.thread_members.setdefault(emu.bot_user_id, utcnow())
    return None


@route("DELETE", "/channels/{channel_id}/thread-members/@me")
async def leave_thread(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _thread(emu, req).thread_members.pop(emu.bot_user_id, None)
    return None


@route("PUT", "/channels/{channel_id}/thread-members/{user_id}")
async def add_thread_member(emu: DiscordEmulator, req: ApiRequest) -> Any:
    thread = _thread(emu, req)
    user_id = req.id("user_id")
    if thread.guild_id is not None:
        emu.state.member(thread.guild_id, user_id)
    if thread.archived:
        raise ApiError(400, 50083, "Thread is archived")
    permissions = emu.state.bot_permissions_in(thread)
    _require(permissions, SEND_MESSAGES_IN_THREADS)
    if thread.type == PRIVATE_THREAD:
        if emu.bot_user_id not in thread.thread_members and not permissions & MANAGE_THREADS:
            raise missing_access()
        if not thread.invitable:  # only moderators add others to a non-invitable thread
            _require(permissions, MANAGE_THREADS)
    thread.thread_members.setdefault(user_id, utcnow())
    return None


@route("DELETE", "/channels/{channel_id}/thread-members/{user_id}")
async def remove_thread_member(emu: DiscordEmulator, req: ApiRequest) -> Any:
    thread = _thread(emu, req)
    if thread.owner_id != emu.bot_user_id:
        _require(emu.state.bot_permissions_in(thread), MANAGE_THREADS)
    thread.thread_members.pop(req.id("user_id"), None)
    return None


@route("GET", "/channels/{channel_id}/thread-members")
async def get_thread_members(emu: DiscordEmulator, req: ApiRequest) -> Any:
    thread = _thread(emu, req)
    return [emu.state.thread_member_payload(thread, u) for u in thread.thread_members]


@route("GET", "/channels/{channel_id}/thread-members/{user_id}")
async def get_thread_member(emu: DiscordEmulator, req: ApiRequest) -> Any:
    thread = _thread(emu, req)
    if req.id("user_id") not in thread.thread_members:
        raise unknown("Member")
    return emu.state.thread_member_payload(thread, req.id("user_id"))


def _archived(emu: DiscordEmulator, req: ApiRequest, *, private: bool,
              joined: bool = False) -> Any:
    parent = emu.state.channel(req.id("channel_id"))
    permissions = _require_view(emu, parent)
    _require(permissions, READ_MESSAGE_HISTORY | (MANAGE_THREADS if private and not joined
                                                  else 0))
    limit = req.int_query("limit", 50, 1, 100) or 50
    raw_before = req.query.get("before")
    before: datetime | None = None
    if raw_before:
        before = (datetime.fromisoformat(raw_before) if not raw_before.isdigit()
                  else None)
    threads, has_more = emu.state.archived_threads(parent.id, private=private, before=before,
                                                   limit=limit if not joined else 10_000)
    if joined:
        threads = [t for t in threads if emu.bot_user_id in t.thread_members]
        if raw_before and raw_before.isdigit():
            threads = [t for t in threads if t.id < int(raw_before)]
        threads.sort(key=lambda t: t.id, reverse=True)
        has_more = len(threads) > limit
        threads = threads[:limit]
    return {
        "threads": [emu.state.thread_payload(t, with_bot_member=False) for t in threads],
        "members": [emu.state.thread_member_payload(t, emu.bot_user_id) for t in threads
                    if emu.bot_user_id in t.thread_members],
        "has_more": has_more,
    }


@route("GET", "/channels/{channel_id}/threads/archived/public")
async def archived_public(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return _archived(emu, req, private=False)


@route("GET", "/channels/{channel_id}/threads/archived/private")
async def archived_private(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return _archived(emu, req, private=True)


@route("GET", "/channels/{channel_id}/users/@me/threads/archived/private")
async def archived_joined_private(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return _archived(emu, req, private=True, joined=True)


# ---- guilds ----------------------------------------------------------------------------------


@route("GET", "/guilds/{guild_id}")
async def get_guild(emu: DiscordEmulator, req: ApiRequest) -> Any:
    guild = emu.state.guild(req.id("guild_id"))
    data = emu.state.guild_payload(guild)
    if req.query.get("with_counts") in ("1", "true", "True"):
        data.update(approximate_member_count=len(guild.members),
                    approximate_presence_count=0)
    return data


@route("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(emu: DiscordEmulator, req: ApiRequest) -> Any:
    guild = emu.state.guild(req.id("guild_id"))
    return [emu.state.channel_payload(emu.state.channels[c]) for c in guild.channel_ids]


@route("GET", "/guilds/{guild_id}/roles")
async def get_roles(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return emu.state.role_payloads(emu.state.guild(req.id("guild_id")))


@route("GET", "/guilds/{guild_id}/members")
async def list_members(emu: DiscordEmulator, req: ApiRequest) -> Any:
    guild = emu.state.guild(req.id("guild_id"))
    if not emu.privileged_intents & INTENT_GUILD_MEMBERS:
        raise missing_access()
    limit = req.int_query("limit", 1, 1, 1000) or 1
    after = req.int_query("after", 0, 0, 2**63) or 0
    ids = sorted(uid for uid in guild.members if uid > after)[:limit]
    return [emu.state.member_payload(guild.id, uid) for uid in ids]


@route("GET", "/guilds/{guild_id}/members/search")
async def search_members(emu: DiscordEmulator, req: ApiRequest) -> Any:
    guild = emu.state.guild(req.id("guild_id"))
    query = (req.query.get("query") or "").casefold()
    limit = req.int_query("limit", 1, 1, 1000) or 1
    found = [m for m in guild.members.values()
             if emu.state.users[m.user_id].username.casefold().startswith(query)
             or (m.nick or "").casefold().startswith(query)][:limit]
    return [emu.state.member_payload(guild.id, m.user_id) for m in found]


@route("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return emu.state.member_payload(req.id("guild_id"), req.id("user_id"))


def _member_role(emu: DiscordEmulator, req: ApiRequest, add: bool) -> None:
    guild = emu.state.guild(req.id("guild_id"))
    member = emu.state.member(guild.id, req.id("user_id"))
    role = guild.roles.get(req.id("role_id"))
    if role is None:
        raise unknown("Role")
    bot_role = emu.state.bot_role(guild.id)
    if not bot_role.permissions & MANAGE_ROLES or role.position >= bot_role.position:
        raise missing_permissions()
    if add and role.id not in member.roles:
        member.roles.append(role.id)
    elif not add and role.id in member.roles:
        member.roles.remove(role.id)
    emu._member_updated(guild.id, member.user_id)


@route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_member_role(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _member_role(emu, req, True)
    return None


@route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_member_role(emu: DiscordEmulator, req: ApiRequest) -> Any:
    _member_role(emu, req, False)
    return None


@route("GET", "/guilds/{guild_id}/threads/active")
async def active_threads(emu: DiscordEmulator, req: ApiRequest) -> Any:
    guild = emu.state.guild(req.id("guild_id"))
    threads = [t for t in emu.state.active_threads(guild.id)
               if emu.state.bot_permissions_in(t) & VIEW_CHANNEL]
    return {
        "threads": [emu.state.thread_payload(t, with_bot_member=False) for t in threads],
        "members": [emu.state.thread_member_payload(t, emu.bot_user_id) for t in threads
                    if emu.bot_user_id in t.thread_members],
    }


# ---- application commands --------------------------------------------------------------------


def _command_scope(emu: DiscordEmulator, req: ApiRequest) -> int | None:
    if req.id("application_id") != emu.application_id:
        raise ApiError(403, 20012,
                       "You are not authorized to perform this action on this application")
    if "guild_id" not in req.params:
        return None
    guild_id = req.id("guild_id")
    if guild_id not in emu.state.guilds:
        raise missing_access()
    return guild_id


def _find_command(emu: DiscordEmulator, scope: int | None, command_id: int) -> dict[str, Any]:
    for command in emu.state.commands.get(scope, {}).values():
        if int(command["id"]) == command_id:
            return command
    raise unknown("application command")


async def _list_commands(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return emu.commands(_command_scope(emu, req))


async def _overwrite_commands(emu: DiscordEmulator, req: ApiRequest) -> Any:
    scope = _command_scope(emu, req)
    check_commands(req.body)
    return emu.state.overwrite_commands(scope, req.body)


async def _upsert_command(emu: DiscordEmulator, req: ApiRequest) -> Any:
    scope = _command_scope(emu, req)
    check_commands([req.json])
    current = [c for c in emu.state.commands.get(scope, {}).values()
               if (int(c.get("type", 1)), c["name"]) != (int(req.json.get("type", 1)),
                                                         req.json["name"])]
    commands = emu.state.overwrite_commands(scope, [*current, req.json])
    return Reply(201, next(c for c in commands if c["name"] == req.json["name"]))


async def _get_command(emu: DiscordEmulator, req: ApiRequest) -> Any:
    return _find_command(emu, _command_scope(emu, req), req.id("command_id"))


async def _edit_command(emu: DiscordEmulator, req: ApiRequest) -> Any:
    scope = _command_scope(emu, req)
    command = _find_command(emu, scope, req.id("command_id"))
    updated = {**command, **req.json}
    check_commands([updated])
    others = [c for c in emu.state.commands.get(scope, {}).values() if c is not command]
    commands = emu.state.overwrite_commands(scope, [*others, updated])
    return next(c for c in commands if c["id"] == command["id"])


async def _delete_command(emu: DiscordEmulator, req: ApiRequest) -> Any:
    scope = _command_scope(emu, req)
    command = _find_command(emu, scope, req.id("command_id"))
    del emu.state.commands[scope][(int(command.get("type", 1)), command["name"])]
    return None


for _base in ("/applications/{application_id}/commands",
              "/applications/{application_id}/guilds/{guild_id}/commands"):
    route("GET", _base)(_list_commands)
    route("PUT", _base)(_overwrite_commands)
    route("POST", _base)(_upsert_command)
    route("GET", _base + "/{command_id}")(_get_command)
    route("PATCH", _base + "/{command_id}")(_edit_command)
    route("DELETE", _base + "/{command_id}")(_delete_command)


# ---- interaction responses and followups -----------------------------------------------------

_ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}


def _respond_message(emu: DiscordEmulator, result: InteractionResult, data: dict[str, Any],
                     uploads: list[Upload]) -> ResponseMessage:
    """Create the message an interaction response or followup shows."""
    state = emu.state
    channel = state.channel(result.channel_id)
    user = state.user(result.user_id)
    metadata: dict[str, Any] = {
        "id": str(result.id), "type": result.kind, "user": user.payload(),
        "authorizing_integration_owners": result.payload.get(
            "authorizing_integration_owners", {}),
    }
    if result.kind == APPLICATION_COMMAND:
        metadata["name"] = result.payload["data"]["name"]
        metadata["command_type"] = result.payload["data"].get("type", 1)
    if result.source_message_id is not None:
        metadata["interacted_message_id"] = str(result.source_message_id)
    body = {**data, "webhook_id": str(emu.application_id),
            "application_id": str(emu.application_id), "interaction_metadata": metadata}
    body.pop("mentions", None)
    message_type = 20 if result.kind == APPLICATION_COMMAND else 0
    if int(data.get("flags") or 0) & FLAG_EPHEMERAL:
        attachments = attachments_from(emu, channel.id, body, uploads, existing=[])
        payload = state.new_message(channel, state.bot, body, attachments=attachments,
                                    message_type=message_type, store=False)
        response = ResponseMessage(id=int(payload["id"]), channel_id=channel.id,
                                   payload=payload, state=state)
        emu.ephemeral_messages[response.id] = response
        return response
    payload = emu.create_message(channel, state.bot, body, uploads, message_type=message_type)
    return ResponseMessage(id=int(payload["id"]), channel_id=channel.id, payload=payload,
                           state=state)


def _edit_response(emu: DiscordEmulator, message: ResponseMessage, body: dict[str, Any],
                   uploads: list[Upload]) -> None:
    """Edit a response message; the first edit of a deferred one ends its "thinking..."."""
    message.payload["flags"] = int(message.payload.get("flags") or 0) & ~FLAG_LOADING
    stored = emu.state.message_index.get(message.id)
    if stored is not None and stored is message.payload:
        emu.edit_message(emu.state.channel(message.channel_id), stored, body, uploads)
        return
    attachments = None
    if "attachments" in body or uploads:
        attachments = attachments_from(emu, message.channel_id, body, uploads,
                                       existing=message.payload.get("attachments") or [])
    emu.state.apply_edit(message.payload, body, attachments)


def _source_message(emu: DiscordEmulator, result: InteractionResult) -> ResponseMessage:
    message_id = result.source_message_id
    if message_id is None:
        raise ApiError(400, 40004, "This interaction has no message to update")
    if message_id in emu.ephemeral_messages:
        return emu.ephemeral_messages[message_id]
    stored = emu.state.message_index.get(message_id)
    if stored is None:
        raise unknown("Message")
    return ResponseMessage(id=message_id, channel_id=int(stored["channel_id"]), payload=stored,
                           state=emu.state)


def _check_modal(data: dict[str, Any]) -> None:
    errors = FormErrors()
    if not data.get("custom_id"):
        errors.add("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
    title = data.get("title") or ""
    if not 1 <= len(title) <= 45:
        errors.add("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    if not 1 <= len(data.get("components") or []) <= 5:
        errors.add("data.components", "BASE_TYPE_BAD_LENGTH",
                   "Must be between 1 and 5 in length.")
    errors.raise_if_any()


@route("POST", "/interactions/{interaction_id}/{token}/callback", auth=False)
async def interaction_callback(emu: DiscordEmulator, req: ApiRequest) -> Any:
    result = emu.interaction_by_id(req.id("interaction_id"))
    if result is None or result.token != req.params["token"]:
        raise unknown("Interaction")
    result.check_deadline()
    if result.failed:
        raise unknown("Interaction")
    if result.type is not None:
        result.duplicate_callbacks += 1
        result.changed()
        raise ApiError(400, 40060, "Interaction has already been acknowledged.")
    body = req.json
    kind = int(body.get("type") or 0)
    data = dict(body.get("data") or {})
    if kind not in _ALLOWED_CALLBACKS.get(result.kind, set()):
        errors = FormErrors()
        errors.add("type", "INTERACTION_RESPONSE_TYPE_INVALID",
                   f"Response type {kind} is not valid for interaction type {result.kind}")
        errors.raise_if_any()
    message: ResponseMessage | None = None
    if kind == 4:
        check_message(data, has_files=bool(req.uploads), prefix="data.")
        message = _respond_message(emu, result, data, req.uploads)
        result.type = kind
        result.record(message, original=True)
    elif kind == 5:
        flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        message = _respond_message(emu, result, {"content": "", "flags": flags}, [])
        result.type = kind
        result.record(message, original=True)
    elif kind in (6, 7):
        message = _source_message(emu, result)
        result.type = kind
        if kind == 7:
            check_message(data, has_files=bool(req.uploads), prefix="data.",
                          require_content=False)
            _edit_response(emu, message, data, req.uploads)
            result.record(message, original=True, edit=True)
        else:
            result.original = message
            result.changed()
    elif kind == 8:
        check_choices(data.get("choices"))
        result.choices = list(data["choices"])
        result.type = kind
        result.changed()
    elif kind == 9:
        _check_modal(data)
        result.modal = data
        result.type = kind
        result.changed()
    if req.query.get("with_response") not in ("1", "true", "True"):
        return None
    interaction: dict[str, Any] = {"id": str(result.id), "type": result.kind,
                                   "response_message_loading": kind == 5,
                                   "response_message_ephemeral": bool(message and
                                                                      message.ephemeral)}
    resource: dict[str, Any] = {"type": kind}
    if message is not None and kind in (4, 5, 7):
        interaction["response_message_id"] = str(message.id)
        resource["message"] = message.payload
    return {"interaction": interaction, "resource": resource}


def _webhook_interaction(emu: DiscordEmulator, req: ApiRequest) -> InteractionResult:
    result = emu.interaction_by_token(req.params["token"])
    if result is None or req.id("application_id") != emu.application_id:
        raise unknown("Webhook")
    if time.monotonic() - result.created > INTERACTION_TOKEN_LIFETIME:
        raise ApiError(401, 50027, "Invalid Webhook Token")
    if result.type is None:
        raise unknown("Webhook")
    return result


def _webhook_target(result: InteractionResult, message: str) -> ResponseMessage:
    if message == "@original":
        if result.original is None or result.original.deleted:
            raise unknown("Message")
        return result.original
    if message.isdigit():
        for candidate in result.messages():
            if candidate.id == int(message):
                return candidate
    raise unknown("Message")


@route("POST", "/webhooks/{application_id}/{token}", auth=False)
async def followup(emu: DiscordEmulator, req: ApiRequest) -> Any:
    result = _webhook_interaction(emu, req)
    body = dict(req.json)
    check_message(body, has_files=bool(req.uploads))
    original = result.original
    if result.type == 5 and original is not None and original.loading:
        # The first followup after a defer replaces the "thinking..." message and keeps
        # the defer's visibility, whatever `ephemeral` the followup asked for.
        body.pop("flags", None)
        _edit_response(emu, original, body, req.uploads)
        result.followups.append(original)
        result.record(original, original=True, edit=True)
        message = original
    else:
        message = _respond_message(emu, result, body, req.uploads)
        result.followups.append(message)
        result.record(message, original=False)
    if req.query.get("wait") in ("1", "true", "True"):
        return message.payload
    return None


@route("GET", "/webhooks/{application_id}/{token}/messages/{message}", auth=False)
async def get_webhook_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    result = _webhook_interaction(emu, req)
    return _webhook_target(result, req.params["message"]).payload


@route("PATCH", "/webhooks/{application_id}/{token}/messages/{message}", auth=False)
async def edit_webhook_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    result = _webhook_interaction(emu, req)
    target = _webhook_target(result, req.params["message"])
    body = dict(req.json)
    check_message(body, has_files=bool(req.uploads), require_content=False)
    body.pop("flags", None)
    _edit_response(emu, target, body, req.uploads)
    result.record(target, original=target is result.original, edit=True)
    return target.payload


@route("DELETE", "/webhooks/{application_id}/{token}/messages/{message}", auth=False)
async def delete_webhook_message(emu: DiscordEmulator, req: ApiRequest) -> Any:
    result = _webhook_interaction(emu, req)
    target = _webhook_target(result, req.params["message"])
    target.deleted = True
    stored = emu.state.message_index.get(target.id)
    if stored is not None:
        emu.delete_message(emu.state.channel(target.channel_id), stored)
    result.changed()
    return None
