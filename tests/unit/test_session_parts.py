"""The guild session's parts: no stub in SessionBase hides the member a part supplies."""

from __future__ import annotations

import inspect

from voice_worker.session import GuildSession
from voice_worker.session_base import SessionBase


def test_every_member_declared_in_the_base_resolves_to_real_code() -> None:
    declared = [
        name
        for name, member in vars(SessionBase).items()
        if inspect.isfunction(member) or isinstance(member, property)
    ]
    assert declared  # the base does declare stubs
    stubbed = [
        name
        for name in declared
        if inspect.getattr_static(GuildSession, name) is vars(SessionBase)[name]
    ]
    assert stubbed == []
