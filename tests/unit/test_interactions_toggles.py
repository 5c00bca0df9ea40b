"""/autoplay, /247 and the `normalize` setting on the front door: options, access, settings."""

from __future__ import annotations

import pytest

from interactions.commands.adjust import player_command
from interactions.commands.definitions import SPECS, Access, registered_commands
from interactions.commands.settings import FIELDS, parse_changes, settings_embed
from interactions.validation import InvalidOption
from shared.jobs import PlayerCommandJob, Requester, ToggleCommand, decode_job, encode_job
from shared.state import GuildSettings
from tests.unit.test_interactions_options import interaction


@pytest.mark.parametrize("name", ["autoplay", "247"])
def test_toggles_are_dj_worker_commands_registered_with_on_off_choices(name: str) -> None:
    spec = SPECS[name]
    assert spec.access is Access.DJ
    assert spec in registered_commands()
    (mode,) = spec.payload["options"]
    assert mode["required"] is True
    assert [c["value"] for c in mode["choices"]] == ["on", "off"]


def test_toggle_options_become_jobs_that_round_trip() -> None:
    assert player_command(interaction("autoplay", mode="on")) == ToggleCommand(
        name="autoplay", enabled=True
    )
    command = player_command(interaction("247", mode="off"))
    assert command == ToggleCommand(name="247", enabled=False)
    job = PlayerCommandJob(
        job_id="1",
        guild_id="2",
        channel_id="3",
        application_id="4",
        interaction_token="t",
        requester=Requester(user_id="5"),
        command=command,
    )
    assert decode_job(encode_job(job)) == job
    with pytest.raises(InvalidOption, match=r"^24/7 must be on or off\.$"):
        player_command(interaction("247", mode="always"))


def test_normalize_is_a_setting_that_can_be_set_shown_and_reset() -> None:
    assert parse_changes({"normalize": True}, deployment_max_queue=500) == {
        "normalize_loudness": True
    }
    with pytest.raises(InvalidOption, match=r"^Loudness normalisation must be on or off\.$"):
        parse_changes({"normalize": "loud"}, deployment_max_queue=500)
    assert FIELDS["normalize"] == ("normalize_loudness", False)
    assert GuildSettings().normalize_loudness is False  # passthrough unless a guild asks
    rows = {
        field["name"]: field["value"]
        for field in settings_embed(
            GuildSettings(normalize_loudness=True, autoplay=True), deployment_max_queue=500
        )["fields"]
    }
    assert rows["Loudness normalisation"] == "on"
    assert rows["Autoplay"] == "on"
    assert rows["24/7"] == "off (/247)"
    set_options = next(o for o in SPECS["settings"].payload["options"] if o["name"] == "set")
    assert "normalize" in {o["name"] for o in set_options["options"]}
