"""The setup engine over HTTP: profile and choices, plan, configure with progress,
convergence, status, pause, resume, remove, failures, async."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

import sigsync


def test_service_profile_fills_defaults_and_compares_by_value() -> None:
    p = sigsync.ServiceProfile(smart_hosts=["smtp.signatures.example.com"], certificate_name="tenant1.smtp.signatures.example.com")
    assert p.tls_domain == "smtp.signatures.example.com"
    assert p.loop_header[0]
    assert set(p.names) == {"outbound_connector", "inbound_connector", "routing_rule", "auto_reply_rule"}
    assert p == sigsync.ServiceProfile.from_dict(p.to_dict())
    assert p == sigsync.ServiceProfile.from_json(p.to_json())
    assert "smtp.signatures.example.com" in repr(p)
    custom = sigsync.ServiceProfile(
        smart_hosts=["a.example.com"], certificate_name="b.example.com", names={"routing_rule": "Sigs"}, loop_header=("X-Done", "1")
    )
    assert custom.names["routing_rule"] == "Sigs" and custom.loop_header == ("X-Done", "1")


def test_service_profile_readers_keep_the_loop_header_value_and_default_the_tls_domain(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "profile.json"
    # A saved profile without its loop-header value: the readers refuse to make one up...
    path.write_text(json.dumps(sigsync.EXAMPLE_PROFILE))
    with pytest.raises(sigsync.ValidationError) as info:
        sigsync.ServiceProfile.from_file(path)
    assert info.value.field == "loop_header.value"
    # ... load_or_init completes the file once, with tls_domain defaulting to the first host.
    first = sigsync.ServiceProfile.load_or_init(path)
    assert first.tls_domain == "smtp.signatures.example.com" and len(first.loop_header[1]) == 32
    assert sigsync.ServiceProfile.from_file(path) == first == sigsync.ServiceProfile.load_or_init(path)
    # Made anew: a new random value each time; saved and read back: the same.
    a, b = sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE), sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE)
    assert a.loop_header[1] != b.loop_header[1]
    a.save(path)
    assert sigsync.ServiceProfile.from_file(path) == a
    with pytest.raises(sigsync.ValidationError):
        sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE, loop_header=("X-Sigsync-Processed", "a+b"))
    rotating = sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE, extra_loop_header_values=["next-1"])
    assert rotating.extra_loop_header_values == ["next-1"]


def test_invalid_profile_and_setup_raise_validation_or_config_errors() -> None:
    with pytest.raises(sigsync.ValidationError) as info:
        sigsync.ServiceProfile(smart_hosts=[], certificate_name="x.example.com")
    assert info.value.field == "smart_hosts"
    with pytest.raises(sigsync.ConfigError):
        sigsync.ServiceProfile.from_json("{not json")
    profile = sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE)
    with pytest.raises(sigsync.ValidationError):
        sigsync.ConnectorSetup(profile, groups=[])
    with pytest.raises(TypeError):
        sigsync.ConnectorSetup(profile, groups="sales@contoso.com")


def test_connector_setup_options_and_definitions() -> None:
    profile = sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE)
    setup = sigsync.ConnectorSetup(profile, groups=["sales@contoso.com"], include_internal=False, staged=True, auto_replies=False)
    assert setup.groups == ["sales@contoso.com"] and not setup.include_internal and setup.staged
    assert setup == sigsync.ConnectorSetup(profile, groups=["sales@contoso.com"], include_internal=False, staged=True, auto_replies=False)
    assert setup.profile == profile
    d = setup.definitions()
    assert d["routing_rule"].from_member_of == ["sales@contoso.com"]
    assert d["auto_reply_rule"] is None
    assert d["outbound"].is_transport_rule_scoped is True
    assert json.loads(setup.to_json())["scope"] == {"groups": ["sales@contoso.com"]}
    assert "sales@contoso.com" in repr(setup)
    assert setup.to_dict()["staged"] is True


def test_plan_then_configure_with_progress_then_converge(sim: sigsync.Simulator, engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    assert engine.preflight(setup) == []
    plan = engine.plan(setup)
    assert len(plan) == 4 and not plan.is_empty
    assert {s.kind for s in plan} == {sigsync.ObjectKind.OUTBOUND_CONNECTOR, sigsync.ObjectKind.INBOUND_CONNECTOR, sigsync.ObjectKind.TRANSPORT_RULE}
    assert all(s.op is sigsync.Op.CREATE for s in plan.steps)
    assert "create outbound connector" in str(plan)
    assert json.loads(plan.to_json())["steps"][0]["op"] == "create"
    assert "4 steps" in repr(plan)

    events: list[sigsync.ProgressEvent] = []
    report = engine.configure(setup, progress=events.append)
    assert report.succeeded and report.error is None
    assert report.status is sigsync.SetupStatus.CONFIGURED
    assert report.action == "configure" and report.writes == 4
    assert [s.outcome for s in report.steps] == [sigsync.StepOutcome.DONE] * 4
    assert {e.kind for e in events} == {sigsync.ProgressKind.STARTED, sigsync.ProgressKind.FINISHED}
    assert str(events[0]).startswith("started: create")
    assert json.loads(report.to_json())["status"] == "configured"
    assert report.to_dict()["writes"] == 4
    assert "configure: configured" in str(report)

    again = engine.plan(setup)
    assert again.is_empty and len(again.unchanged) == 4 and str(again) == "nothing to change"
    sim.reset_calls()
    assert engine.configure(setup).writes == 0
    assert sim.write_count == 0


def test_apply_a_plan_computed_earlier(engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    plan = engine.plan(setup)
    report = engine.apply(setup, plan)
    assert report.succeeded and report.status is sigsync.SetupStatus.CONFIGURED
    with pytest.raises(TypeError):
        engine.apply(setup, sigsync.Plan({"steps": []}))


def test_status_pause_resume_and_remove(sim: sigsync.Simulator, engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    assert engine.status(setup).status is sigsync.SetupStatus.ABSENT
    engine.configure(setup)
    status = engine.status(setup)
    assert status.status is sigsync.SetupStatus.CONFIGURED and status.drift == [] and status.repair.is_empty
    assert json.loads(status.to_json())["status"] == "configured"
    assert status.to_dict()["drift"] == [] and "configured" in repr(status)

    paused = engine.pause(setup)
    assert paused.status is sigsync.SetupStatus.PAUSED and paused.action == "pause"
    resumed = engine.resume(setup)
    assert resumed.status is sigsync.SetupStatus.CONFIGURED

    sim.client().update_outbound_connector(setup.profile.names["outbound_connector"], tls_domain="drifted.example.com")
    drifted = engine.status(setup)
    assert drifted.drift and drifted.drift[0].op is sigsync.Op.UPDATE
    assert any(c.field == "TlsDomain" for c in drifted.drift[0].changes)

    removed = engine.remove(setup)
    assert removed.status is sigsync.SetupStatus.ABSENT
    kinds = [s.step.kind for s in removed.steps]
    assert kinds[-1] is sigsync.ObjectKind.INBOUND_CONNECTOR, "inbound connector goes last"
    assert sim.snapshot() == {"outbound_connectors": [], "inbound_connectors": [], "transport_rules": []}


def test_a_failed_write_raises_with_the_report_attached_and_is_undone(
    sim: sigsync.Simulator, engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup
) -> None:
    sim.inject_fault(sigsync.RejectedError, cmdlet="New-TransportRule", times=5)
    events: list[sigsync.ProgressEvent] = []
    # A script that forgets to check does not carry on: the failure raises.
    with pytest.raises(sigsync.RejectedError) as info:
        engine.configure(setup, progress=events.append)
    report = info.value.report
    assert isinstance(report, sigsync.Report)
    assert not report.succeeded
    assert report.error is info.value
    assert report.status is sigsync.SetupStatus.ABSENT and report.repair and report.reasons == []
    assert any(s.outcome is sigsync.StepOutcome.FAILED for s in report.steps)
    assert any(e.kind is sigsync.ProgressKind.FAILED and isinstance(e.error, sigsync.RejectedError) for e in events)
    assert sim.snapshot()["transport_rules"] == [] or report.status is not sigsync.SetupStatus.CONFIGURED


def test_status_names_the_reason_and_the_repair_when_mail_is_not_routed(
    sim: sigsync.Simulator, engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup
) -> None:
    engine.configure(setup)
    sim.update_settings(permissive=True)
    sim.client().update_outbound_connector(setup.profile.names["outbound_connector"], enabled=False)
    status = engine.status(setup)
    assert status.status is sigsync.SetupStatus.DEGRADED
    assert [r.code for r in status.reasons] == ["outbound_disabled"]
    assert "unsigned" in str(status.reasons[0])
    assert not status.repair.is_empty
    sim.client().remove_inbound_connector(setup.profile.names["inbound_connector"])
    sim.client().update_outbound_connector(setup.profile.names["outbound_connector"], enabled=True)
    assert engine.status(setup).status is sigsync.SetupStatus.AT_RISK
    assert {s.value for s in sigsync.SetupStatus} == {"configured", "degraded", "at_risk", "paused", "partial", "absent"}
    report = engine.configure(setup)
    assert report.succeeded and report.status is sigsync.SetupStatus.CONFIGURED


def test_resume_without_connectors_is_a_conflict(engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    with pytest.raises(sigsync.ConflictError):
        engine.resume(setup)


def test_a_foreign_object_with_our_name_is_a_conflict(client: sigsync.ExchangeClient, engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    name = setup.profile.names["outbound_connector"]
    client.create_outbound_connector(
        sigsync.OutboundConnector(name, connector_type="OnPremises", use_mx_record=False, smart_hosts=["other.example.com"], is_transport_rule_scoped=True)
    )
    with pytest.raises(sigsync.ConflictError):
        engine.configure(setup)


def test_preflight_error_blocks_configure_before_any_write(sim: sigsync.Simulator, engine: sigsync.SetupEngine) -> None:
    profile = sigsync.ServiceProfile(smart_hosts=["smtp.signatures.example.com"], certificate_name="not-accepted.example.net")
    setup = sigsync.ConnectorSetup(profile)
    findings = engine.preflight(setup)
    assert any(f.severity is sigsync.Severity.ERROR for f in findings)
    assert str(findings[0]).startswith(findings[0].severity.value)
    sim.reset_calls()
    with pytest.raises(sigsync.ValidationError):
        engine.configure(setup)
    assert sim.write_count == 0


def test_a_progress_callback_that_raises_does_not_stop_the_apply(
    engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_: sigsync.ProgressEvent) -> None:
        raise RuntimeError("callback bug")

    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    report = engine.configure(setup, progress=boom)
    assert report.succeeded
    assert seen and all(isinstance(e, RuntimeError) for e in seen)


def test_setup_engine_operations_are_awaitable(engine: sigsync.SetupEngine, setup: sigsync.ConnectorSetup) -> None:
    async def main() -> None:
        assert await engine.preflight_async(setup) == []
        plan = await engine.plan_async(setup)
        report = await engine.apply_async(setup, plan)
        assert report.succeeded
        assert (await engine.configure_async(setup)).writes == 0
        assert (await engine.pause_async(setup)).status is sigsync.SetupStatus.PAUSED
        assert (await engine.resume_async(setup)).status is sigsync.SetupStatus.CONFIGURED
        assert (await engine.status_async(setup)).status is sigsync.SetupStatus.CONFIGURED
        assert (await engine.remove_async(setup)).status is sigsync.SetupStatus.ABSENT

    asyncio.run(main())
    assert "SetupEngine(" in repr(engine)
