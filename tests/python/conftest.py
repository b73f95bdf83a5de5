"""Shared fixtures: a seeded simulated tenant served over HTTP, a signed-in client, and the
example service's setup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import sigsync

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def sim() -> Iterator[sigsync.Simulator]:
    with sigsync.Simulator(seeded=True) as s:
        yield s


@pytest.fixture()
def credentials(sim: sigsync.Simulator) -> sigsync.Credentials:
    return sim.sign_in()


@pytest.fixture()
def client(sim: sigsync.Simulator, credentials: sigsync.Credentials) -> sigsync.ExchangeClient:
    # One attempt per call: injected faults surface at once instead of being retried.
    return sim.client(credentials, max_attempts=1)


@pytest.fixture()
def engine(client: sigsync.ExchangeClient) -> sigsync.SetupEngine:
    return sigsync.SetupEngine(client)


@pytest.fixture()
def setup(sim: sigsync.Simulator) -> sigsync.ConnectorSetup:
    return sigsync.ConnectorSetup(sim.example_profile())
