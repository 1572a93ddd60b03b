"""An answer-first lesson with the real bot: nobody reads a question's thread before answering.

Three students: Alice answers on time (she has an extension), Bob answers after the due time
(late), Carol never does. At each step the test asks the emulator, which applies Discord's
rule for private threads (members, and those who may manage threads), who can read the thread;
it checks the records, a double submit, an edit through the author's button, the teacher's
view, and that a reminder lets nobody in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.emulator import ActionRejected, DiscordEmulator
from tests.emulator.model import MANAGE_THREADS, PRIVATE_THREAD
from tests.integration.classroom import Classroom, build_classroom
from tests.integration.conftest import COURSE, SEED, StartBot, until

ZONE = ZoneInfo("America/New_York")
WORDS = "Memory of the victims matters because archives let families find the truth"


@pytest.fixture
def room(emulator: DiscordEmulator) -> Classroom:
    return build_classroom(emulator, {name: None for name in ("alice", "bob", "carol")})


def local(moment: dt.datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def can_read(emulator: DiscordEmulator, user: int, thread: int) -> bool:
    try:
        emulator.read_as(user, thread)
    except ActionRejected:
        return False
    return True


async def test_students_read_a_question_thread_only_after_answering_it(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    s = room.students
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    # Teachers may manage threads in the class channel (Discord shows them private threads).
    emulator.set_overwrite(room.channel_id, room.teacher_role_id, member=False,
                           allow=MANAGE_THREADS)
    settings = room.settings(
        emulator, tmp_path, answer_first=True, teacher_channel_id=room.other_channel_id,
        calendar={"entries": [{"lesson": SEED, "post_at": local(now - dt.timedelta(hours=2)),
                               "due_at": local(now - dt.timedelta(minutes=10))}]},
        extensions=[{"student": s["alice"], "lesson": SEED,
                     "until": local(now + dt.timedelta(days=1))}],
        reminders={"hours_before_due": 1})

    async with start_bot(settings) as bot:
        repo = bot.repository

        async def posted() -> Any:
            post = await repo.posts.latest(COURSE, SEED)
            return post if post is not None and post.status == "posted" else None

        post = await until(posted)
        threads = {t.question_index: t.thread_id for t in await repo.posts.threads_of(post.id)}
        q1 = threads[0]
        bot_id = bot.user.id if bot.user else 0
        def answer_button(message: dict[str, Any]) -> str | None:
            return next((c["custom_id"] for row in message.get("components") or []
                         for c in row["components"]
                         if c.get("custom_id", "").startswith("seminar:answer:")), None)

        questions = [m for m in emulator.messages(room.channel_id)
                     if m["author"]["id"] == str(bot_id) and answer_button(m)]
        answer_ids = [answer_button(m) or "" for m in questions]
        # Each question's thread is private; nobody but the bot is in it yet.
        kinds = {t["id"]: t["type"] for t in emulator.threads(room.channel_id)}
        before = {name: can_read(emulator, s[name], q1) for name in s}
        teacher_before = can_read(emulator, room.teacher_id, q1)
        with pytest.raises(ActionRejected):
            await emulator.user_message(q1, s["carol"], "Let me in")

        async def answer(name: str, text: str) -> tuple[Any, Any]:
            message = questions[0]
            pressed = await emulator.click_button(room.guild_id, room.channel_id, s[name],
                                                  int(message["id"]), answer_ids[0])
            submitted = await emulator.submit_modal(pressed, {"answer": text})
            return pressed, submitted

        alice_pressed, alice_done = await answer("alice", WORDS)
        after_alice = {name: can_read(emulator, s[name], q1) for name in s}
        # Bob opens the form on two devices and submits both at once, then the first again:
        # one answer is posted.
        bob_forms = [await emulator.click_button(room.guild_id, room.channel_id, s["bob"],
                                                 int(questions[0]["id"]), answer_ids[0])
                     for _ in range(2)]
        bob_first, bob_second = await asyncio.gather(*(
            emulator.submit_modal(form, {"answer": "Short late answer"}) for form in bob_forms))
        bob_again = await emulator.submit_modal(bob_forms[0], {"answer": "Short late answer"})
        # A second press of Answer links to the thread instead of opening the form.
        alice_again = await emulator.click_button(room.guild_id, room.channel_id, s["alice"],
                                                  int(questions[0]["id"]), answer_ids[0])
        # Bob replies to Alice's answer like in any thread: a peer reply to Alice.
        in_thread = [m for m in emulator.messages(q1) if m["author"]["id"] == str(bot_id)
                     and m.get("embeds")]
        alice_message = next(m for m in in_thread if "alice" in m["embeds"][0]["author"]["name"])
        bob_reply = await emulator.user_message(q1, s["bob"], "I agree with your point on "
                                                "archives and families", reply_to=int(
                                                    alice_message["id"]))
        # Alice edits her answer with the button only she may use; Carol may not.
        edit_id = next(c["custom_id"] for row in alice_message["components"]
                       for c in row["components"] if c["label"] == "Edit my answer")
        carol_edit = await emulator.click_button(room.guild_id, q1, s["carol"],
                                                 int(alice_message["id"]), edit_id)
        edit_form = await emulator.click_button(room.guild_id, q1, s["alice"],
                                                int(alice_message["id"]), edit_id)
        await emulator.submit_modal(edit_form, {"answer": WORDS + " and schools teach it"})

        async def recorded() -> Any:
            reply = await repo.replies.get(int(bob_reply["id"]))
            edited = await repo.replies.get(int(alice_message["id"]))
            return reply if reply and edited and edited.edited_at else None

        bob_peer = await until(recorded)
        alice_record = await repo.replies.get(int(alice_message["id"]))
        bob_answer = next(m for m in emulator.messages(q1)
                          if m.get("embeds") and "bob" in m["embeds"][0]["author"]["name"])
        bob_record = await repo.replies.get(int(bob_answer["id"]))
        reminded = await emulator.invoke_command(room.guild_id, room.channel_id,
                                                 room.teacher_id, "remind",
                                                 options={"lesson": SEED})
        members_after_reminder = set(emulator.state.channel(q1).thread_members)
        final = {name: can_read(emulator, s[name], q1) for name in s}
        stats = {name: await emulator.invoke_command(room.guild_id, room.channel_id, s[name],
                                                     "mystats") for name in s}

    # The threads are private, and nobody read one before answering.
    assert {kinds[str(t)] for t in threads.values()} == {PRIVATE_THREAD}
    assert before == {"alice": False, "bob": False, "carol": False}
    assert teacher_before  # a teacher with Manage Threads sees everything, always
    assert alice_pressed.modal is not None and alice_done.final().ephemeral
    assert f"/{q1}" in alice_done.final().content  # the link to the thread
    assert after_alice == {"alice": True, "bob": False, "carol": False}
    assert final == {"alice": True, "bob": True, "carol": False}
    # One answer for Bob, whatever he clicked twice.
    answers = sorted(r.final().content.split(":")[0] for r in (bob_first, bob_second))
    assert answers == ["Your answer is already posted", "Your answer is posted. You can now "
                       "read and reply to your classmates in https"]
    assert "already posted" in bob_again.final().content
    bobs = [m for m in emulator.messages(q1)
            if m.get("embeds") and "bob" in m["embeds"][0]["author"]["name"]]
    assert len(bobs) == 1
    assert alice_again.modal is None and "You have answered" in alice_again.final().content
    # The records: the answer is the student's reply, timed by the submit.
    assert alice_record is not None and bob_record is not None
    assert (alice_record.author_id, alice_record.late) == (s["alice"], False)  # her extension
    assert (bob_record.author_id, bob_record.late) == (s["bob"], True)
    assert alice_record.word_count == len((WORDS + " and schools teach it").split())
    assert bob_peer.reply_to_author_id == s["alice"]  # a reply to her answer is to her
    assert "Only the student who wrote" in carol_edit.final().content
    # The reminder went to the class channel and let nobody into the thread.
    assert reminded.final().content.startswith("Reminded 1 student(s)")
    assert members_after_reminder == {bot_id, s["alice"], s["bob"]}
    reminder = [m for m in emulator.messages(room.channel_id) if f"<@{s['carol']}>" in
                m["content"]]
    assert reminder and "Answer" in reminder[0]["content"]
    assert not any(f"<@{s['carol']}>" in m["content"] for m in emulator.messages(q1))
    # Each student's own numbers: Carol has none.
    assert "no reply" in stats["carol"].final().content


async def test_an_answer_first_post_names_the_permission_the_bot_lacks(
    emulator: DiscordEmulator, room: Classroom, tmp_path: Path, start_bot: StartBot,
) -> None:
    # The bot may not manage threads in the class channel: it could not let students in.
    emulator.set_bot_permissions(room.guild_id, room.channel_id, deny=MANAGE_THREADS)
    emulator.allow_command(room.guild_id, "schedule", role_id=room.teacher_role_id)
    settings = room.settings(emulator, tmp_path, answer_first=True,
                             teacher_channel_id=room.other_channel_id)
    async with start_bot(settings):
        posted = await emulator.invoke_command(
            room.guild_id, room.channel_id, room.teacher_id, "schedule",
            options={"lesson": SEED}, subcommand="post")
    text = posted.final().content
    assert "'Manage Threads'" in text and "Create Private Threads" not in text, text
    # Nothing half-posted: no question and no thread.
    assert emulator.threads(room.channel_id) == []
    assert not any(m.get("components") for m in emulator.messages(room.channel_id))
