"""Vote-skip: who skips at once, and how many listeners' votes skip the track on air (pure).

The requester of the track, managers (Manage Server / Administrator) and members with the
guild's DJ role skip at once, and so does anyone with nobody else listening. Everyone else
casts a vote; the track is skipped once ``ceil(ratio * listeners)`` of the people listening
in the bot's voice channel voted for it. Votes belong to one queue entry: another track on
air starts the count afresh, and a voter who left the channel no longer counts.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Set
from dataclasses import dataclass, field

from shared.jobs import Requester

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5


def is_manager(permissions: str) -> bool:
    """Manage Server or Administrator in the member's computed permissions (from the job)."""
    try:
        bits = int(permissions)
    except ValueError:
        return False
    return bool(bits & (ADMINISTRATOR | MANAGE_GUILD))


def is_dj(requester: Requester, dj_role_id: str | None) -> bool:
    """A manager, or a member with the guild's DJ role (when one is set)."""
    if is_manager(requester.permissions):
        return True
    return dj_role_id is not None and dj_role_id in requester.role_ids


def votes_needed(listeners: int, ratio: float) -> int:
    """Votes that skip a track with this many listeners (at least one)."""
    # round(): 0.6 * 5 is 3.0000000000000004 in floats, which must not need 4 votes.
    return max(1, math.ceil(round(ratio * listeners, 6)))


class Verdict(enum.StrEnum):
    """What one /skip (or Skip button) from a member does."""

    SKIP = "skip"  # skip now: privileged, alone, or the vote passed
    RECORDED = "recorded"  # a new vote, not enough yet
    ALREADY = "already"  # this member already voted for this track
    NOT_LISTENING = "not_listening"  # others listen, and this member is not among them


@dataclass(frozen=True)
class VoteOutcome:
    """A verdict, the vote count and the votes needed (when votes were counted), and why."""

    verdict: Verdict
    votes: int = 0
    needed: int = 0
    reason: str = ""  # requester, dj, alone, passed (for the log)


@dataclass
class SkipVotes:
    """The votes cast to skip the queue entry on air."""

    entry_id: str | None = None
    voters: set[str] = field(default_factory=set)

    def reset(self) -> None:
        """Forget every vote (the track was skipped)."""
        self.entry_id = None
        self.voters.clear()

    def cast(
        self,
        voter: Requester,
        *,
        entry_id: str,
        track_requester_id: str,
        listeners: Set[str],
        ratio: float,
        dj_role_id: str | None,
    ) -> VoteOutcome:
        """Judge one skip request on the entry ``entry_id`` heard by ``listeners`` (user ids
        of the humans in the bot's voice channel, the voter among them if they are there)."""
        if entry_id != self.entry_id:
            self.entry_id = entry_id
            self.voters.clear()
        if voter.user_id == track_requester_id:
            return VoteOutcome(Verdict.SKIP, reason="requester")
        if is_dj(voter, dj_role_id):
            return VoteOutcome(Verdict.SKIP, reason="dj")
        if not listeners - {voter.user_id}:
            return VoteOutcome(Verdict.SKIP, reason="alone")
        if voter.user_id not in listeners:
            return VoteOutcome(Verdict.NOT_LISTENING)
        already = voter.user_id in self.voters
        self.voters.add(voter.user_id)
        votes = len(self.voters & listeners)
        needed = votes_needed(len(listeners), ratio)
        if votes >= needed:
            return VoteOutcome(Verdict.SKIP, votes, needed, reason="passed")
        return VoteOutcome(Verdict.ALREADY if already else Verdict.RECORDED, votes, needed)
