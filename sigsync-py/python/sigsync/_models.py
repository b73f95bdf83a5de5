"""The definitions of the Exchange Online objects a signature service creates.

Each class validates what Exchange Online validates (in the Rust core) when it is built, and
holds exactly the cmdlet parameters core would send. Options are keyword-only and named
like the cmdlet parameters in snake_case (``SmartHosts`` is ``smart_hosts``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from sigsync import _sigsync
from sigsync._enums import (
    ConnectorType,
    FromScope,
    GroupKind,
    MessageType,
    RuleErrorAction,
    RuleMode,
    SenderAddressLocation,
    SentToScope,
    TlsSettings,
    _wire,
)

__all__ = [
    "OutboundConnector",
    "InboundConnector",
    "TransportRule",
    "MailGroup",
    "AcceptedDomain",
]

_ENUM_PARAMS: dict[str, type[enum.Enum]] = {
    "ConnectorType": ConnectorType,
    "TlsSettings": TlsSettings,
    "FromScope": FromScope,
    "SentToScope": SentToScope,
    "MessageTypeMatches": MessageType,
    "ExceptIfMessageTypeMatches": MessageType,
    "Mode": RuleMode,
    "RuleErrorAction": RuleErrorAction,
    "SenderAddressLocation": SenderAddressLocation,
}


def snake_case(param: str) -> str:
    """The Python name of a cmdlet parameter: ``UseMXRecord`` is ``use_mx_record``."""
    param = param.replace("IPs", "Ips")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", param).lower()


class Definition:
    """What the three definitions share: a name, validation, cmdlet parameters, equality.

    Read a parameter as an attribute (``connector.smart_hosts``); enumerations come back as
    :class:`enum.Enum` members. Objects read from a tenant also carry ``guid``,
    ``when_created`` and ``when_changed`` (``None`` on definitions built locally). The
    repr shows the options that differ from the cmdlet's defaults, in parameter order.
    """

    _kind: ClassVar[str] = ""
    _table: ClassVar[dict[str, str]] = {}
    _defaults: ClassVar[dict[str, Any]] = {}

    guid: str | None
    when_created: str | None
    when_changed: str | None

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._kind = kind
        cls._table = {snake_case(p): p for p in _sigsync.definition_params(kind)}
        cls._defaults = json.loads(_sigsync.definition_defaults(kind))

    def __init__(self, name: str, **options: Any) -> None:
        params: dict[str, Any] = {"Name": name}
        for key, value in options.items():
            param = self._table.get(key)
            if param is None or param == "Name":
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {key!r}")
            params[param] = _to_wire(value)
        self._init(params)

    def _init(self, params: Mapping[str, Any], existing: Mapping[str, Any] | None = None) -> None:
        self._params: dict[str, Any] = json.loads(
            _sigsync.validate_definition(self._kind, json.dumps(dict(params)))
        )
        existing = existing or {}
        self.guid = existing.get("guid")
        self.when_created = existing.get("when_created")
        self.when_changed = existing.get("when_changed")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Definition:
        """Builds a definition from cmdlet parameters (``{"Name": ..., "SmartHosts": [...]}``)."""
        obj = cls.__new__(cls)
        obj._init({k: _to_wire(v) for k, v in params.items()})
        return obj

    @classmethod
    def _from_existing(cls, record: Mapping[str, Any]) -> Definition:
        obj = cls.__new__(cls)
        obj._init(record["params"], record)
        return obj

    @classmethod
    def option_names(cls) -> list[str]:
        """The keyword options this class takes (snake_case cmdlet parameters, ``name`` first)."""
        return list(cls._table)

    @property
    def name(self) -> str:
        """``Name``: unique, at most 64 characters."""
        return str(self._params["Name"])

    def __getattr__(self, attr: str) -> Any:
        table = type(self)._table
        if attr.startswith("_") or attr not in table:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        param = table[attr]
        value = self._params.get(param)
        enum_cls = _ENUM_PARAMS.get(param)
        if enum_cls is not None and value is not None:
            return enum_cls(value)
        return value

    def to_params(self) -> dict[str, Any]:
        """Every modelled cmdlet parameter (unset ones as ``None``), keyed by cmdlet name."""
        return _copy(self._params)

    def to_dict(self) -> dict[str, Any]:
        """Every option, keyed by its snake_case name (enumerations as wire names)."""
        return {snake_case(k): v for k, v in self.to_params().items()}

    def to_json(self) -> str:
        """The cmdlet parameters as JSON."""
        return json.dumps(self._params, indent=2)

    def replace(self, **options: Any) -> Definition:
        """A copy with some options changed, validated again."""
        params = self.to_params()
        for key, value in options.items():
            param = self._table.get(key)
            if param is None:
                raise TypeError(f"{type(self).__name__}.replace() got an unexpected keyword argument {key!r}")
            params[param] = _to_wire(value)
        return type(self).from_params(params)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Definition)
        return self._params == other._params

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [repr(self.name)]
        for param in self._table.values():
            value = self._params.get(param)
            if param == "Name" or value == self._defaults.get(param) or value == []:
                continue
            enum_cls = _ENUM_PARAMS.get(param)
            shown = f"{enum_cls.__name__}.{enum_cls(value).name}" if enum_cls else repr(value)
            parts.append(f"{snake_case(param)}={shown}")
        if self.guid:
            parts.append(f"guid={self.guid!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of JSON-shaped data."""
    return cast(dict[str, Any], json.loads(json.dumps(data)))


def _to_wire(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_wire(v) for v in value]
    return _wire(value)


class OutboundConnector(Definition, kind="outbound_connector"):
    """An outbound connector (``New-OutboundConnector``): the route from Exchange Online to
    the signature service's smart host.

    >>> OutboundConnector("Signature service (outbound)", connector_type=ConnectorType.ON_PREMISES,
    ...     use_mx_record=False, smart_hosts=["smtp.signatures.example.com"],
    ...     tls_settings=TlsSettings.DOMAIN_VALIDATION, tls_domain="smtp.signatures.example.com",
    ...     is_transport_rule_scoped=True)  # doctest: +ELLIPSIS
    OutboundConnector('Signature service (outbound)', connector_type=ConnectorType.ON_PREMISES, ...)
    """


class InboundConnector(Definition, kind="inbound_connector"):
    """An inbound connector (``New-InboundConnector``): accepts the processed mail back from
    the service, authenticated by its certificate name."""


class TransportRule(Definition, kind="transport_rule"):
    """A transport (mail flow) rule (``New-TransportRule``): which mail is routed to the
    service, with its exceptions."""


@dataclasses.dataclass(frozen=True)
class MailGroup:
    """A mail-enabled group that can scope the routing rule."""

    id: str
    """The directory object id."""
    display_name: str
    """The display name."""
    mail: str
    """The primary SMTP address."""
    kind: GroupKind
    """What kind of group it is."""

    @classmethod
    def _from_json(cls, d: Mapping[str, Any]) -> MailGroup:
        return cls(d["id"], d["display_name"], d["mail"], GroupKind(d["kind"]))


@dataclasses.dataclass(frozen=True)
class AcceptedDomain:
    """An accepted domain of the tenant."""

    domain_name: str
    """The domain, e.g. ``contoso.com``."""
    domain_type: str
    """``Authoritative``, ``InternalRelay`` or ``ExternalRelay``."""
    default: bool
    """Whether it is the default domain."""

    @classmethod
    def _from_json(cls, d: Mapping[str, Any]) -> AcceptedDomain:
        return cls(d["domain_name"], d["domain_type"], bool(d["default"]))
