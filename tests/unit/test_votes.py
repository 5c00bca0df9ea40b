"""Vote-skip rules: who skips at once, how many votes are needed, when votes are forgotten."""

from __future__ import annotations

import pytest

from shared.jobs import Requester
from voice_worker.votes import SkipVotes, Verdict, VoteOutcome, is_dj, votes_needed

MANAGE_GUILD = str(1 << 5)
ADMINISTRATOR = str(1 << 3)
PLAIN = str((1 << 10) | (1 << 11))  # view channel, send messages


def member(user_id: str, *, roles: tuple[str, ...] = (), permissions: str = PLAIN) -> Requester:
    return Requester(user_id=user_id, role_ids=roles, permissions=permissions)


def cast(
    votes: SkipVotes,
    voter: Requester,
    listeners: set[str],
    *,
    entry_id: str = "e1",
    ratio: float = 0.5,
    dj_role_id: str | None = None,
) -> VoteOutcome:
    return votes.cast(
        voter,
        entry_id=entry_id,
        track_requester_id="99",
        listeners=frozenset(listeners),
        ratio=ratio,
        dj_role_id=dj_role_id,
    )


@pytest.mark.parametrize(
    ("listeners", "ratio", "needed"),
    [(1, 0.5, 1), (2, 0.5, 1), (3, 0.5, 2), (4, 0.5, 2), (5, 0.6, 3), (3, 1.0, 3), (10, 0.01, 1)],
)
def test_votes_needed_is_the_ceiling_of_the_share(
    listeners: int, ratio: float, needed: int
) -> None:
    assert votes_needed(listeners, ratio) == needed


def test_managers_and_the_dj_role_are_djs_and_bad_permission_text_is_not() -> None:
    assert is_dj(member("1", permissions=MANAGE_GUILD), None)
    assert is_dj(member("1", permissions=ADMINISTRATOR), "5")
    assert is_dj(member("1", roles=("5",)), "5")
    assert not is_dj(member("1", roles=("5",)), None)  # no DJ role set: nobody has it
    assert not is_dj(member("1", roles=("6",)), "5")
    assert not is_dj(member("1", permissions="not a number"), "5")


def test_requester_dj_and_a_lone_listener_skip_at_once() -> None:
    votes = SkipVotes()
    everyone = {"1", "2", "3", "99"}
    assert cast(votes, member("99"), everyone).reason == "requester"
    assert cast(votes, member("1", roles=("5",)), everyone, dj_role_id="5").reason == "dj"
    assert cast(votes, member("2", permissions=MANAGE_GUILD), everyone).reason == "dj"
    alone = cast(votes, member("1"), {"1"})
    assert (alone.verdict, alone.reason) == (Verdict.SKIP, "alone")
    nobody = cast(votes, member("1"), set())  # not listening, but nobody else is either
    assert nobody.verdict is Verdict.SKIP


def test_votes_count_until_the_share_is_reached() -> None:
    votes = SkipVotes()
    listeners = {"1", "2", "3", "4", "5"}  # 5 listeners at 60 %: 3 votes
    first = cast(votes, member("1"), listeners, ratio=0.6)
    assert (first.verdict, first.votes, first.needed) == (Verdict.RECORDED, 1, 3)
    again = cast(votes, member("1"), listeners, ratio=0.6)
    assert (again.verdict, again.votes) == (Verdict.ALREADY, 1)
    assert cast(votes, member("2"), listeners, ratio=0.6).votes == 2
    passed = cast(votes, member("3"), listeners, ratio=0.6)
    assert (passed.verdict, passed.votes, passed.needed, passed.reason) == (
        Verdict.SKIP,
        3,
        3,
        "passed",
    )


def test_someone_outside_the_channel_cannot_vote_while_others_listen() -> None:
    votes = SkipVotes()
    outcome = cast(votes, member("7"), {"1", "2"})
    assert outcome.verdict is Verdict.NOT_LISTENING
    assert votes.voters == set()


def test_votes_are_forgotten_on_another_track_and_leavers_stop_counting() -> None:
    votes = SkipVotes()
    listeners = {"1", "2", "3", "4"}
    assert cast(votes, member("1"), listeners).votes == 1
    # Another entry on air: the count starts again
    fresh = cast(votes, member("2"), listeners, entry_id="e2")
    assert (fresh.verdict, fresh.votes) == (Verdict.RECORDED, 1)
    # Voter 2 left: voter 3's vote is the only one counted
    after = cast(votes, member("3"), {"1", "3", "4"}, entry_id="e2")
    assert (after.verdict, after.votes, after.needed) == (Verdict.RECORDED, 1, 2)
    votes.reset()
    assert votes.entry_id is None and votes.voters == set()
