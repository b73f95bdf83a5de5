"""The Exchange Online client."""

from __future__ import annotations

import json
from typing import Any

from sigsync import _sigsync
from sigsync._enums import Cloud, _member
from sigsync._models import (
    AcceptedDomain,
    Definition,
    InboundConnector,
    MailGroup,
    OutboundConnector,
    TransportRule,
    _to_wire,
)
from sigsync._sigsync import Credentials
from sigsync._util import awaitable

__all__ = ["ExchangeClient"]


class ExchangeClient:
    """A client of Exchange Online and Microsoft Graph for one tenant.

    Every call blocks with the GIL released (``*_async`` twins exist for asyncio).
    Throttling (honouring Retry-After), transient errors and replication lag are retried in
    one layer, bounded by ``max_attempts`` and ``max_retry_wait``.

    Args:
        credentials: From :func:`sign_in_device_code` or :func:`sign_in_app_only`.
        tenant: The tenant id or a domain (default: the signed-in tenant).
        cloud: The Microsoft cloud (chooses the default endpoints).
        exchange_url: A custom Exchange Online base URL.
        graph_url: A custom Microsoft Graph base URL (with ``/v1.0``).
        allow_http: Allow plain ``http://`` endpoints (loopback only).
        timeout: Seconds per HTTP request.
        max_attempts: Attempts per call, the first included (1 turns retries off).
        max_retry_wait: Seconds one call may spend waiting between attempts.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        tenant: str | None = None,
        cloud: Cloud | str = Cloud.GLOBAL,
        exchange_url: str | None = None,
        graph_url: str | None = None,
        allow_http: bool = False,
        timeout: float | None = None,
        max_attempts: int = 5,
        max_retry_wait: float = 120.0,
    ) -> None:
        self._native = _sigsync.ExchangeClient(
            credentials,
            tenant=tenant,
            cloud=_member(Cloud, cloud).value,
            exchange_url=exchange_url,
            graph_url=graph_url,
            allow_http=allow_http,
            timeout=timeout,
            max_attempts=max_attempts,
            max_retry_wait=max_retry_wait,
        )

    def __repr__(self) -> str:
        return repr(self._native)

    def list_outbound_connectors(self) -> list[OutboundConnector]:
        """``Get-OutboundConnector``: every outbound connector (with ``guid``)."""
        return [OutboundConnector._from_existing(r) for r in json.loads(self._native.list("outbound_connector"))]  # type: ignore[misc]

    def list_inbound_connectors(self) -> list[InboundConnector]:
        """``Get-InboundConnector``: every inbound connector (with ``guid``)."""
        return [InboundConnector._from_existing(r) for r in json.loads(self._native.list("inbound_connector"))]  # type: ignore[misc]

    def list_transport_rules(self) -> list[TransportRule]:
        """``Get-TransportRule``: every transport rule, in priority order (with ``guid``)."""
        return [TransportRule._from_existing(r) for r in json.loads(self._native.list("transport_rule"))]  # type: ignore[misc]

    def _create(self, definition: Definition, cls: type[Definition]) -> Any:
        if not isinstance(definition, cls):
            raise TypeError(f"expected a {cls.__name__}, got {type(definition).__name__}")
        record = json.loads(self._native.create(cls._kind, json.dumps(definition.to_params())))
        return cls._from_existing(record)

    def create_outbound_connector(self, connector: OutboundConnector) -> OutboundConnector:
        """``New-OutboundConnector``; returns the connector as created."""
        return self._create(connector, OutboundConnector)  # type: ignore[no-any-return]

    def create_inbound_connector(self, connector: InboundConnector) -> InboundConnector:
        """``New-InboundConnector``; returns the connector as created."""
        return self._create(connector, InboundConnector)  # type: ignore[no-any-return]

    def create_transport_rule(self, rule: TransportRule) -> TransportRule:
        """``New-TransportRule``; returns the rule as created."""
        return self._create(rule, TransportRule)  # type: ignore[no-any-return]

    def _update(self, cls: type[Definition], identity: str, options: dict[str, Any]) -> None:
        changes = {}
        for key, value in options.items():
            param = cls._table.get(key)
            if param is None or param == "Name":
                raise TypeError(f"unexpected option {key!r} for {cls.__name__}")
            changes[param] = _to_wire(value)
        self._native.update(cls._kind, identity, json.dumps(changes))

    def update_outbound_connector(self, identity: str, **options: Any) -> None:
        """``Set-OutboundConnector`` with only the given options (snake_case parameters)."""
        self._update(OutboundConnector, identity, options)

    def update_inbound_connector(self, identity: str, **options: Any) -> None:
        """``Set-InboundConnector`` with only the given options (snake_case parameters)."""
        self._update(InboundConnector, identity, options)

    def update_transport_rule(self, identity: str, **options: Any) -> None:
        """``Set-TransportRule`` with only the given options (snake_case parameters)."""
        self._update(TransportRule, identity, options)

    def remove_outbound_connector(self, identity: str) -> None:
        """``Remove-OutboundConnector`` (by name or GUID)."""
        self._native.remove("outbound_connector", identity)

    def remove_inbound_connector(self, identity: str) -> None:
        """``Remove-InboundConnector`` (by name or GUID)."""
        self._native.remove("inbound_connector", identity)

    def remove_transport_rule(self, identity: str) -> None:
        """``Remove-TransportRule`` (by name or GUID)."""
        self._native.remove("transport_rule", identity)

    def enable_transport_rule(self, identity: str) -> None:
        """``Enable-TransportRule``."""
        self._native.set_rule_enabled(identity, True)

    def disable_transport_rule(self, identity: str) -> None:
        """``Disable-TransportRule``."""
        self._native.set_rule_enabled(identity, False)

    def list_mail_enabled_groups(self) -> list[MailGroup]:
        """The tenant's mail-enabled groups (distribution lists, mail-enabled security and
        Microsoft 365 groups), through Microsoft Graph."""
        return [MailGroup._from_json(g) for g in json.loads(self._native.list_mail_enabled_groups())]

    def list_accepted_domains(self) -> list[AcceptedDomain]:
        """``Get-AcceptedDomain``: the tenant's accepted domains."""
        return [AcceptedDomain._from_json(d) for d in json.loads(self._native.list_accepted_domains())]

    list_outbound_connectors_async = awaitable(list_outbound_connectors)
    list_inbound_connectors_async = awaitable(list_inbound_connectors)
    list_transport_rules_async = awaitable(list_transport_rules)
    create_outbound_connector_async = awaitable(create_outbound_connector)
    create_inbound_connector_async = awaitable(create_inbound_connector)
    create_transport_rule_async = awaitable(create_transport_rule)
    update_outbound_connector_async = awaitable(update_outbound_connector)
    update_inbound_connector_async = awaitable(update_inbound_connector)
    update_transport_rule_async = awaitable(update_transport_rule)
    remove_outbound_connector_async = awaitable(remove_outbound_connector)
    remove_inbound_connector_async = awaitable(remove_inbound_connector)
    remove_transport_rule_async = awaitable(remove_transport_rule)
    enable_transport_rule_async = awaitable(enable_transport_rule)
    disable_transport_rule_async = awaitable(disable_transport_rule)
    list_mail_enabled_groups_async = awaitable(list_mail_enabled_groups)
    list_accepted_domains_async = awaitable(list_accepted_domains)
