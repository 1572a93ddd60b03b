"""First answers of answer-first lessons: one per student and question, whatever the clicks."""

from __future__ import annotations

import asyncio

from tests.databases import TestDatabase
from tests.storage.test_replies import ALICE, BOB, HOUR, T0, new_reply, post_lesson


async def test_a_second_submit_gets_the_first_claim_back(database: TestDatabase) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    first, mine = await repo.answers.claim(thread.post_id, 0, "hist", "rome", ALICE, "Mine",
                                           T0 + HOUR)
    assert mine and first.text == "Mine" and first.message_id is None
    again, mine_again = await repo.answers.claim(thread.post_id, 0, "hist", "rome", ALICE,
                                                 "Twice", T0 + 2 * HOUR)
    assert not mine_again and again.id == first.id and again.text == "Mine"
    assert [a.id for a in await repo.answers.pending()] == [first.id]
    assert await repo.answers.posted(first.id, 5_000)
    assert not await repo.answers.posted(first.id, 5_001)  # posted once
    posted = await repo.answers.get(first.id)
    assert posted is not None and (posted.message_id, posted.text) == (5_000, None)
    assert await repo.answers.pending() == []
    assert await repo.answers.answered(thread.post_id) == {(0, ALICE)}


async def test_two_submits_at_once_claim_one_answer(database: TestDatabase) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    for user in (ALICE, BOB):
        outcomes = await asyncio.gather(*(
            repo.answers.claim(thread.post_id, 0, "hist", "rome", user, f"Try {i}", T0)
            for i in range(4)))
        assert sorted(mine for _, mine in outcomes) == [False, False, False, True]
        assert len({answer.id for answer, _ in outcomes}) == 1


async def test_a_withdrawn_answer_may_be_given_again_and_a_failed_one_released(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    answer, _ = await repo.answers.claim(thread.post_id, 0, "hist", "rome", ALICE, "One", T0)
    await repo.answers.posted(answer.id, 5_000)
    await repo.replies.record([new_reply(thread, 5_000, ALICE, T0, 1)])
    _, mine = await repo.answers.claim(thread.post_id, 0, "hist", "rome", ALICE, "Two", T0)
    assert not mine  # still standing
    await repo.replies.mark_deleted([5_000], T0 + HOUR)
    second, mine = await repo.answers.claim(thread.post_id, 0, "hist", "rome", ALICE, "Two",
                                            T0 + 2 * HOUR)
    assert mine and second.id == answer.id and (second.text, second.message_id) == ("Two", None)
    assert second.submitted_at == T0 + 2 * HOUR
    # A claim whose answer could not be posted is given up: the student may try again.
    bob, _ = await repo.answers.claim(thread.post_id, 0, "hist", "rome", BOB, "B", T0)
    await repo.answers.release(bob.id)
    assert await repo.answers.of_student(thread.post_id, 0, BOB) is None
    assert await repo.answers.of_student(thread.post_id, 0, ALICE) == second
