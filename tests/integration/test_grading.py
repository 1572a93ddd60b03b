"""A class through a graded lesson with the real bot: scores worked out by hand, line by line.

The course's policy (below) asks for two questions answered with 10 words or more (6 points)
and a reply to one classmate (4 points); late work loses credit linearly over 24 hours. The
lesson was posted three days ago and fell due a day ago; students reply through the gateway
(their messages backdated, as Discord stamps them), one edits after the due time, a teacher
gives one an extension with ``/extend``, and ``seminar grades`` previews a longer late window.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.core.config import load_settings
from storage.repository import Repository
from tests.emulator import DiscordEmulator
from tests.integration.classroom import Classroom, build_classroom, now
from tests.integration.conftest import COURSE, SEED, StartBot, until
from tests.records import audit_log

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
TITLE = "Stalin’s Crimes and Russia’s Future"
POLICY = {
    "min_words": 10,
    "points_per_lesson": 10,
    "questions": 2,
    "classmates": 1,
    "classmate_points": 4,
    "late_window_hours": 24,
}
WORDS = ("memory", "archives", "courage", "silence", "propaganda", "victims", "history",
         "truth", "families", "museums", "schools", "trials", "witnesses", "letters",
         "villages", "camps", "statues", "textbooks", "elections", "protests")


def words(n: int, start: int = 0) -> str:
    """``n`` different words (none of them copied from a question)."""
    return " ".join(WORDS[(start + i) % len(WORDS)] + str(i) for i in range(n))


@pytest.fixture
def room(emulator: DiscordEmulator) -> Classroom:
    return build_classroom(emulator, {name: None for name in
                                      ("alice", "bob", "carol", "dave", "erin")})


async def post_lesson(emulator: DiscordEmulator, repo: Repository, room: Classroom,
                      posted_at: dt.datetime, due_at: dt.datetime) -> list[int]:
    """The seed lesson as the posting cog leaves it: a message, and a thread per question."""
    channel = emulator.state.channel(room.channel_id)
    bot_user = emulator.state.bot
    post_id = await repo.posts.claim(COURSE, SEED, posted_at, due_at, "test")
    assert post_id is not None
    message = emulator.create_message(channel, bot_user, {"content": TITLE}, [],
                                      created_at=posted_at)
    await repo.posts.record_message(post_id, room.channel_id, int(message["id"]))
    threads = []
    for index in range(2):
        question = emulator.create_message(channel, bot_user, {"content": f"Q{index + 1}"}, [],
                                           created_at=posted_at)
        thread = emulator.add_thread(room.channel_id, f"Question {index + 1}",
                                     message_id=int(question["id"]), created_at=posted_at)
        await repo.posts.record_thread(post_id, index, thread.id, int(question["id"]),
                                       created_at=posted_at)
        threads.append(thread.id)
    await repo.posts.mark(post_id, "posted", now=posted_at)
    await emulator.gateway.flush()
    return threads


async def test_a_class_is_graded_as_worked_out_by_hand(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = now()
    due = t - DAY
    config = room.write_config(emulator, tmp_path, grading=POLICY)
    settings = load_settings(config)
    s = room.students
    async with start_bot(settings) as bot:
        repo = bot.repository
        q1, q2 = await post_lesson(emulator, repo, room, t - 3 * DAY, due)
        await bot.get_cog("ParticipationCog").threads.reload()  # type: ignore[union-attr]

        async def say(thread: int, who: str, text: str, at: dt.datetime,
                      reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
            return await emulator.user_message(
                thread, s[who], text, created_at=at,
                reply_to=int(reply_to["id"]) if reply_to else None)

        alice_1 = await say(q1, "alice", words(12), t - 2 * DAY)
        bob_1 = await say(q1, "bob", words(12, 3), t - 2 * DAY + 30 * 60 * dt.timedelta(0, 1))
        await say(q2, "alice", words(15, 5), t - 2 * DAY + HOUR, reply_to=bob_1)
        bob_short = await say(q2, "bob", "Yes I agree.", t - DAY - 2 * HOUR)
        carol = await say(q1, "carol", words(12, 7), t - 12 * HOUR, reply_to=alice_1)
        dave_1 = await say(q1, "dave", words(20, 9), t - 12 * HOUR)
        dave_2 = await say(q2, "dave", words(11, 2), t - 6 * HOUR, reply_to=carol)
        sent = [alice_1, bob_1, bob_short, carol, dave_1, dave_2]

        async def all_recorded() -> bool:
            return all([await repo.replies.get(int(m["id"])) is not None for m in sent])

        await until(all_recorded)
        # After the due time Bob pads his three-word reply: it keeps its three words for grading.
        await emulator.user_edit(q2, int(bob_short["id"]), words(15, 1))

        async def edited() -> bool:
            record = await repo.replies.get(int(bob_short["id"]))
            return record is not None and record.word_count == 15

        await until(edited)
        # Dave was ill: his teacher excuses him until an hour ago, after the fact.
        extend = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "extend",
            options={"student": s["dave"], "lesson": SEED,
                     "until": (t - HOUR).astimezone(settings.courses[COURSE].zone)
                     .strftime("%Y-%m-%d %H:%M")})
        mystats = {name: await emulator.invoke_command(room.guild_id, room.channel_id, s[name],
                                                       "mystats") for name in s}
        report = await emulator.invoke_command(room.guild_id, room.channel_id, room.teacher_id,
                                               "participation", subcommand="report")
        export = await emulator.invoke_command(room.guild_id, room.channel_id, room.teacher_id,
                                               "participation", subcommand="export")
        dave_replies = [await repo.replies.get(int(m["id"])) for m in (dave_1, dave_2)]
        audit = await audit_log(repo, COURSE, action="extend")

    assert extend.final().ephemeral and "**dave** now has until" in extend.final().content
    assert [(e.actor_id, e.detail.split()[:2]) for e in audit] == [
        (room.teacher_id, [str(s["dave"]), SEED])]
    # The extension turned Dave's two late replies into on-time ones.
    assert [r.late for r in dave_replies if r is not None] == [False, False]

    # The scores, worked out by hand (6 points for two questions, 4 for one classmate):
    lines = {name: mystats[name].final().content.split("\n") for name in s}
    assert all(mystats[name].final().ephemeral for name in s)
    assert lines["alice"][2:] == [
        "**Total: 10/10 over 1 graded lesson**",
        "**Per lesson**",
        f"• **{TITLE}**: 10/10 — answered 2 of 2 questions required (10 words or more) ✔ 6/6, "
        "replied to 1 of 1 classmate required ✔ 4/4, on time",
    ]
    # Bob: one question (3 of 6), no classmate; his padded reply still counts 3 words.
    assert lines["bob"][2:] == [
        "**Total: 3/10 over 1 graded lesson**",
        "**Per lesson**",
        f"• **{TITLE}**: 3/10 — answered 1 of 2 questions required (10 words or more) 3/6, "
        "replied to 0 of 1 classmate required 0/4, on time, 1 short reply (under 10 words) "
        "not counted, 1 reply edited after the due time, graded as at the due time",
    ]
    # Carol: 12 hours late with a 24-hour window, half credit: 6 x 1/2 x 1/2 + 4 x 1/2.
    assert lines["carol"][2:] == [
        "**Total: 3.5/10 over 1 graded lesson**",
        "**Per lesson**",
        f"• **{TITLE}**: 3.5/10 — answered 1 of 2 questions required (10 words or more) 1.5/6, "
        "replied to 1 of 1 classmate required 2/4, an answer 12 h late: 50% credit, "
        "a reply to a classmate 12 h late: 50% credit",
    ]
    dave_due = f"<t:{int((t - HOUR).replace(second=0).timestamp())}:f>"  # typed to the minute
    assert lines["dave"][2:] == [
        "**Total: 10/10 over 1 graded lesson**",
        "**Per lesson**",
        f"• **{TITLE}**: 10/10 — answered 2 of 2 questions required (10 words or more) ✔ 6/6, "
        f"replied to 1 of 1 classmate required ✔ 4/4, on time · due {dave_due} (extended)",
    ]
    assert lines["erin"][1:] == [
        "**Total: 0/10 over 1 graded lesson**",
        "**Per lesson**",
        f"• **{TITLE}**: 0/10 — no reply",
    ]
    # Each student sees only their own numbers.
    for name, text in lines.items():
        assert not any(other in "\n".join(text) for other in s if other != name)

    grades = {line.split("**")[1]: line.rsplit("grade ", 1)[1]
              for line in report.final().content.split("\n")[1:] if "grade" in line}
    assert grades == {"alice": "**10/10**", "bob": "**3/10**", "carol": "**3.5/10**",
                      "dave": "**10/10**", "erin": "**0/10**"}
    [attachment] = export.final().attachments
    rows = {row["display_name"]: row for row in
            csv.DictReader(io.StringIO(attachment["content"].decode("utf-8-sig"), newline=""))}
    assert {name: rows[name]["grade"] for name in s} == {
        "alice": "10", "bob": "3", "carol": "3.5", "dave": "10", "erin": "0"}
    assert rows["carol"]["grade_explained"].split("\n")[0] == lines["carol"][4].replace(
        "• **", "").replace("**", "")
    # The report's late count follows the extension too.
    assert rows["dave"]["late_replies"] == "0" and rows["carol"]["late_replies"] == "1"

    # A longer late window, previewed: only Carol's grade would change (12 h of 48: 75%).
    policy = tmp_path / "longer-window.yaml"
    policy.write_text(yaml.safe_dump({"grading": {**POLICY, "late_window_hours": 48}}),
                      encoding="utf-8")
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["grades", "--config", str(config), "--course",
                                          COURSE, "--policy", str(policy)]) == 0
    out = capsys.readouterr().out.split("\n")
    # Offline, the class list is who replied (Erin never did).
    assert out[0].startswith(f"1 of 4 student(s) of {COURSE} would get another total")
    assert out[2].split() == ["carol", f"({s['carol']})", "3.5/10", "5.25/10"]
    # The same policy again: nothing changes, and it says so.
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    assert await asyncio.to_thread(main, ["grades", "--config", str(config), "--course",
                                          COURSE, "--policy", str(same)]) == 0
    assert capsys.readouterr().out.startswith(
        f"No grade changes: under {same} each of the 4 student(s) of {COURSE} keeps")
