"""Every script's keys hash to one Redis Cluster slot (csms/cluster/keys.py), whatever the
charger and node ids; a prefix with a hash tag of its own is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.crc import key_slot

from csms.cluster.keys import Keys
from csms.settings import CommonSettings

IDS = ["CP-1", "cp-2", "x" * 48, "a}b", "{odd}", "n:1|2"]


def slot(key: str) -> int:
    return key_slot(key.encode())


@pytest.mark.parametrize("prefix", ["csms:", "", "tenant-a:csms:"])
def test_routing_keys_share_one_slot(prefix: str) -> None:
    keys = Keys(prefix)
    routing = {slot(keys.sweep_lock())}
    for i in IDS:
        routing |= {slot(keys.owner(i)), slot(keys.epoch(i)), slot(keys.held(i))}
        routing.add(slot(keys.node(i)))
    routing.add(slot(keys.held("")))  # the prefix the scripts append node ids to
    assert len(routing) == 1


@pytest.mark.parametrize("node_id", IDS)
def test_a_nodes_inbox_and_its_seen_markers_share_a_slot(node_id: str) -> None:
    keys = Keys("csms:")
    assert {slot(keys.inbox(node_id)), slot(keys.seen(node_id, "c0ffee"))} == {
        slot(keys.inbox(node_id))
    }


def test_inboxes_of_different_nodes_spread() -> None:
    keys = Keys("csms:")
    assert len({slot(keys.inbox(f"node-{i}")) for i in range(20)}) > 10


@pytest.mark.parametrize("prefix", ["csms{", "csms}:", "{csms}:"])
def test_a_prefix_with_braces_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="may not contain"):
        CommonSettings(redis_prefix=prefix)
