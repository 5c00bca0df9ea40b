"""Fleet signals without an ECS agent: the EMF lines, their timing and their counters."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from shared.settings import Settings
from voice_worker.fleet_signals import ACTIVE_SESSIONS, FleetSignals, emf_line
from voice_worker.task_protection import ScaleInProtection

NAMESPACE = "MusicBot/test"
NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 1024}

# The document structure of CloudWatch's "Specification: Embedded metric format", as a JSON
# schema (units and limits from the spec; its objects admit no extra members).
UNITS = (
    "Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|"
    "Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|"
    "Megabytes/Second|Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|"
    "Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None"
)
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": NAME,
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 1024,
                                        },
                                        "Unit": {"type": "string", "pattern": f"^({UNITS})$"},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def parse_emf(line: str) -> dict[str, Any]:
    """Parse one line as CloudWatch Logs would, and check it is an EMF document it extracts."""
    assert "\n" not in line
    document: dict[str, Any] = json.loads(line)
    jsonschema.validate(document, EMF_SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        # Target members: every metric and every dimension named must be on the root node.
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            assert isinstance(value, int | float) and not isinstance(value, bool)
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert isinstance(document[dimension], str)
    return document


def metrics_of(document: dict[str, Any]) -> dict[str, Any]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: document[metric["Name"]] for metric in directive["Metrics"]}


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """FleetSignals with no agent, a fake clock, a counter dict and captured lines."""

    def __init__(self, namespace: str = NAMESPACE, *, period_s: float = 60.0) -> None:
        self.clock = Clock()
        self.counters: dict[str, int] = {"jobs_received": 0, "jobs_failed": 0}
        self.lines: list[str] = []
        self.signals = FleetSignals(
            protection=ScaleInProtection(None),
            namespace=namespace,
            counters=lambda: self.counters,
            worker_id="w-1",
            period_s=period_s,
            write=self.lines.append,
            clock=self.clock,
            wall_clock_ms=lambda: 1_700_000_000_123,
        )

    def documents(self) -> list[dict[str, Any]]:
        return [parse_emf(line) for line in self.lines]


# --- the line ------------------------------------------------------------------------------


def test_emf_line_is_a_valid_document_without_dimensions() -> None:
    line = emf_line(
        NAMESPACE, {ACTIVE_SESSIONS: 2, "JobsFailed": 0}, timestamp_ms=1, properties={"a": "b"}
    )
    document = parse_emf(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [[]]
    assert directive["Metrics"] == [
        {"Name": ACTIVE_SESSIONS, "Unit": "Count"},
        {"Name": "JobsFailed", "Unit": "Count"},
    ]
    assert (document[ACTIVE_SESSIONS], document["a"], document["_aws"]["Timestamp"]) == (2, "b", 1)


def test_the_schema_check_rejects_broken_documents() -> None:
    # The checker itself must be able to fail: a metric whose value is missing, a bad unit.
    good = json.loads(emf_line(NAMESPACE, {ACTIVE_SESSIONS: 1}, timestamp_ms=1))
    missing_value = {key: value for key, value in good.items() if key != ACTIVE_SESSIONS}
    with pytest.raises(KeyError):
        parse_emf(json.dumps(missing_value))
    bad_unit = json.loads(json.dumps(good))
    bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Sessions"
    with pytest.raises(jsonschema.ValidationError):
        parse_emf(json.dumps(bad_unit))


def test_emf_line_needs_a_namespace() -> None:
    with pytest.raises(ValueError, match="namespace"):
        emf_line("", {ACTIVE_SESSIONS: 0}, timestamp_ms=1)


# --- when lines are written ----------------------------------------------------------------


async def test_first_round_reports_zero_sessions_at_once() -> None:
    # GIVEN a fresh worker WHEN the first round runs THEN a line says 0 sessions, 0 jobs
    harness = Harness()
    await harness.signals.tick()
    (document,) = harness.documents()
    assert metrics_of(document) == {
        ACTIVE_SESSIONS: 0,
        "JobsReceived": 0,
        "JobsFailed": 0,
        "JobsDeadLettered": 0,
    }
    assert (document["worker_id"], document["_aws"]["Timestamp"]) == ("w-1", 1_700_000_000_123)


async def test_a_line_on_every_change_and_every_period_but_not_in_between() -> None:
    harness = Harness(period_s=60.0)
    await harness.signals.tick()
    # WHEN nothing changes and the period has not passed THEN no new line
    harness.clock.now += 30
    await harness.signals.tick()
    assert len(harness.lines) == 1
    # WHEN the session count changes THEN a line at once
    harness.signals.sessions_changed(2)
    await harness.signals.tick()
    assert metrics_of(harness.documents()[-1])[ACTIVE_SESSIONS] == 2
    # WHEN the period passes without a change THEN the same count again (a datapoint a minute)
    harness.clock.now += 59
    await harness.signals.tick()
    assert len(harness.lines) == 2
    harness.clock.now += 1
    await harness.signals.tick()
    assert [metrics_of(d)[ACTIVE_SESSIONS] for d in harness.documents()] == [0, 2, 2]


async def test_counters_are_reported_as_deltas_since_the_previous_line() -> None:
    harness = Harness()
    harness.counters.update(jobs_received=3, jobs_failed=1)
    await harness.signals.tick()
    harness.counters.update(jobs_received=5, jobs_failed=1)
    harness.clock.now += 60
    await harness.signals.tick()
    # A reset counter (a new WorkerCounters) counts from zero instead of going negative.
    harness.counters.update(jobs_received=1, jobs_failed=0)
    harness.clock.now += 60
    await harness.signals.tick()
    values = [metrics_of(d) for d in harness.documents()]
    assert [(v["JobsReceived"], v["JobsFailed"]) for v in values] == [(3, 1), (2, 0), (0, 0)]


async def test_a_polled_count_is_used_until_one_is_pushed() -> None:
    polled = [1]
    lines: list[str] = []
    signals = FleetSignals(
        protection=ScaleInProtection(None),
        namespace=NAMESPACE,
        counters=dict,
        sessions=lambda: polled[0],
        write=lines.append,
    )
    await signals.tick()
    polled[0] = 3
    await signals.tick()
    signals.sessions_changed(0)
    await signals.tick()
    assert [metrics_of(parse_emf(line))[ACTIVE_SESSIONS] for line in lines] == [1, 3, 0]


async def test_no_namespace_means_no_lines() -> None:
    harness = Harness(namespace="")
    assert not harness.signals.emits_metrics
    harness.signals.sessions_changed(1)
    await harness.signals.tick()
    await harness.signals.stop()
    assert harness.lines == []


async def test_lines_go_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    signals = FleetSignals(protection=ScaleInProtection(None), namespace=NAMESPACE, counters=dict)
    signals.sessions_changed(4)
    await signals.tick()
    out = capsys.readouterr().out
    assert out.endswith("\n")
    (line,) = out.splitlines()
    assert metrics_of(parse_emf(line))[ACTIVE_SESSIONS] == 4


async def test_from_settings_reads_the_namespace_and_the_worker_id() -> None:
    settings = Settings(metrics_namespace="MusicBot/prod", worker_id="task-7")
    lines: list[str] = []
    signals = FleetSignals.from_settings(settings, counters=dict, environ={}, write=lines.append)
    await signals.tick()
    await signals.stop()
    first = parse_emf(lines[0])
    assert first["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MusicBot/prod"
    assert first["worker_id"] == "task-7"


def test_periods_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FleetSignals(protection=ScaleInProtection(None), namespace="", counters=dict, period_s=0)
