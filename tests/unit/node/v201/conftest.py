"""Fixtures for the 2.0.1 handler tests: the in-memory stores and services on a fixed
clock, one connected charger (see v201_harness.py). No database, no network."""

from __future__ import annotations

import pytest
from v201_harness import Harness

from csms.node.context import Context


@pytest.fixture
def store() -> Harness:
    return Harness()


@pytest.fixture
def ctx(store: Harness) -> Context:
    return store.ctx
