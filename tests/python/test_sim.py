"""The Simulator: a context manager serving a tenant over HTTP, with state and faults."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

import sigsync


def test_simulator_is_a_context_manager_that_serves_over_loopback_http() -> None:
    with sigsync.Simulator() as sim:
        assert sim.running
        assert sim.url.startswith("http://127.0.0.1:")
        assert sim.graph_url == sim.url + "/v1.0"
        assert sim.login_url == sim.exchange_url == sim.url
        assert len(sim.tenant_id) == 36
        assert sim.tenant_domain == "contoso.onmicrosoft.com"
        assert "running=True" in repr(sim)
    assert not sim.running
    sim.close()  # idempotent
    with pytest.raises(OSError):
        urllib.request.urlopen(sim.graph_url + "/groups", timeout=2)


def test_seeded_simulator_has_the_example_directory(client: sigsync.ExchangeClient) -> None:
    groups = client.list_mail_enabled_groups()
    assert [g.mail for g in groups] == ["sales@contoso.com", "marketing@contoso.com", "helpdesk@contoso.com"]
    assert groups[1].kind is sigsync.GroupKind.MICROSOFT365
    domains = {d.domain_name: d for d in client.list_accepted_domains()}
    assert domains["contoso.com"].default
    assert "tenant1.smtp.signatures.example.com" in domains


def test_directory_can_be_extended() -> None:
    with sigsync.Simulator(tenant_id="8f4b5a8e-2f6c-4c1e-9a57-3c2d1b0e7f61") as sim:
        assert sim.tenant_id == "8f4b5a8e-2f6c-4c1e-9a57-3c2d1b0e7f61"
        sim.add_user("ben@contoso.com", "Ben Walters", jobTitle="Sales")
        gid = sim.add_group("Support", mail="support@contoso.com", kind="distribution", members=["ben@contoso.com"])
        assert gid
        sim.add_accepted_domain("contoso.com", default=True)
        assert [g.mail for g in sim.client().list_mail_enabled_groups()] == ["support@contoso.com"]


def test_calls_write_count_and_reset(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    sim.reset_calls()
    client.list_outbound_connectors()
    calls = sim.calls()
    assert [c.cmdlet for c in calls] == ["Get-OutboundConnector"]
    assert calls[0].number == 1 and calls[0].error is None
    assert sim.write_count == 0
    sim.reset_calls()
    assert sim.calls() == []


def test_injected_fault_fires_the_given_number_of_times(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    sim.inject_fault(sigsync.TransientError, cmdlet="Get-TransportRule", times=1)
    with pytest.raises(sigsync.TransientError):
        client.list_transport_rules()
    assert client.list_transport_rules() == []
    assert sim.calls()[-2].error == "transient"
    sim.inject_fault("forbidden", writes=True)
    sim.clear_faults()
    with pytest.raises(sigsync.ValidationError, match="exactly one"):
        sim.inject_fault("throttled")


def test_state_survives_save_and_load(tmp_path: Path, sim: sigsync.Simulator, engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    engine.configure(setup)
    path = tmp_path / "tenant.json"
    sim.save(path)
    with sigsync.Simulator(state=path) as again:
        snap = again.snapshot()
        assert [c.name for c in snap["outbound_connectors"]] == [c.name for c in sim.snapshot()["outbound_connectors"]]
        assert len(snap["transport_rules"]) == 2
        assert snap["transport_rules"][0].guid


def test_settings_can_be_read_and_changed(sim: sigsync.Simulator) -> None:
    assert sim.settings["permissive"] is False
    sim.update_settings(permissive=True, throttle_retry_after_ms=10)
    assert sim.settings["permissive"] is True
    with pytest.raises(TypeError):
        sim.update_settings(nonsense=1)
    sim.set_latency(0.0)


def test_revoked_tokens_are_refreshed_transparently(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    client.list_inbound_connectors()
    sim.revoke_access_tokens()
    assert client.list_inbound_connectors() == []
