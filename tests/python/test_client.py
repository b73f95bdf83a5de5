"""The Exchange client: every operation over HTTP against the simulated tenant, errors by
class, async twins, and the GIL released while waiting."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import sigsync


def make_outbound(name: str = "Sig out") -> sigsync.OutboundConnector:
    return sigsync.OutboundConnector(
        name,
        connector_type=sigsync.ConnectorType.ON_PREMISES,
        use_mx_record=False,
        smart_hosts=["smtp.signatures.example.com"],
        tls_settings=sigsync.TlsSettings.DOMAIN_VALIDATION,
        tls_domain="smtp.signatures.example.com",
        is_transport_rule_scoped=True,
    )


def make_inbound(name: str = "Sig in") -> sigsync.InboundConnector:
    return sigsync.InboundConnector(
        name,
        connector_type=sigsync.ConnectorType.ON_PREMISES,
        sender_domains=["*"],
        require_tls=True,
        tls_sender_certificate_name="tenant1.smtp.signatures.example.com",
        restrict_domains_to_certificate=True,
    )


def test_client_repr_shows_endpoints_and_plain_http_needs_the_flag(sim: sigsync.Simulator, credentials: sigsync.Credentials) -> None:
    client = sigsync.ExchangeClient(credentials, exchange_url=sim.exchange_url, graph_url=sim.graph_url, allow_http=True)
    assert sim.url in repr(client)
    with pytest.raises(sigsync.ValidationError):
        sigsync.ExchangeClient(credentials, exchange_url=sim.exchange_url, graph_url=sim.graph_url)


def test_create_list_update_and_remove_connectors(client: sigsync.ExchangeClient) -> None:
    created = client.create_outbound_connector(make_outbound())
    assert created.guid and created == make_outbound()
    assert client.list_outbound_connectors() == [make_outbound()]
    client.update_outbound_connector("Sig out", comment="managed")
    assert client.list_outbound_connectors()[0].comment == "managed"
    inbound = client.create_inbound_connector(make_inbound())
    assert client.list_inbound_connectors()[0].guid == inbound.guid
    client.update_inbound_connector("Sig in", comment="back")
    client.remove_inbound_connector("Sig in")
    client.remove_outbound_connector(created.guid or "")
    assert client.list_outbound_connectors() == [] and client.list_inbound_connectors() == []


def test_transport_rule_lifecycle(client: sigsync.ExchangeClient) -> None:
    client.create_outbound_connector(make_outbound())
    rule = sigsync.TransportRule("Route", priority=0, route_message_outbound_connector="Sig out", enabled=False)
    client.create_transport_rule(rule)
    client.enable_transport_rule("Route")
    assert client.list_transport_rules()[0].enabled is True
    client.disable_transport_rule("Route")
    client.update_transport_rule("Route", comments="note")
    got = client.list_transport_rules()[0]
    assert (got.enabled, got.comments) == (False, "note")
    client.remove_transport_rule("Route")
    assert client.list_transport_rules() == []


def test_exchange_errors_carry_status_code_and_message(client: sigsync.ExchangeClient) -> None:
    with pytest.raises(sigsync.NotFoundError) as info:
        client.remove_outbound_connector("does not exist")
    err = info.value
    assert err.status is not None and err.message and err.code
    assert isinstance(err, sigsync.ExchangeError)
    client.create_outbound_connector(make_outbound())
    with pytest.raises(sigsync.AlreadyExistsError):
        client.create_outbound_connector(make_outbound())
    with pytest.raises(TypeError):
        client.create_inbound_connector(make_outbound())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        sigsync.NotFoundError,
        sigsync.RejectedError,
        sigsync.ForbiddenError,
        sigsync.ThrottledError,
        sigsync.TransientError,
        sigsync.NetworkError,
    ],
)
def test_injected_faults_arrive_as_their_exception_class(sim: sigsync.Simulator, client: sigsync.ExchangeClient, error: type) -> None:
    sim.inject_fault(error, cmdlet="Get-OutboundConnector")
    with pytest.raises(error) as info:
        client.list_outbound_connectors()
    if error is sigsync.ThrottledError:
        assert info.value.status == 429
        assert info.value.retry_after is not None and info.value.retry_after > 0


def test_unauthorized_fault_arrives_as_unauthorized_error(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    sim.inject_fault(sigsync.UnauthorizedError, cmdlet="Get-OutboundConnector")
    with pytest.raises(sigsync.UnauthorizedError):
        client.list_outbound_connectors()


def test_retry_layer_absorbs_a_transient_fault(sim: sigsync.Simulator, credentials: sigsync.Credentials) -> None:
    sim.update_settings(throttle_retry_after_ms=10)
    client = sim.client(credentials, max_attempts=3, max_retry_wait=30)
    sim.inject_fault(sigsync.ThrottledError, call=1)
    sim.reset_calls()
    assert client.list_transport_rules() == []


def test_network_calls_release_the_gil(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    sim.set_latency(0.5)
    ticks = 0
    done = threading.Event()

    def call() -> None:
        client.list_outbound_connectors()
        done.set()

    t = threading.Thread(target=call)
    t.start()
    start = time.monotonic()
    while not done.is_set() and time.monotonic() - start < 10:
        ticks += 1
        time.sleep(0.001)
    t.join()
    assert ticks > 50, "the main thread was blocked during the call"


def test_async_twins_run_concurrently(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    sim.set_latency(0.3)

    async def main() -> float:
        start = time.monotonic()
        groups, domains, rules = await asyncio.gather(
            client.list_mail_enabled_groups_async(),
            client.list_accepted_domains_async(),
            client.list_transport_rules_async(),
        )
        assert len(groups) == 3 and domains and rules == []
        await client.create_outbound_connector_async(make_outbound())
        assert len(await client.list_outbound_connectors_async()) == 1
        return time.monotonic() - start

    asyncio.run(main())
    assert client.list_outbound_connectors_async.__doc__


def test_a_forked_child_gets_its_own_runtime(sim: sigsync.Simulator, client: sigsync.ExchangeClient) -> None:
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    client.list_outbound_connectors()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            ok = sim.client().list_outbound_connectors() == []
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
