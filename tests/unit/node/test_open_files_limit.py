"""A node holds one socket per charger: it lifts its soft open-files limit at start."""

from __future__ import annotations

import resource

from csms.node.runtime import raise_open_files_limit


def test_the_node_lifts_its_open_files_limit_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 512)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        limit = raise_open_files_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
        if hard != resource.RLIM_INFINITY:
            assert limit == hard
        else:  # unlimited: a finite target the kernel accepts
            assert lowered < limit <= 1_048_576
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
