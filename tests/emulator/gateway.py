"""The emulated gateway: HELLO, IDENTIFY/READY, RESUME with replay, heartbeats, member chunks.

Every dispatch gets the session's next sequence number and is kept in the session's buffer,
connected or not. A resumable drop keeps the session: RESUME replays what the client missed.
A non-resumable drop forgets it: the client's RESUME gets INVALID_SESSION(false), it
IDENTIFYs again, and what happened in between is only visible through REST history.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .model import (
    INTENT_GUILD_MEMBERS,
    INTENT_MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
)

if TYPE_CHECKING:
    from .server import DiscordEmulator

try:  # zstd-stream is what discord.py asks for when a zstd module is importable
    zstandard: Any = importlib.import_module("zstandard")
except ImportError:  # pragma: no cover - depends on the environment
    zstandard = None

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11
CHUNK_SIZE = 1000
BUFFER_SIZE = 100_000


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class Connection:
    """One websocket: a writer task sends queued frames in order, compressed if asked."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compress = compress
        self.session: Session | None = None
        self.dead = False
        self.closed_by_server = False
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._compressor: Any = None
        if compress == "zlib-stream":
            self._compressor = zlib.compressobj()
        elif compress == "zstd-stream" and zstandard is not None:
            self._compressor = zstandard.ZstdCompressor().compressobj()
        self._writer = asyncio.create_task(self._write(), name="emulator-gateway-writer")

    def send(self, text: str) -> None:
        """Queue a frame (already JSON) for sending."""
        if not self.dead:
            self._queue.put_nowait(text)

    def _encode(self, text: str) -> bytes:
        data = text.encode()
        if self.compress == "zlib-stream":
            compressed = self._compressor.compress(data)
            return bytes(compressed + self._compressor.flush(zlib.Z_SYNC_FLUSH))
        compressed = self._compressor.compress(data)
        flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        return bytes(compressed + self._compressor.flush(flush_block))

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                if not self.dead:
                    if self._compressor is None:
                        await self.ws.send_str(text)
                    else:
                        await self.ws.send_bytes(self._encode(text))
            except (ConnectionError, RuntimeError):
                self.dead = True
            finally:
                self._queue.task_done()

    async def flush(self, timeout: float) -> None:
        """Wait until every queued frame has been written (or the socket died)."""
        if not self.dead:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self, code: int, message: str = "") -> None:
        """Close the socket from the server side; frames not yet written are lost."""
        self.dead = True
        self.closed_by_server = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=message.encode()), 5)

    async def finish(self) -> None:
        """Stop the writer task and release anyone waiting on the queue."""
        self.dead = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()


class Session:
    """A gateway session: shard, intents, sequence and the buffer RESUME replays from."""

    def __init__(self, shard_id: int, shard_count: int, intents: int, *,
                 shard_given: bool) -> None:
        self.id = secrets.token_hex(16)
        self.shard_id = shard_id
        self.shard_count = shard_count
        self.shard_given = shard_given
        self.intents = intents
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=BUFFER_SIZE)
        self.connection: Connection | None = None

    def dispatch(self, event: str, data: Any) -> None:
        """Sequence an event, remember it for RESUME and send it if connected."""
        self.seq += 1
        text = _dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data})
        self.buffer.append((self.seq, text))
        if self.connection is not None:
            self.connection.send(text)


def _strip_content(data: dict[str, Any]) -> dict[str, Any]:
    """Remove what a bot without the message content intent may not read."""
    stripped = dict(data)
    stripped.update(content="", embeds=[], attachments=[], components=[])
    stripped.pop("poll", None)
    return stripped


class Gateway:
    """All gateway sessions and sockets of one emulator."""

    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identify_count = 0
        self.resume_count = 0
        self.compressions: list[str | None] = []
        self.open = asyncio.Event()
        self.open.set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # ---- sockets ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one gateway websocket from HELLO to close."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        conn = Connection(ws, compress)
        self.connections.add(conn)
        self.compressions.append(compress)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            if compress not in (None, "zlib-stream") and not (
                compress == "zstd-stream" and zstandard is not None
            ):
                await conn.close(4000, f"unsupported compression {compress}")
                return ws
            # During a held outage the socket opens but HELLO waits until the gateway is back.
            await self.open.wait()
            if conn.dead:
                return ws
            hello = {"heartbeat_interval": self.emu.heartbeat_interval_ms, "_trace": ["emu"]}
            conn.send(_dumps({"op": HELLO, "d": hello, "s": None, "t": None}))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await conn.close(4002, "decode error")
                    break
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await conn.close(4002, "decode error")
                    break
                await self._on_frame(conn, frame)
        finally:
            self._detach(conn)
            await conn.finish()
            self.connections.discard(conn)
            if task is not None:
                self._handlers.discard(task)
            self.emu.notify()
        return ws

    def _detach(self, conn: Connection) -> None:
        session = conn.session
        if session is None or session.connection is not conn:
            return
        session.connection = None
        # A client that closes cleanly (1000/1001) ends its session, as on Discord.
        if not conn.closed_by_server and conn.ws.close_code in (1000, 1001):
            self.sessions.pop(session.id, None)

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            conn.send(_dumps({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None}))
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif op == REQUEST_MEMBERS:
            if conn.session is None:
                await conn.close(4003, "not authenticated")
                return
            self._request_members(conn.session, data or {})
        elif op in (PRESENCE, VOICE_STATE):
            if conn.session is None:
                await conn.close(4003, "not authenticated")
        else:
            await conn.close(4001, f"unknown opcode {op}")

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.close(4005, "already authenticated")
            return
        if data.get("token") != self.emu.token:
            await conn.close(4004, "authentication failed")
            return
        shard = data.get("shard")
        shard_id, shard_count = (int(shard[0]), int(shard[1])) if shard else (0, 1)
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            await conn.close(4010, "invalid shard")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.emu.privileged_intents:
            await conn.close(4014, "disallowed intents")
            return
        session = Session(shard_id, shard_count, intents, shard_given=shard is not None)
        self.sessions[session.id] = session
        conn.session = session
        session.connection = conn
        self.identify_count += 1
        state = self.emu.state
        guilds = [g for g in state.guilds.values()
                  if state.shard_of(g.id, shard_count) == shard_id]
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**state.bot.payload(), "verified": True, "mfa_enabled": False,
                     "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.emu.gateway_url,
            "application": {"id": str(state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["emu"],
        }
        if session.shard_given:
            ready["shard"] = [shard_id, shard_count]
        session.dispatch("READY", ready)
        all_members = self.emu.send_all_members and bool(intents & INTENT_GUILD_MEMBERS)
        for guild in guilds:
            session.dispatch("GUILD_CREATE",
                             state.guild_create_payload(guild, all_members=all_members))
        self.emu.notify()

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.close(4005, "already authenticated")
            return
        if data.get("token") != self.emu.token:
            await conn.close(4004, "authentication failed")
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        seq = int(seq) if seq is not None else 0
        missed = [text for s, text in session.buffer if s > seq] if session else []
        oldest = session.buffer[0][0] if session and session.buffer else 1
        if session is None or (seq + 1 < oldest and session.seq > seq):
            # Unknown or expired session: the client must IDENTIFY again.
            if session is not None:
                self.sessions.pop(session.id, None)
            conn.send(_dumps({"op": INVALID_SESSION, "d": False, "s": None, "t": None}))
            return
        previous = session.connection
        if previous is not None and previous is not conn:
            previous.session = None
            await previous.close(4000, "session resumed elsewhere")
        conn.session = session
        session.connection = conn
        for text in missed:
            conn.send(text)
        session.dispatch("RESUMED", {"_trace": ["emu"]})
        self.resume_count += 1
        self.emu.notify()

    def _request_members(self, session: Session, data: dict[str, Any]) -> None:
        state = self.emu.state
        guild_ids = data.get("guild_id")
        for raw_id in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild = state.guilds.get(int(str(raw_id))) if raw_id is not None else None
            if guild is None:
                continue
            members = list(guild.members.values())
            not_found: list[str] = []
            user_ids = data.get("user_ids")
            if user_ids is not None:
                wanted = [int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
                members = [m for m in members if m.user_id in wanted]
                found = {m.user_id for m in members}
                not_found = [str(u) for u in wanted if u not in found]
            else:
                query = (data.get("query") or "").casefold()
                if query:
                    members = [m for m in members
                               if state.users[m.user_id].username.casefold().startswith(query)
                               or (m.nick or "").casefold().startswith(query)]
                limit = int(data.get("limit") or 0)
                if limit:
                    members = members[:limit]
            chunks = [members[i:i + CHUNK_SIZE] for i in range(0, len(members), CHUNK_SIZE)]
            chunks = chunks or [[]]
            for index, chunk in enumerate(chunks):
                payload: dict[str, Any] = {
                    "guild_id": str(guild.id),
                    "members": [state.member_payload(guild.id, m.user_id) for m in chunk],
                    "chunk_index": index,
                    "chunk_count": len(chunks),
                }
                if data.get("nonce") is not None:
                    payload["nonce"] = data["nonce"]
                if not_found and index == 0:
                    payload["not_found"] = not_found
                session.dispatch("GUILD_MEMBERS_CHUNK", payload)

    # ---- events ----------------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None,
                 intent: int | None = None,
                 content_visible: Callable[[Session], bool] | None = None) -> None:
        """Send an event to every session (connected or buffering) of the guild's shard."""
        state = self.emu.state
        for session in list(self.sessions.values()):
            if session.shard_id != state.shard_of(guild_id, session.shard_count):
                continue
            if intent is not None and not session.intents & intent:
                continue
            payload = data
            if content_visible is not None and not content_visible(session):
                payload = _strip_content(data)
            session.dispatch(event, payload)

    def may_read_content(self, session: Session, message: dict[str, Any]) -> bool:
        """Whether a session sees a message's content (intent, DM, own message or mention)."""
        if session.intents & INTENT_MESSAGE_CONTENT and self.emu.privileged_intents & (
            INTENT_MESSAGE_CONTENT
        ):
            return True
        bot_id = str(self.emu.state.bot.id)
        return (
            "guild_id" not in message
            or message["author"]["id"] == bot_id
            or any(u["id"] == bot_id for u in message.get("mentions", []))
        )

    def live_sessions(self) -> list[Session]:
        """Sessions with a socket that has finished IDENTIFY or RESUME."""
        return [s for s in self.sessions.values()
                if s.connection is not None and not s.connection.dead]

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued frame has been written to its socket."""
        for conn in list(self.connections):
            await conn.flush(timeout)

    # ---- faults ----------------------------------------------------------------------------

    async def drop(self, *, resumable: bool, hold: bool, shard_id: int | None = None) -> None:
        """Close every socket (or one shard's), keeping sessions only if resumable."""
        if hold:
            self.open.clear()

        def hit(session: Session | None) -> bool:
            return shard_id is None or (session is not None and session.shard_id == shard_id)

        dropped = [c for c in self.connections if hit(c.session)]
        for conn in dropped:
            session = conn.session
            if session is not None:
                if session.connection is conn:
                    session.connection = None
                if not resumable:
                    self.sessions.pop(session.id, None)
            conn.dead = True
        if not resumable:
            for session in [s for s in self.sessions.values() if hit(s)]:
                self.sessions.pop(session.id, None)
        await asyncio.gather(*(c.close(4000, "dropped by the emulator") for c in dropped))
        self.emu.notify()

    def release(self) -> None:
        """End a held outage: waiting sockets get HELLO."""
        self.open.set()

    async def request_reconnect(self) -> None:
        """Ask every connected client to reconnect (op 7), as Discord does before maintenance."""
        for session in self.live_sessions():
            if session.connection is not None:
                session.connection.send(_dumps({"op": RECONNECT, "d": None, "s": None, "t": None}))
        await self.flush()

    async def close(self) -> None:
        """Close every socket with 1001 (going away) and wait for their handlers."""
        self.open.set()
        await asyncio.gather(*(c.close(1001, "emulator stopping") for c in list(self.connections)))
        handlers = [t for t in self._handlers if not t.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=5)
