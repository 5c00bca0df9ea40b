"""The worker's garbage-collection policy: the start-up heap frozen, pauses measured."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest

from voice_worker.gc_policy import GcPauses, freeze_start_up_heap


@pytest.fixture
def pauses() -> Iterator[GcPauses]:
    monitor = GcPauses()
    monitor.install()
    yield monitor
    monitor.uninstall()


def test_full_collections_are_counted_and_timed(pauses: GcPauses) -> None:
    gc.collect()
    figures = pauses.as_dict()
    assert figures["collections"][2] >= 1
    assert figures["max_pause_ms"][2] > 0
    assert figures["total_pause_ms"][2] >= figures["max_pause_ms"][2]


def test_nothing_is_counted_once_uninstalled(pauses: GcPauses) -> None:
    pauses.uninstall()
    gc.collect()
    assert pauses.as_dict()["collections"] == [0, 0, 0]


def test_a_pause_longer_than_a_frame_is_counted(pauses: GcPauses) -> None:
    # GIVEN the collector's callback protocol: a start, then a stop 25 ms later (a long pause)
    pauses._on_gc("start", {"generation": 2})
    time.sleep(0.025)
    pauses._on_gc("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    figures = pauses.as_dict()
    # THEN it counts as a pause every playing stream would hear
    assert figures["pauses_over_frame"] == 1
    assert figures["max_pause_ms"][2] >= 25


def test_freezing_exempts_what_lives_now_from_later_collections() -> None:
    try:
        frozen = freeze_start_up_heap()
        # (frozen objects can still be freed by reference counting, so no exact count after)
        assert frozen > 1000 and gc.get_freeze_count() > 1000
        # A full collection now walks only what was made after the freeze.
        tracked_after = len(gc.get_objects())
        assert tracked_after < frozen
    finally:
        gc.unfreeze()
