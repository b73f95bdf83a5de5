"""The enumerations of sigsync, as :class:`enum.Enum` classes whose values are the wire names."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

__all__ = [
    "Cloud",
    "GroupKind",
    "ConnectorType",
    "TlsSettings",
    "FromScope",
    "SentToScope",
    "MessageType",
    "RuleMode",
    "RuleErrorAction",
    "SenderAddressLocation",
    "ObjectKind",
    "Op",
    "SetupStatus",
    "Severity",
    "StepOutcome",
    "ProgressKind",
    "SignInOutcome",
]

E = TypeVar("E", bound=enum.Enum)


def _wire(value: Any) -> Any:
    """The wire value of an enum member (other values pass through)."""
    return value.value if isinstance(value, enum.Enum) else value


def _member(cls: type[E], value: Any) -> E:
    """`value` (a member or its wire name, case-insensitively) as a member of `cls`."""
    if isinstance(value, cls):
        return value
    for member in cls:
        if isinstance(value, str) and str(member.value).lower() == value.lower():
            return member
    raise ValueError(f"{value!r} is not a {cls.__name__}: one of {[m.value for m in cls]}")


class Cloud(enum.Enum):
    """The Microsoft cloud a tenant lives in."""

    GLOBAL = "global"
    """The global (commercial) cloud, GCC included."""
    US_GOV_GCC_HIGH = "usgovgcchigh"
    """US Government GCC High."""
    US_GOV_DOD = "usgovdod"
    """US Government DoD."""
    CHINA = "china"
    """China, operated by 21Vianet."""


class GroupKind(enum.Enum):
    """The kind of a directory group."""

    DISTRIBUTION = "distribution"
    """A distribution list."""
    MAIL_ENABLED_SECURITY = "mail_enabled_security"
    """A mail-enabled security group."""
    MICROSOFT365 = "microsoft365"
    """A Microsoft 365 group."""
    SECURITY = "security"
    """A security group without mail (cannot scope a rule)."""


class ConnectorType(enum.Enum):
    """``ConnectorType`` of a connector."""

    PARTNER = "Partner"
    """A partner organisation or service."""
    ON_PREMISES = "OnPremises"
    """Your own servers or a service acting for you (what a signature service uses)."""


class TlsSettings(enum.Enum):
    """``TlsSettings`` of an outbound connector: how the receiving certificate is checked."""

    ENCRYPTION_ONLY = "EncryptionOnly"
    """Any certificate, self-signed included."""
    CERTIFICATE_VALIDATION = "CertificateValidation"
    """A certificate from a trusted authority."""
    DOMAIN_VALIDATION = "DomainValidation"
    """A trusted certificate carrying ``TlsDomain``."""


class FromScope(enum.Enum):
    """``FromScope`` of a transport rule."""

    IN_ORGANIZATION = "InOrganization"
    """Senders inside the organisation."""
    NOT_IN_ORGANIZATION = "NotInOrganization"
    """Senders outside the organisation."""


class SentToScope(enum.Enum):
    """``SentToScope`` of a transport rule."""

    IN_ORGANIZATION = "InOrganization"
    """Recipients inside the organisation."""
    NOT_IN_ORGANIZATION = "NotInOrganization"
    """Recipients outside the organisation."""
    EXTERNAL_PARTNER = "ExternalPartner"
    """Recipients at a partner domain."""
    EXTERNAL_NON_PARTNER = "ExternalNonPartner"
    """External recipients not at a partner domain."""


class MessageType(enum.Enum):
    """``MessageTypeMatches`` values of a transport rule."""

    OOF = "OOF"
    """Automatic (out-of-office) replies."""
    AUTO_FORWARD = "AutoForward"
    """Automatically forwarded mail."""
    ENCRYPTED = "Encrypted"
    """Encrypted mail."""
    CALENDARING = "Calendaring"
    """Meeting requests and responses."""
    PERMISSION_CONTROLLED = "PermissionControlled"
    """Rights-protected mail."""
    VOICEMAIL = "Voicemail"
    """Voicemail."""
    SIGNED = "Signed"
    """Digitally signed mail."""
    APPROVAL_REQUEST = "ApprovalRequest"
    """Moderation requests."""
    READ_RECEIPT = "ReadReceipt"
    """Read receipts."""


class RuleMode(enum.Enum):
    """``Mode`` of a transport rule."""

    AUDIT = "Audit"
    """Test without actions."""
    AUDIT_AND_NOTIFY = "AuditAndNotify"
    """Test with policy tips."""
    ENFORCE = "Enforce"
    """Enforce the rule."""


class RuleErrorAction(enum.Enum):
    """``RuleErrorAction``: what happens to a message when the rule fails at delivery time."""

    IGNORE = "Ignore"
    """The message goes out unchanged (unsigned)."""
    DEFER = "Defer"
    """The message is deferred and retried."""


class SenderAddressLocation(enum.Enum):
    """``SenderAddressLocation``: where the rule looks for the sender."""

    HEADER = "Header"
    """The message headers."""
    ENVELOPE = "Envelope"
    """The SMTP envelope."""
    HEADER_OR_ENVELOPE = "HeaderOrEnvelope"
    """Either."""


class ObjectKind(enum.Enum):
    """The three kinds of object sigsync manages."""

    INBOUND_CONNECTOR = "inbound_connector"
    """An inbound connector."""
    OUTBOUND_CONNECTOR = "outbound_connector"
    """An outbound connector."""
    TRANSPORT_RULE = "transport_rule"
    """A transport rule."""


class Op(enum.Enum):
    """What a plan step does."""

    CREATE = "create"
    """Create the object."""
    UPDATE = "update"
    """Change some of its parameters."""
    ENABLE = "enable"
    """Enable a rule."""
    DISABLE = "disable"
    """Disable a rule."""
    REMOVE = "remove"
    """Remove the object."""


class SetupStatus(enum.Enum):
    """Where a setup stands in the tenant (the same names as in Rust, C and the setup
    example's JSON)."""

    CONFIGURED = "configured"
    """Mail is routed through the service and can come back: every object as set up."""
    DEGRADED = "degraded"
    """Mail flows, but not as set up (typically unsigned: the outbound connector is disabled,
    missing or no longer rule-scoped). The reasons say which."""
    AT_RISK = "at_risk"
    """Mail is routed out but may not come back, or loops (the inbound connector is missing or
    expects another certificate, other smart hosts, no loop-header exception). Repair at
    once."""
    PAUSED = "paused"
    """Every object exists and the routing rule is disabled: mail flows untouched."""
    PARTIAL = "partial"
    """Some objects exist, some do not, and no mail is routed."""
    ABSENT = "absent"
    """None of sigsync's objects exist."""


class Severity(enum.Enum):
    """How serious a preflight finding is."""

    ERROR = "error"
    """Setup would break mail: sigsync refuses to apply."""
    WARNING = "warning"
    """Setup works, but some mail may not be signed, or be signed wrongly."""


class StepOutcome(enum.Enum):
    """How a step of an apply ended."""

    DONE = "done"
    """It was applied."""
    ADOPTED = "adopted"
    """A create found the object already there as sigsync's and took it over."""
    FAILED = "failed"
    """It failed and was not applied."""
    UNKNOWN = "unknown"
    """It failed in a way that may have been applied (a 5xx, a timeout, a lost response)."""
    UNDONE = "undone"
    """It was applied, then undone after a later failure."""
    UNDO_FAILED = "undo_failed"
    """It was applied, and undoing it after a later failure failed too."""


class ProgressKind(enum.Enum):
    """What a progress event reports."""

    STARTED = "started"
    """A step started."""
    FINISHED = "finished"
    """A step finished."""
    ADOPTED = "adopted"
    """A create found the object already there as sigsync's and took it over."""
    FAILED = "failed"
    """A step failed."""
    UNDOING = "undoing"
    """A step created by this apply is being removed again after a failure."""


class SignInOutcome(enum.Enum):
    """What the simulated admin does with a device-code sign-in."""

    APPROVE = "approve"
    """The admin approves."""
    DECLINE = "decline"
    """The admin declines."""
    EXPIRE = "expire"
    """The admin never finishes: the code expires."""
