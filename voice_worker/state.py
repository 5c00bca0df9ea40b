"""The session state machine: every move is checked against TRANSITIONS and logged."""

from __future__ import annotations

from typing import Any

from voice_worker.models import TRANSITIONS, SessionState


class InvalidTransition(RuntimeError):
    """A move the state machine does not allow: a bug in the caller, never user input."""


class StateMachine:
    """Holds a session's state; the setter refuses illegal moves and logs legal ones."""

    def __init__(self, log: Any, initial: SessionState = SessionState.CONNECTING) -> None:
        self._log = log
        self._state = initial

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @state.setter
    def state(self, new: SessionState) -> None:
        old = self._state
        if new not in TRANSITIONS[old]:
            raise InvalidTransition(f"{old.value} -> {new.value}")
        self._state = new
        self._log.info("session.state", old=old.value, new=new.value)

    def can_move_to(self, new: SessionState) -> bool:
        """Whether ``new`` is a legal next state."""
        return new in TRANSITIONS[self._state]
