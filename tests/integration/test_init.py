"""``seminar init`` from an empty folder, in a pseudo-terminal, against the emulator: it prints
the invite link, waits for the bot to join a server, offers its channels and roles by name,
asks again after a wrong time zone, imports a lesson page, and writes a config that
``seminar check --online`` passes. Unattended, every answer is a flag."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from bot.cli import main
from tests.emulator import DiscordEmulator
from tests.integration.conftest import SEED

PAGE = Path(__file__).resolve().parent.parent / "pages" / "seed.txt"
TIMEOUT = 30


def number_of(listing: str, label: str) -> str:
    """The number the wizard shows before ``label`` in its numbered list."""
    found = re.search(rf"(\d+)\) {re.escape(label)}\s*$", listing, re.MULTILINE)
    assert found is not None, (label, listing)
    return found.group(1)


def school(emulator: DiscordEmulator) -> dict[str, int]:
    guild = emulator.add_guild(name="Lincoln High")
    teacher = emulator.add_role(guild.id, "Teacher")
    student = emulator.add_role(guild.id, "Student")
    emulator.add_text_channel(guild.id, name="general")
    history = emulator.add_text_channel(guild.id, name="history-101")
    teachers = emulator.add_text_channel(guild.id, name="teachers")
    return {"guild": guild.id, "teacher": teacher.id, "student": student.id,
            "history": int(history["id"] if isinstance(history, dict) else history.id),
            "teachers": int(teachers["id"] if isinstance(teachers, dict) else teachers.id)}


async def test_seminar_init_in_a_terminal_writes_a_config_that_passes_the_online_check(
    emulator: DiscordEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Run where the teacher would: the config's SQLite file is relative to this folder.
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "DISCORD_TOKEN": emulator.token, "TZ": "UTC", "COLUMNS": "200",
           "NO_COLOR": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "bot", "init", "--api-base",
                                           emulator.api_base, str(PAGE)],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(50, 200))
    try:
        # No server yet: the link to add the bot, then it waits.
        await asyncio.to_thread(child.expect, "Waiting until the bot has been added")
        invite = re.search(r"https://discord\.com/oauth2/authorize\S+", child.before)
        ids = school(emulator)  # the teacher opens the link and adds the bot

        def answer() -> dict[str, str]:
            seen: dict[str, str] = {}
            child.expect("The class channel.*Number")
            seen["class"] = child.after
            child.sendline(number_of(child.after, "#history-101"))
            child.expect("The teachers' channel.*Number")
            child.sendline(number_of(child.after, "#teachers"))
            child.expect("The teachers' role.*Number")
            child.sendline(number_of(child.after, "@Teacher"))
            child.expect("The students' role.*Number")
            child.sendline(number_of(child.after, "@Student"))
            child.expect(r"short key \S*\(history-101\)")
            child.sendline("")
            child.expect("The course's name")
            child.sendline("History 101")
            child.expect("Time zone")
            child.sendline("Mars/Olympus_Mons")
            child.expect("not an IANA time zone name")
            child.expect("Time zone")
            child.sendline("America/Chicago")
            child.expect("Lesson days")
            child.sendline("tue thu")
            child.expect("Posting time")
            child.sendline("")
            child.expect("First day")
            child.sendline("2026-09-01")
            child.expect("Last day")
            child.sendline("2026-12-15")
            child.expect("Days without a lesson")
            child.sendline("2026-11-26")
            child.expect(pexpect.EOF)
            seen["end"] = child.before
            child.close()
            return seen

        seen = await asyncio.to_thread(answer)
    finally:
        if child.isalive():
            child.terminate(force=True)

    assert invite is not None and "scope=bot+applications.commands" in invite.group(0)
    assert "permissions=395137108992" in invite.group(0)
    assert "#general" in seen["class"]  # offered by name, never by id
    assert child.exitstatus == 0, seen["end"]
    assert "The server is set up" in seen["end"] and "make run" in seen["end"]
    config = tmp_path / "config.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    course = data["courses"]["history-101"]
    assert (course["guild_id"], course["channel_id"], course["teacher_channel_id"],
            course["teacher_role_id"], course["student_role_id"]) == (
        ids["guild"], ids["history"], ids["teachers"], ids["teacher"], ids["student"])
    assert course["timezone"] == "America/Chicago"
    assert course["calendar"]["weekly"]["weekdays"] == ["tue", "thu"]
    assert course["calendar"]["weekly"]["lessons"] == [SEED]
    assert (tmp_path / "prompts" / f"{SEED}.yaml").exists()
    assert "# the class channel #history-101" in config.read_text(encoding="utf-8")

    # The config it wrote passes the online check.
    monkeypatch.setenv("DISCORD_TOKEN", emulator.token)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["check", "--online", "--config", str(config)]) == 0
    assert (tmp_path / "seminar.db").exists()  # the verdict, kept where the bot will run
    assert "Online: every course's server is set up" in capsys.readouterr().out


async def test_seminar_init_unattended_takes_every_answer_as_a_flag_and_refuses_to_overwrite(
    emulator: DiscordEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = school(emulator)
    monkeypatch.setenv("DISCORD_TOKEN", emulator.token)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "school.yaml"
    flags = ["init", "--no-input", "--config", str(config), "--api-base", emulator.api_base,
             "--class-channel", "history-101", "--teachers-channel", str(ids["teachers"]),
             "--teacher-role", "Teacher", "--student-role", "@Student",
             "--timezone", "Europe/Paris", "--weekdays", "mon", "--time", "10:30",
             "--start", "2026-09-07", "--end", "2026-12-18", str(PAGE)]
    assert await asyncio.to_thread(main, flags) == 0
    course = yaml.safe_load(config.read_text(encoding="utf-8"))["courses"]["history-101"]
    assert (course["channel_id"], course["timezone"]) == (ids["history"], "Europe/Paris")
    assert course["calendar"]["weekly"]["time"] == "10:30"
    # Again: the config exists, so nothing is overwritten without --force.
    capsys.readouterr()
    assert await asyncio.to_thread(main, flags) == 1
    assert "already exists: not overwritten (use --force" in capsys.readouterr().err
    # Without a lesson there is no calendar to write: said before anything is asked.
    empty = tmp_path / "empty"
    empty.mkdir()
    bare = [f for f in flags if f != str(PAGE)]
    bare[bare.index("--config") + 1] = str(empty / "config.yaml")
    assert await asyncio.to_thread(main, bare) == 1
    assert "there is no lesson yet" in capsys.readouterr().err
    assert not (empty / "config.yaml").exists()
    # A channel that is not in the server is named with the choices.
    wrong = [f if f != "history-101" else "history-999" for f in flags] + ["--force"]
    assert await asyncio.to_thread(main, wrong) == 1
    err = capsys.readouterr().err
    assert "--class-channel 'history-999' is not one of them" in err and "#history-101" in err
