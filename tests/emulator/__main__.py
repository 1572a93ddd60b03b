"""Run the emulator as its own process: ``python -m tests.emulator --port N --state FILE``.

Prints one JSON line on stdout once it listens (base_url, api_base, gateway_url, token, ids
of the world built from --state), then serves until SIGINT/SIGTERM or POST /_emu/shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from .control import apply_spec, info, install, load_spec
from .server import DEFAULT_TOKEN, DiscordEmulator


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator",
                                     description="A local Discord API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", type=Path, help="a YAML/JSON world spec to build at start")
    parser.add_argument("--shards", type=int, default=1, help="shard count /gateway/bot reports")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--heartbeat-ms", type=int, default=2500)
    parser.add_argument("--interaction-deadline", type=float, default=3.0,
                        help="seconds a bot has to answer an interaction (0: no limit)")
    parser.add_argument("--all-members", action="store_true",
                        help="send every member in GUILD_CREATE instead of chunking")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    emu = DiscordEmulator(token=args.token, host=args.host, port=args.port,
                          shard_count=args.shards, heartbeat_interval_ms=args.heartbeat_ms,
                          interaction_deadline=args.interaction_deadline or None,
                          send_all_members=args.all_members)
    stopping = asyncio.Event()
    install(emu, stopping)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await emu.start()
    try:
        started = info(emu)
        if args.state is not None:
            started["world"] = apply_spec(emu, load_spec(args.state))
        sys.stdout.write(json.dumps(started) + "\n")
        sys.stdout.flush()
        await stopping.wait()
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> None:
    """Start the emulator and serve until told to stop."""
    args = _parse(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
