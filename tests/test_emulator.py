"""The Discord emulator, proven with the real discord.py client and a tiny test cog.

Every later integration test trusts the emulator to behave like Discord towards discord.py:
these tests show that a client connects, fills its cache, receives what users do, and that
messages, threads, commands, interactions, faults and reconnects work the way the client
expects.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.emulator import ActionRejected, DiscordEmulator, running_client, wait_until
from tests.emulator.control import EmulatorProcess
from tests.emulator.model import INTENT_GUILD_MEMBERS, MANAGE_GUILD, SEND_MESSAGES

WORDS = ["stalin", "starvation", "state", "gulag"]


class VoteView(discord.ui.View):
    """One button that counts votes by editing its own message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.votes = 0

    @discord.ui.button(label="Vote", style=discord.ButtonStyle.primary)
    async def vote(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.votes += 1
        await interaction.response.edit_message(content=f"{self.votes} vote(s)", view=self)


class CloseView(discord.ui.View):
    """A button that acknowledges first (deferred update) and edits the message after."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Close", style=discord.ButtonStyle.danger)
    async def close(self, interaction: discord.Interaction,
                    button: discord.ui.Button[Any]) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="closed", view=None)


class Feedback(discord.ui.Modal, title="Feedback on the lesson"):
    """A one-field modal; the answer is echoed back privately."""

    text: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Your feedback",
                                                           custom_id="feedback:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks for: {self.text.value}",
                                                ephemeral=True)


class Probe(commands.Cog):
    """Records what reaches the bot and offers a few commands to drive from the emulator."""

    teach = app_commands.Group(name="teach", description="Teacher tools")
    students = app_commands.Group(name="students", description="About students", parent=teach)

    def __init__(self) -> None:
        self.seen: list[discord.Message] = []
        self.errors: list[BaseException] = []

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not message.author.bot:
            self.seen.append(message)

    def contents(self) -> list[str]:
        """Texts of the user messages the bot received, in order."""
        return [m.content for m in self.seen]

    @app_commands.command(name="echo", description="Say something back, only to you")
    @app_commands.describe(text="What to say")
    async def echo(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(f"you said: {text}", ephemeral=True)

    @echo.autocomplete("text")
    async def echo_words(self, interaction: discord.Interaction,
                         current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=w.title(), value=w) for w in WORDS
                if w.startswith(current.lower())]

    @students.command(name="greet", description="Greet a student by name")
    @app_commands.describe(who="The student", times="How many times")
    async def greet(self, interaction: discord.Interaction, who: discord.Member,
                    times: int = 1) -> None:
        roles = [r.name for r in who.roles if not r.is_default()]
        await interaction.response.send_message(f"hello {who.display_name} x{times} {roles}")

    @app_commands.command(name="vote", description="Post a vote button")
    async def vote(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("no votes yet", view=VoteView())

    @app_commands.command(name="poll", description="Post a poll with a close button")
    async def poll(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("poll open", view=CloseView())

    @app_commands.command(name="feedback", description="Tell the teacher what you think")
    async def feedback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback())

    @app_commands.command(name="report", description="A slow report, as a file")
    async def report(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = discord.File(io.BytesIO(b"student,replies\nalice,3\n"), filename="report.csv")
        await interaction.followup.send("here is the report", file=data)

    @app_commands.command(name="twice", description="Answer twice at once (a race bug)")
    async def twice(self, interaction: discord.Interaction) -> None:
        # Both calls pass discord.py's own "already responded" check before either is sent,
        # as two handlers racing on one interaction would; Discord refuses the second.
        outcomes = await asyncio.gather(
            interaction.response.send_message("first", ephemeral=True),
            interaction.response.send_message("second", ephemeral=True),
            return_exceptions=True)
        self.errors += [o for o in outcomes if isinstance(o, Exception)]

    @app_commands.command(name="grades", description="Teachers only")
    @app_commands.default_permissions(manage_guild=True)
    async def grades(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"grades for {interaction.user.name}",
                                                ephemeral=True)

    @app_commands.command(name="silent", description="Never answers (a bug)")
    async def silent(self, interaction: discord.Interaction) -> None:
        return None


class ProbeBot(commands.Bot):
    """A commands.Bot with the probe cog, tuned for tests (fast ready, no IDENTIFY wait)."""

    def __init__(self, *, message_content: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1,
                         allowed_mentions=discord.AllowedMentions.none(), **options)
        self.probe = Probe()

    async def setup_hook(self) -> None:
        await self.add_cog(self.probe)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord limits IDENTIFYs to one per 5 s; the emulator has no such limit.
        return None


class ShardedProbeBot(commands.AutoShardedBot):
    """The sharded variant: asks GET /gateway/bot for the shard count."""

    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = True
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
        self.probe = Probe()

    async def setup_hook(self) -> None:
        await self.add_cog(self.probe)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@dataclass
class School:
    guild: int
    general: int
    forum: int
    teacher_role: int
    teacher: int
    alice: int
    bob: int


@pytest.fixture
def school(emulator: DiscordEmulator) -> School:
    guild = emulator.add_guild("Lincoln High")
    teacher_role = emulator.add_role(guild.id, "Teacher", permissions=MANAGE_GUILD)
    general = emulator.add_text_channel(guild.id, "history-101", topic="Class discussion")
    forum = emulator.add_forum_channel(guild.id, "questions", tags=["Question", "Reading"])
    teacher = emulator.add_member(guild.id, "mr-smith", roles=[teacher_role.id])
    alice = emulator.add_member(guild.id, "alice", nick="Alice A.")
    bob = emulator.add_member(guild.id, "bob", roles=[teacher_role.id])
    return School(guild.id, general.id, forum.id, teacher_role.id, teacher.id, alice.id, bob.id)


@pytest.fixture
async def bot(emulator: DiscordEmulator, school: School) -> AsyncIterator[ProbeBot]:
    async with running_client(ProbeBot(), emulator) as client:
        yield client


async def synced(bot: ProbeBot, guild_id: int) -> None:
    """Register the probe's commands in the guild, as a bot does with tree.sync(guild=...)."""
    guild = discord.Object(id=guild_id)
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)


# ---- connecting ------------------------------------------------------------------------------


async def test_the_client_connects_and_caches_channels_members_and_roles(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    guild = bot.get_guild(school.guild)
    assert guild is not None and guild.name == "Lincoln High"
    assert {c.name for c in guild.channels} == {"history-101", "questions"}
    assert isinstance(guild.get_channel(school.forum), discord.ForumChannel)
    assert [t.name for t in guild.get_channel(school.forum).available_tags] == [  # type: ignore[union-attr]
        "Question", "Reading"]
    # The member list arrived through REQUEST_GUILD_MEMBERS (op 8), as with the real gateway.
    assert guild.chunked
    alice = guild.get_member(school.alice)
    assert alice is not None and alice.display_name == "Alice A."
    assert [r.name for r in guild.get_member(school.bob).roles] == ["@everyone", "Teacher"]  # type: ignore[union-attr]
    assert guild.me.guild_permissions.send_messages
    assert not guild.me.guild_permissions.administrator
    assert bot.user is not None and bot.user.id == emulator.bot_user_id
    assert bot.application_id == emulator.application_id
    assert emulator.identify_count == 1
    # The gateway traffic is compressed the way the client asked (zlib, or zstd if installed).
    assert emulator.gateway.compressions[0] in {"zlib-stream", "zstd-stream"}


async def test_a_wrong_token_is_refused_like_discord_does(emulator: DiscordEmulator) -> None:
    client = ProbeBot()
    with pytest.raises(discord.LoginFailure):
        async with running_client(client, _WithToken(emulator, "not-the-token")):
            pass
    assert emulator.calls[0].status == 401


@dataclass
class _WithToken:
    emulator: DiscordEmulator
    token: str

    @property
    def api_base(self) -> str:
        return self.emulator.api_base

    @property
    def gateway_url(self) -> str:
        return self.emulator.gateway_url


# ---- messages --------------------------------------------------------------------------------


async def test_a_user_message_reaches_on_message(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    first = await emulator.user_message(school.general, school.alice, "What did Khrushchev say?")
    await emulator.user_message(school.general, school.bob, f"<@{school.alice}> read chapter 2",
                                reply_to=int(first["id"]))
    await emulator.wait_for(lambda: len(bot.probe.seen) == 2)
    question, answer = bot.probe.seen
    assert question.content == "What did Khrushchev say?"
    assert question.author.display_name == "Alice A."
    assert isinstance(question.author, discord.Member)
    assert question.channel.id == school.general
    assert answer.reference is not None and answer.reference.message_id == question.id
    assert [u.id for u in answer.mentions] == [school.alice]


async def test_without_the_content_intent_a_bot_sees_empty_messages(
    emulator: DiscordEmulator, school: School
) -> None:
    async with running_client(ProbeBot(message_content=False), emulator) as client:
        await emulator.user_message(school.general, school.alice, "secret words")
        await emulator.user_message(school.general, school.alice, f"<@{emulator.bot_user_id}> hi")
        await emulator.wait_for(lambda: len(client.probe.seen) == 2)
    assert client.probe.contents() == ["", f"<@{emulator.bot_user_id}> hi"]


async def test_the_bot_sends_an_embed_with_buttons(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Reading", url="https://example.org/reading"))
    view.add_item(discord.ui.Button(label="Done", custom_id="lesson:done"))
    sent = await channel.send("Today's lesson", embed=discord.Embed(title="Stalin's crimes",
                                                                  description="Summary"),
                              view=view)
    stored = emulator.messages(school.general)
    assert [m["id"] for m in stored] == [str(sent.id)]
    assert stored[0]["embeds"][0]["title"] == "Stalin's crimes"
    buttons = stored[0]["components"][0]["components"]
    assert [(b["label"], b.get("url"), b.get("custom_id")) for b in buttons] == [
        ("Reading", "https://example.org/reading", None), ("Done", None, "lesson:done")]
    assert stored[0]["author"]["id"] == str(emulator.bot_user_id)


async def test_discord_limits_are_enforced(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)
    assert "2000 or fewer" in str(too_long.value)
    with pytest.raises(discord.HTTPException) as big_embed:
        await channel.send(embed=discord.Embed(description="y" * 4097))
    assert "embeds.0.description" in str(big_embed.value)
    assert emulator.messages(school.general) == []


async def test_a_retried_send_with_the_same_nonce_makes_one_message(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    # The first answer is lost after Discord created the message; the retry must not repeat it.
    emulator.inject("POST", r"/channels/\d+/messages$", 500, perform=True)
    first = await channel.send("lesson 1", nonce="course-1-lesson-1")
    again = await channel.send("lesson 1", nonce="course-1-lesson-1")
    assert first.id == again.id
    assert [m["content"] for m in emulator.messages(school.general)] == ["lesson 1"]
    assert [c.status for c in emulator.calls_to("POST", r"/messages$")] == [500, 200, 200]


async def test_edits_and_deletes_reach_the_raw_events(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    edits: list[discord.RawMessageUpdateEvent] = []
    deletes: list[discord.RawMessageDeleteEvent] = []

    async def on_raw_message_edit(event: discord.RawMessageUpdateEvent) -> None:
        edits.append(event)

    async def on_raw_message_delete(event: discord.RawMessageDeleteEvent) -> None:
        deletes.append(event)

    bot.add_listener(on_raw_message_edit)
    bot.add_listener(on_raw_message_delete)
    message = await emulator.user_message(school.general, school.alice, "draft")
    await emulator.user_edit(school.general, int(message["id"]), "final answer")
    await emulator.user_delete(school.general, int(message["id"]))
    await emulator.wait_for(lambda: edits and deletes)
    assert edits[0].message.content == "final answer"
    assert deletes[0].message_id == int(message["id"])
    assert emulator.messages(school.general) == []


async def test_history_pages_with_after_and_limit(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    ids = [int((await emulator.user_message(school.general, school.alice, f"m{i}"))["id"])
           for i in range(105)]
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    after = [m.content async for m in channel.history(after=discord.Object(ids[1]), limit=2)]
    assert after == ["m2", "m3"]
    newest = [m.content async for m in channel.history(limit=2)]
    assert newest == ["m104", "m103"]
    before = [m.content async for m in channel.history(before=discord.Object(ids[2]))]
    assert before == ["m1", "m0"]
    # More than one page (Discord's limit is 100 a request).
    everything = [m.id async for m in channel.history(after=discord.Object(ids[0]), limit=None)]
    assert everything == ids[1:]
    assert len(emulator.calls_to("GET", r"/channels/\d+/messages$")) >= 5


async def test_a_dm_reaches_the_user_unless_they_closed_their_dms(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    alice = await bot.fetch_user(school.alice)
    await alice.send("Your reply was counted.")
    assert [m["content"] for m in emulator.dms(school.alice)] == ["Your reply was counted."]
    emulator.block_dms(school.bob)
    bob = await bot.fetch_user(school.bob)
    with pytest.raises(discord.Forbidden) as refused:
        await bob.send("reminder")
    assert refused.value.code == 50007


# ---- threads and forums ----------------------------------------------------------------------


async def test_threads_from_a_message_and_in_a_forum(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    channel = bot.get_channel(school.general)
    forum = bot.get_channel(school.forum)
    assert isinstance(channel, discord.TextChannel) and isinstance(forum, discord.ForumChannel)
    question = await channel.send("Question 1: was it inevitable?")
    thread = await question.create_thread(name="Question 1")
    assert thread.id == question.id
    post = await forum.create_thread(name="Question 2", content="Why now?",
                                     applied_tags=[forum.available_tags[0]])
    [text_thread] = emulator.threads(school.general)
    [forum_post] = emulator.threads(school.forum)
    assert text_thread["name"] == "Question 1"
    assert forum_post["applied_tags"] == [str(forum.available_tags[0].id)]
    assert emulator.messages(post.thread.id)[0]["content"] == "Why now?"
    await emulator.wait_for(lambda: bot.get_channel(thread.id) and bot.get_channel(post.thread.id))

    await emulator.user_message(thread.id, school.alice, "It was not.")
    await emulator.wait_for(lambda: bot.probe.seen)
    assert isinstance(bot.probe.seen[0].channel, discord.Thread)
    assert bot.probe.seen[0].channel.parent_id == school.general

    await thread.edit(archived=True, locked=True)
    assert emulator.channel(thread.id)["thread_metadata"]["locked"] is True
    with pytest.raises(ActionRejected, match="locked"):
        await emulator.user_message(thread.id, school.alice, "too late")
    archived = [t.id async for t in channel.archived_threads()]
    assert archived == [thread.id]


# ---- application commands and interactions ---------------------------------------------------


async def test_synced_slash_command_answers_privately(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    names = {c["name"] for c in emulator.commands(school.guild)}
    assert names == {"echo", "teach", "vote", "poll", "feedback", "report", "twice", "grades",
                     "silent"}
    result = await emulator.invoke_command(school.guild, school.general, school.alice, "echo",
                                           options={"text": "hello"})
    assert result.type == 4
    assert result.ephemeral
    assert result.content == "you said: hello"
    assert emulator.messages(school.general) == []  # ephemeral: nobody else sees it


async def test_a_subcommand_group_gets_the_member_it_names(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    result = await emulator.invoke_command(school.guild, school.general, school.teacher, "teach",
                                           options={"who": school.bob, "times": 2},
                                           subcommand="students greet")
    assert result.content == "hello bob x2 ['Teacher']"
    assert not result.ephemeral
    [shown] = emulator.messages(school.general)
    assert shown["content"] == result.content
    assert shown["interaction_metadata"]["user"]["id"] == str(school.teacher)


async def test_a_command_with_default_permissions_is_hidden_from_students(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    [grades] = [c for c in emulator.commands(school.guild) if c["name"] == "grades"]
    assert grades["default_member_permissions"] == str(MANAGE_GUILD)
    result = await emulator.invoke_command(school.guild, school.general, school.teacher, "grades")
    assert result.content == "grades for mr-smith"
    with pytest.raises(ActionRejected, match="cannot see /grades"):
        await emulator.invoke_command(school.guild, school.general, school.alice, "grades")
    # A server admin may let a user in through Server Settings > Integrations.
    emulator.allow_command(school.guild, "grades", user_id=school.alice)
    allowed = await emulator.invoke_command(school.guild, school.general, school.alice, "grades")
    assert allowed.content == "grades for alice"


async def test_autocomplete_offers_the_bots_choices(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    choices = await emulator.autocomplete(school.guild, school.general, school.alice, "echo",
                                          focused="text", value="sta")
    assert choices == [{"name": "Stalin", "value": "stalin"},
                       {"name": "Starvation", "value": "starvation"},
                       {"name": "State", "value": "state"}]


async def test_a_button_click_edits_the_message(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    posted = await emulator.invoke_command(school.guild, school.general, school.teacher, "vote")
    assert posted.original is not None
    [button] = posted.original.buttons()
    click = await emulator.click_button(school.guild, school.general, school.alice,
                                        posted.original.id, button["custom_id"])
    assert click.type == 7
    assert click.content == "1 vote(s)"
    stored = emulator.message(posted.original.id)
    assert stored is not None and stored["content"] == "1 vote(s)"


async def test_a_deferred_update_then_an_edit_of_the_original(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    posted = await emulator.invoke_command(school.guild, school.general, school.teacher, "poll")
    assert posted.original is not None
    [button] = posted.original.buttons()
    click = await emulator.click_button(school.guild, school.general, school.teacher,
                                        posted.original.id, button["custom_id"])
    assert click.type == 6
    await click.wait_for(lambda r: r.content == "closed")
    assert click.components == []
    stored = emulator.message(posted.original.id)
    assert stored is not None and stored["content"] == "closed"


async def test_a_modal_is_shown_and_submitted(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    shown = await emulator.invoke_command(school.guild, school.general, school.alice, "feedback")
    assert shown.type == 9
    assert shown.modal is not None and shown.modal["title"] == "Feedback on the lesson"
    with pytest.raises(LookupError, match="no field"):
        await emulator.submit_modal(shown, {"feedback:txt": "typo"})
    answer = await emulator.submit_modal(shown, {"feedback:text": "more primary sources"})
    assert answer.ephemeral
    assert answer.content == "thanks for: more primary sources"


async def test_a_deferred_answer_with_a_file_keeps_the_defer_private(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    result = await emulator.invoke_command(school.guild, school.general, school.teacher,
                                           "report")
    assert result.type == 5
    final = result.final()
    assert final is not None and final.content == "here is the report"
    assert final.ephemeral
    [attachment] = final.attachments
    assert attachment["filename"] == "report.csv"
    assert attachment["content"] == b"student,replies\nalice,3\n"
    assert emulator.messages(school.general) == []


async def test_answering_twice_is_refused_and_counted(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    result = await emulator.invoke_command(school.guild, school.general, school.alice, "twice")
    await emulator.wait_for(lambda: bot.probe.errors)
    assert result.content == "first"
    assert result.duplicate_callbacks == 1
    [error] = bot.probe.errors
    assert isinstance(error, discord.HTTPException) and error.code == 40060


async def test_an_unanswered_command_fails_for_the_user(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    emulator.interaction_deadline = 0.2
    result = await emulator.invoke_command(school.guild, school.general, school.alice, "silent")
    assert result.failed
    assert result.type is None


async def test_a_5xx_on_the_answer_is_retried_by_discord_py(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    await synced(bot, school.guild)
    emulator.inject("POST", r"/interactions/\d+/[^/]+/callback", 503)
    result = await emulator.invoke_command(school.guild, school.general, school.alice, "echo",
                                           options={"text": "again"})
    assert result.content == "you said: again"
    assert [c.status for c in emulator.calls_to("POST", "/callback$")] == [503, 200]


async def test_unregistered_commands_and_unknown_options_are_test_errors(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    with pytest.raises(LookupError, match="did the bot sync"):
        await emulator.invoke_command(school.guild, school.general, school.alice, "echo")
    await synced(bot, school.guild)
    with pytest.raises(LookupError, match="unknown option"):
        await emulator.invoke_command(school.guild, school.general, school.alice, "echo",
                                      options={"txt": "typo"})
    with pytest.raises(ValueError, match="required"):
        await emulator.invoke_command(school.guild, school.general, school.alice, "echo")


# ---- faults ----------------------------------------------------------------------------------


async def test_a_429_is_waited_out_and_the_message_sent_once(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    emulator.inject("POST", r"/channels/\d+/messages$", 429, retry_after=0.2)
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("posted despite the rate limit")
    assert [m["content"] for m in emulator.messages(school.general)] == [
        "posted despite the rate limit"]
    assert [c.status for c in emulator.calls_to("POST", r"/messages$")] == [429, 200]


async def test_missing_permissions_surface_as_forbidden(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    emulator.set_bot_permissions(school.guild, school.general, deny=SEND_MESSAGES)
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    await emulator.wait_for(lambda: not channel.permissions_for(channel.guild.me).send_messages)
    with pytest.raises(discord.Forbidden) as refused:
        await channel.send("hello")
    assert refused.value.code == 50013
    emulator.inject("GET", r"/guilds/\d+/members/\d+$", 403)
    with pytest.raises(discord.Forbidden):
        await channel.guild.fetch_member(school.alice)
    assert emulator.messages(school.general) == []


async def test_unknown_routes_answer_404_and_are_recorded(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    guild = bot.get_guild(school.guild)
    assert guild is not None
    with pytest.raises(discord.NotFound):
        await guild.fetch_emojis()
    assert emulator.unknown_routes == [("GET", f"/guilds/{school.guild}/emojis")]


async def test_a_resumable_drop_replays_what_happened_meanwhile(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)
    async with emulator.gateway_outage(resumable=True):
        await emulator.user_message(school.general, school.alice, "written while down")
    await emulator.wait_for(lambda: bot.probe.contents() == ["written while down"])
    await asyncio.wait_for(resumed.wait(), 10)
    assert (emulator.identify_count, emulator.resume_count) == (1, 1)


async def test_a_non_resumable_drop_identifies_again_without_replay(
    emulator: DiscordEmulator, school: School, bot: ProbeBot
) -> None:
    async with emulator.gateway_outage(resumable=False):
        missed = await emulator.user_message(school.general, school.alice, "missed")
    await emulator.wait_for(lambda: emulator.identify_count == 2)
    await emulator.wait_until_connected()
    await emulator.user_message(school.general, school.alice, "after")
    await emulator.wait_for(lambda: "after" in bot.probe.contents())
    # Events are in order, so had "missed" been replayed it would have come first.
    assert bot.probe.contents() == ["after"]
    assert emulator.resume_count == 0
    channel = bot.get_channel(school.general)
    assert isinstance(channel, discord.TextChannel)
    history = [m.id async for m in channel.history(limit=5)]
    assert int(missed["id"]) in history


async def test_a_sharded_client_gets_the_shard_count_from_gateway_bot() -> None:
    async with DiscordEmulator(shard_count=2) as emulator:
        # A guild's shard is (id >> 22) % shard_count: pick ids that land on each shard.
        by_shard = {n % 2: emulator.add_guild(f"School {n}", id=(1_000_000_000 + n) << 22)
                    for n in range(2)}
        channels = {s: emulator.add_text_channel(g.id, "general") for s, g in by_shard.items()}
        alice = emulator.add_user("alice")
        for guild in by_shard.values():
            emulator.add_member(guild.id, user_id=alice.id)
        async with running_client(ShardedProbeBot(), emulator) as client:
            assert client.shard_count == 2
            assert {client.get_guild(g.id).shard_id for g in by_shard.values()} == {0, 1}  # type: ignore[union-attr]
            for shard, channel in channels.items():
                await emulator.user_message(channel.id, alice.id, f"hello shard {shard}")
            await emulator.wait_for(lambda: len(client.probe.seen) == 2)
            assert sorted(client.probe.contents()) == ["hello shard 0", "hello shard 1"]
        assert emulator.identify_count == 2
        assert len(emulator.calls_to("GET", "/gateway/bot")) == 1


async def test_privileged_intents_not_enabled_close_the_gateway_with_4014(
    emulator: DiscordEmulator, school: School
) -> None:
    emulator.privileged_intents = INTENT_GUILD_MEMBERS  # message content switched off
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running_client(ProbeBot(), emulator):
            pass


# ---- shutting down, and running as a process -------------------------------------------------


async def test_client_and_emulator_shut_down_without_leftover_tasks() -> None:
    emulator = DiscordEmulator()
    await emulator.start()
    guild = emulator.add_guild()
    channel = emulator.add_text_channel(guild.id, "general")
    alice = emulator.add_member(guild.id, "alice")
    async with running_client(ProbeBot(), emulator) as client:
        await emulator.user_message(channel.id, alice.id, "hi")
        await emulator.wait_for(lambda: client.probe.seen)
    await emulator.stop()
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []
    assert client.is_closed()


async def test_the_emulator_runs_as_a_process_for_benchmarks(tmp_path: Path) -> None:
    spec = tmp_path / "world.yaml"
    spec.write_text("guilds:\n"
                    "  - name: District\n"
                    "    roles: [{name: Student}]\n"
                    "    channels: [{name: history-101}]\n"
                    "    students: 5\n"
                    "    student_role: Student\n", encoding="utf-8")
    async with EmulatorProcess.run(spec_file=spec) as process:
        world = process.info["world"]["guilds"][0]
        channel_id = world["channels"]["history-101"]
        client = ProbeBot()
        async with running_client(client, process):
            burst = await process.call("POST", "user_messages", {
                "channel_id": channel_id, "author_ids": list(world["members"].values()),
                "count": 20, "content": "reply {i}"})
            assert len(burst["ids"]) == 20
            await wait_until(lambda: len(client.probe.seen) == 20)
            assert client.probe.contents() == [f"reply {i}" for i in range(20)]
        stats = await process.call("GET", "stats")
        assert stats["identify_count"] == 1
        assert stats["messages"] == 20
