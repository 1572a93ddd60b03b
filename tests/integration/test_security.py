"""Who may see and change what, and where the token may never go.

* Teacher commands refuse every member without the course's teacher role (or Manage Server),
  even after a server admin opened them to @everyone in Server Settings > Integrations; the
  member gets one private sentence, no data, and nothing changes.
* A teacher of one course gets nothing from another course's channel.
* No command a student can use takes another member as an argument; /mystats after real
  replies in the lesson threads shows the caller's numbers only.
* ``seminar run`` at DEBUG, through commands, injected failures, a gateway resume and a token
  reset in the developer portal, never writes the token (or its first part) anywhere; no file
  in the repository holds anything shaped like a bot token.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.config import load_settings
from tests.emulator import DiscordEmulator
from tests.integration.classroom import (
    NOT_TEACHER,
    Classroom,
    build_classroom,
    now,
    post_lesson,
    reply,
    two_lessons,
)
from tests.integration.conftest import COURSE, SEED, StartBot, until
from tests.records import audit_log, reminded

REPO = Path(__file__).resolve().parents[2]
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
USER, BOOLEAN, STRING = 6, 5, 3
SUBCOMMAND, GROUP = 1, 2
# What a bot token looks like: base64 of the bot's id, a timestamp, an HMAC.
TOKEN_SHAPE = re.compile(r"[MNO][A-Za-z0-9_-]{20,30}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}")


@pytest.fixture
def room(emulator: DiscordEmulator, tmp_path: Path) -> Classroom:
    two_lessons(tmp_path)
    room = build_classroom(emulator, {"alice": None, "bob": None})
    emulator.allow_command(room.guild_id, "schedule", role_id=room.teacher_role_id)
    return room


# --- teacher commands ------------------------------------------------------------------------


def teacher_invocations(commands: list[dict[str, Any]], student_id: int
                        ) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """Every teacher command and subcommand, first with its required options, then with all.

    Teacher commands are the ones Discord hides by default (``default_member_permissions``);
    reading them from what was synced means a new teacher command is checked too.
    """
    values = {STRING: SEED, USER: student_id, BOOLEAN: True}

    def filled(options: list[dict[str, Any]], every: bool) -> dict[str, Any]:
        # An option with choices takes its first (Discord refuses any other value).
        return {o["name"]: o["choices"][0]["value"] if o.get("choices") else values[o["type"]]
                for o in options if every or o.get("required")}

    for command in commands:
        if command.get("default_member_permissions") is None:
            continue
        leaves: list[tuple[str | None, list[dict[str, Any]]]] = []
        options = command.get("options") or []
        if not any(o["type"] in (SUBCOMMAND, GROUP) for o in options):
            leaves.append((None, options))
        for option in options:
            if option["type"] == SUBCOMMAND:
                leaves.append((option["name"], option.get("options") or []))
            elif option["type"] == GROUP:
                leaves += [(f"{option['name']} {sub['name']}", sub.get("options") or [])
                           for sub in option.get("options") or []]
        for sub, leaf_options in leaves:
            yield command["name"], sub, filled(leaf_options, every=False)
            if any(not o.get("required") for o in leaf_options):
                yield command["name"], sub, filled(leaf_options, every=True)


async def test_teacher_commands_refuse_members_even_when_opened_to_everyone(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    alice, bob = room.students["alice"], room.students["bob"]
    t = now()
    later = (t + 30 * DAY).astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    settings = room.settings(emulator, tmp_path, calendar={"entries": [
        {"lesson": SEED, "post_at": later, "due_at": later + 7 * DAY}]})
    async with start_bot(settings) as bot:
        repo = bot.repository
        assert repo is not None
        post, threads = await post_lesson(repo, emulator, room, scheduled_at=t - 2 * DAY,
                                          due_at=t + DAY)
        await repo.replies.record([reply(post, threads, 0, bob, "bob", t - DAY, 40)])
        commands = emulator.commands(room.guild_id)
        # A server admin opens every command to @everyone (Server Settings > Integrations).
        for command in commands:
            emulator.allow_command(room.guild_id, command["name"], role_id=room.guild_id)
        invocations = list(teacher_invocations(commands, bob))
        answers = []
        for member in (alice, room.outsider_id):
            for name, sub, options in invocations:
                result = await emulator.invoke_command(
                    room.guild_id, room.channel_id, member, name, options=options or None,
                    subcommand=sub)
                answers.append((f"/{name} {sub or ''} {options}", result))
        # The teacher still can: the refusals are not a broken command.
        teacher = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "participation",
            subcommand="report")
        replies = await repo.replies.matching(COURSE)
        posts = await repo.posts.matching(COURSE)
        audit = await audit_log(repo, COURSE)
        pinged = await reminded(repo, post.id)

    assert {name for name, _, _ in invocations} >= {"schedule", "participation", "remind",
                                                     "forget"}
    assert len(answers) >= 2 * 9
    for what, result in answers:
        shown = result.final()
        assert shown is not None, what
        assert (shown.content, shown.ephemeral) == (NOT_TEACHER, True), what
        assert not shown.attachments and not shown.embeds and not shown.buttons(), what
        assert not result.followups or result.followups == [shown], what
    assert "bob" in teacher.final().content and "40 words" in teacher.final().content
    # Nothing changed: bob's reply is there, nothing was posted, skipped, reminded or audited.
    assert [r.author_id for r in replies] == [bob]
    assert [(p.lesson, p.status) for p in posts] == [(SEED, "posted")]
    assert pinged == set()
    assert [a for a in audit if a.actor_id in (alice, room.outsider_id)] == []
    assert emulator.calls_to("POST", r"^/channels/\d+/(messages|threads)") == []
    assert emulator.calls_to("POST", r"^/channels/\d+/messages/\d+/threads$") == []


async def test_a_teacher_of_another_course_gets_nothing_from_this_one(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    chemistry_role = emulator.add_role(room.guild_id, "Chemistry teacher")
    chemistry = emulator.add_text_channel(room.guild_id, name="chemistry-201")
    chemist = emulator.add_member(room.guild_id, "mr-white", roles=[chemistry_role.id])
    emulator.allow_command(room.guild_id, "participation", role_id=chemistry_role.id)
    config = room.course_config(emulator, tmp_path)
    config["courses"]["chemistry-201"] = {
        "name": "Chemistry 201", "guild_id": room.guild_id, "channel_id": int(chemistry.id),
        "timezone": "America/New_York", "teacher_role_id": chemistry_role.id,
        "student_role_id": room.student_role_id}
    path = tmp_path / "two-courses.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    t = now()
    async with start_bot(load_settings(path)) as bot:
        assert bot.repository is not None
        post, threads = await post_lesson(bot.repository, emulator, room,
                                          scheduled_at=t - DAY, due_at=t + DAY)
        await bot.repository.replies.record([
            reply(post, threads, 0, room.students["alice"], "alice", t - HOUR, 12)])
        # In History's channel the chemistry teacher is nobody's teacher...
        there = await emulator.invoke_command(room.guild_id, room.channel_id, chemist.id,
                                              "participation", subcommand="report")
        exported = await emulator.invoke_command(room.guild_id, room.channel_id, chemist.id,
                                                 "participation", subcommand="export")
        # ...and in their own channel the report is Chemistry's, without History's replies.
        own = await emulator.invoke_command(room.guild_id, int(chemistry.id), chemist.id,
                                            "participation", subcommand="report")
    for refused in (there, exported):
        assert (refused.final().content, refused.final().ephemeral) == (NOT_TEACHER, True)
        assert not refused.final().attachments
    assert own.final().content.startswith("**Participation in Chemistry 201**")
    assert "12 words" not in own.final().content


async def test_no_command_a_student_can_use_takes_another_member(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    async with start_bot(room.settings(emulator, tmp_path)):
        commands = emulator.commands(room.guild_id)
        alice = room.students["alice"]
        choices = [await emulator.autocomplete(room.guild_id, room.channel_id, alice, name,
                                               focused="lesson", value=typed)
                   for name in ("lesson", "resources", "transcript") for typed in ("", "a", "b")]

    def member_options(options: list[dict[str, Any]]) -> Iterator[str]:
        for option in options:
            if option["type"] in (USER, 9):  # a user, or a user-or-role
                yield option["name"]
            yield from member_options(option.get("options") or [])

    taking_members = {c["name"] for c in commands if list(member_options(c.get("options") or []))}
    open_to_students = {c["name"] for c in commands if c.get("default_member_permissions") is None}
    assert taking_members == {"participation", "forget", "extend", "roster"}
    assert not taking_members & open_to_students
    # Autocomplete offers lessons, never people.
    lesson_names = {"stalins-crimes-and-russias-future", "glasnost"}
    assert all({c["value"] for c in offered} <= lesson_names for offered in choices)


async def test_mystats_after_real_replies_shows_only_the_callers_numbers(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    alice, bob = room.students["alice"], room.students["bob"]
    async with start_bot(room.settings(emulator, tmp_path)) as bot:
        repo = bot.repository
        assert repo is not None
        posted = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "schedule",
            options={"lesson": SEED}, subcommand="post")
        assert posted.final().content.startswith("Posted “")
        first, second = [int(t["id"]) for t in emulator.threads(room.channel_id)][:2]
        await emulator.user_message(first, alice, "I think the purges were about fear itself.")
        await emulator.user_message(second, bob, " ".join(f"bob{n}" for n in range(31)))
        await emulator.user_message(first, bob, "And a second reply from bob here.")

        async def both_recorded() -> bool:
            return len(await repo.replies.matching(COURSE)) == 3

        await until(both_recorded)
        mine = await emulator.invoke_command(room.guild_id, first, alice, "mystats")
        his = await emulator.invoke_command(room.guild_id, room.channel_id, bob, "mystats")

    shown = mine.final()
    assert shown.ephemeral and his.final().ephemeral
    assert "**Your participation in History 101**" in shown.content
    assert "1 reply" in shown.content and "8 words" in shown.content
    assert "bob" not in shown.content.lower() and "38 words" not in shown.content
    assert "2 replies" in his.final().content and "38 words" in his.final().content
    assert "alice" not in his.final().content.lower()
    # Nobody else saw either answer: ephemeral, so nothing in the channel or threads.
    for channel in (room.channel_id, first, second):
        assert all("participation" not in (m.get("content") or "").lower()
                   for m in emulator.messages(channel))


# --- the token ---------------------------------------------------------------------------------


def token_for(user_id: int) -> str:
    """A token shaped like Discord's: base64 of the bot's id, a timestamp part, an HMAC part.

    Made at run time, so this file holds no token-shaped text itself.
    """
    first = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{first}.{secrets.token_urlsafe(8)[:6]}.{secrets.token_urlsafe(32)[:38]}"


def config_file(emulator: DiscordEmulator, room: Classroom, tmp_path: Path) -> Path:
    data = room.course_config(emulator, tmp_path)
    data["discord"]["token_env"] = "SEMINAR_TEST_TOKEN"
    data["log_level"] = "DEBUG"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def run_seminar(config: Path, token: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "SEMINAR_TEST_TOKEN": token}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the process to end; its exit code and everything it wrote."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, (out + err).decode("utf-8", "replace")


def assert_nowhere(token: str, log: str, folder: Path) -> None:
    """Neither the token nor any of its parts is in the log or in any file the bot wrote."""
    parts = token.split(".")
    for secret in (token, parts[0], parts[2]):
        assert secret not in log
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


async def test_the_token_never_reaches_the_log_of_seminar_run(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path,
) -> None:
    token = token_for(emulator.state.bot.id)
    emulator.token = token
    config = config_file(emulator, room, tmp_path)
    alice = room.students["alice"]
    process = await run_seminar(config, token)
    try:
        await emulator.wait_until_connected(timeout=30)
        await emulator.wait_for(lambda: any(
            c["name"] == "mystats" for c in emulator.commands(room.guild_id)))
        shown = await emulator.invoke_command(room.guild_id, room.channel_id, alice, "lesson")
        # Discord fails once (retried), then refuses an answer outright (a logged traceback).
        emulator.inject("POST", r"^/interactions/", status=502, times=1)
        retried = await emulator.invoke_command(room.guild_id, room.channel_id, alice,
                                                "resources", options={"lesson": SEED})
        emulator.inject("POST", r"^/interactions/", status=400, times=1)
        refused = await emulator.invoke_command(room.guild_id, room.channel_id, alice,
                                                "transcript", options={"lesson": SEED})
        # The connection drops and the bot resumes (its RESUME carries the token).
        await emulator.drop_gateway(resumable=True)
        await emulator.wait_for(lambda: emulator.resume_count >= 1)
        again = await emulator.invoke_command(room.guild_id, room.channel_id, alice, "lesson")
        # The teacher resets the token in the developer portal: the next resume is refused.
        emulator.token = token_for(emulator.state.bot.id)
        await emulator.drop_gateway(resumable=True)
        code, log = await finish(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert shown.final().embeds and retried.final().components and again.final().embeds
    assert refused.final().content.startswith("Sorry, something went wrong on my side.")
    # DEBUG logging really was on, and the failures really were logged.
    assert "DEBUG" in log and "Command /transcript" in log
    assert code == 1, log[-3000:]
    assert "Discord rejected the bot token in the environment variable SEMINAR_TEST_TOKEN" in log
    assert log.count("Traceback") == 1, log[-3000:]  # the refused answer's, nothing else
    assert_nowhere(token, log, tmp_path)


async def test_a_rejected_token_at_start_is_not_logged(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path,
) -> None:
    wrong = token_for(emulator.state.bot.id)
    process = await run_seminar(config_file(emulator, room, tmp_path), wrong)
    code, log = await finish(process)
    assert code == 1
    assert "Discord rejected the bot token in the environment variable SEMINAR_TEST_TOKEN" in log
    assert "Traceback" not in log
    assert_nowhere(wrong, log, tmp_path)


def repository_files() -> list[Path]:
    """The files of the repository (as git tracks them; every file outside caches if no git)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                                check=True).stdout.decode().split("\0")
        return [REPO / name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".hypothesis", ".mypy_cache", ".ruff_cache",
                ".pytest_cache"}
        return [p for p in REPO.rglob("*") if p.is_file() and not skip & set(p.parts)]


def test_no_file_in_the_repository_holds_a_token() -> None:
    files = repository_files()
    assert any(p.name == "config.example.yaml" for p in files)
    found = []
    for path in files:
        if not path.is_file():
            continue  # deleted in the working tree, not yet in git
        text = path.read_bytes().decode("utf-8", "replace")
        found += [f"{path.relative_to(REPO)}: {m.group()[:12]}..."
                  for m in TOKEN_SHAPE.finditer(text)]
        found += [f"{path.relative_to(REPO)}: a token assigned in a .env file"
                  for _ in re.finditer(r"(?m)^\s*(export\s+)?DISCORD_TOKEN\s*=\s*\S{20,}", text)
                  if path.suffix in ("", ".env") or path.name.startswith(".env")]
    assert found == []
    # The shape does match a real-looking token, so an empty list means something.
    assert TOKEN_SHAPE.fullmatch(token_for(1_234_567_890_123_456_789))
