"""Definitions validate as Exchange does, compare by value, and read back as enums."""

from __future__ import annotations

import pytest

import sigsync
from sigsync import _sigsync
from sigsync._models import snake_case


def outbound(**overrides: object) -> sigsync.OutboundConnector:
    options: dict[str, object] = dict(
        connector_type=sigsync.ConnectorType.ON_PREMISES,
        use_mx_record=False,
        smart_hosts=["smtp.signatures.example.com"],
        tls_settings=sigsync.TlsSettings.DOMAIN_VALIDATION,
        tls_domain="smtp.signatures.example.com",
        is_transport_rule_scoped=True,
    )
    options.update(overrides)
    return sigsync.OutboundConnector("Signature service (outbound)", **options)


def test_definition_reads_back_options_with_enums() -> None:
    c = outbound()
    assert c.name == "Signature service (outbound)"
    assert c.connector_type is sigsync.ConnectorType.ON_PREMISES
    assert c.smart_hosts == ["smtp.signatures.example.com"]
    assert c.use_mx_record is False
    assert c.comment is None
    assert c.guid is None


def test_definitions_compare_by_value_and_repr_shows_options() -> None:
    assert outbound() == outbound()
    assert outbound() != outbound(tls_domain="other.example.com")
    text = repr(outbound())
    assert text.startswith("OutboundConnector('Signature service (outbound)'")
    assert "connector_type=ConnectorType.ON_PREMISES" in text
    assert "smart_hosts=['smtp.signatures.example.com']" in text


def test_invalid_definition_raises_validation_error_naming_the_parameter() -> None:
    with pytest.raises(sigsync.ValidationError) as info:
        outbound(smart_hosts=[], use_mx_record=False)
    assert info.value.field == "SmartHosts"
    with pytest.raises(sigsync.ValidationError) as info:
        sigsync.TransportRule("x" * 65)
    assert info.value.field == "Name"


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="smarthost"):
        sigsync.OutboundConnector("x", smarthost="a")


def test_to_params_to_dict_from_params_and_replace_round_trip() -> None:
    c = outbound()
    assert sigsync.OutboundConnector.from_params(c.to_params()) == c
    d = c.to_dict()
    assert d["smart_hosts"] == ["smtp.signatures.example.com"] and d["name"] == c.name
    changed = c.replace(comment="managed")
    assert changed.comment == "managed" and c.comment is None
    assert '"SmartHosts"' in c.to_json()


def test_inbound_connector_and_transport_rule_build() -> None:
    inbound = sigsync.InboundConnector(
        "Signature service (inbound)",
        connector_type="OnPremises",
        sender_domains=["*"],
        require_tls=True,
        tls_sender_certificate_name="tenant1.smtp.signatures.example.com",
        restrict_domains_to_certificate=True,
    )
    assert inbound.require_tls is True
    rule = sigsync.TransportRule(
        "Route mail to the signature service",
        priority=0,
        from_scope=sigsync.FromScope.IN_ORGANIZATION,
        except_if_header_matches_message_header="X-Sigsync-Processed",
        except_if_header_matches_patterns=["true"],
        except_if_message_type_matches=sigsync.MessageType.CALENDARING,
        route_message_outbound_connector="Signature service (outbound)",
    )
    assert rule.except_if_message_type_matches is sigsync.MessageType.CALENDARING
    assert "ef_skip_ips" in sigsync.InboundConnector.option_names()


def test_python_option_names_are_the_snake_case_cmdlet_parameters() -> None:
    assert snake_case("UseMXRecord") == "use_mx_record"
    assert snake_case("EFSkipIPs") == "ef_skip_ips"
    assert snake_case("SenderIPAddresses") == "sender_ip_addresses"
    assert snake_case("ExceptIfSenderIpRanges") == "except_if_sender_ip_ranges"
    assert len(set(sigsync.TransportRule.option_names())) == len(_sigsync.definition_params("transport_rule"))


@pytest.mark.parametrize(
    "cls",
    [
        sigsync.ConnectorType,
        sigsync.TlsSettings,
        sigsync.FromScope,
        sigsync.SentToScope,
        sigsync.MessageType,
        sigsync.RuleMode,
        sigsync.RuleErrorAction,
        sigsync.SenderAddressLocation,
    ],
)
def test_python_enums_match_the_core_wire_names(cls: type) -> None:
    name = "MessageType" if cls is sigsync.MessageType else cls.__name__
    assert [m.value for m in cls] == _sigsync.enum_values(name)  # type: ignore[attr-defined]
