"""SeenCommands: the command ids a node took, each remembered until its deadline
(csms/cluster/bus.py). No Redis, no clock: ``now`` is passed in."""

from __future__ import annotations

from csms.cluster.bus import SeenCommands


def test_a_copy_is_refused_until_the_deadline_then_forgotten() -> None:
    seen = SeenCommands()
    assert seen.first("a", deadline=10.0, now=0.0)
    assert not seen.first("a", deadline=10.0, now=9.9)
    # past its deadline the node drops any copy as expired: the id need not be kept
    assert seen.first("b", deadline=20.0, now=10.0)
    assert len(seen) == 1
    assert not seen.first("b", deadline=20.0, now=15.0)


def test_ids_are_forgotten_in_deadline_order_not_arrival_order() -> None:
    seen = SeenCommands()
    assert seen.first("long", deadline=100.0, now=0.0)
    assert seen.first("short", deadline=5.0, now=1.0)
    assert seen.first("other", deadline=50.0, now=6.0)
    assert len(seen) == 2  # "short" is gone, "long" is kept although it came first
    assert not seen.first("long", deadline=100.0, now=60.0)
    assert len(seen) == 1
