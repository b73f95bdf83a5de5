"""sigsync: server-side email signatures for Microsoft 365.

Set up the Exchange Online mail flow that routes a tenant's mail through a signature
service (connectors and a transport rule), test it against a simulated tenant, and render
signatures::

    import sigsync

    with sigsync.Simulator(seeded=True) as sim:
        engine = sigsync.SetupEngine(sim.client())
        setup = sigsync.ConnectorSetup(sim.example_profile(), groups=["sales@contoso.com"])
        print(engine.plan(setup))
        report = engine.configure(setup, progress=print)
        assert report.status is sigsync.SetupStatus.CONFIGURED

Every network or CPU-heavy call releases the GIL; network calls have ``*_async`` twins.
Errors derive from :class:`SigsyncError`.
"""

from sigsync._auth import (
    Credentials,
    DeviceCodePrompt,
    sign_in_app_only,
    sign_in_app_only_async,
    sign_in_device_code,
    sign_in_device_code_async,
)
from sigsync._client import ExchangeClient
from sigsync._enums import (
    Cloud,
    ConnectorType,
    FromScope,
    GroupKind,
    MessageType,
    ObjectKind,
    Op,
    ProgressKind,
    RuleErrorAction,
    RuleMode,
    SenderAddressLocation,
    SentToScope,
    SetupStatus,
    Severity,
    SignInOutcome,
    StepOutcome,
    TlsSettings,
)
from sigsync._errors import (
    AlreadyExistsError,
    AuthError,
    ConfigError,
    ConflictError,
    ExchangeError,
    ForbiddenError,
    InternalError,
    NetworkError,
    NotFoundError,
    RejectedError,
    SigsyncError,
    SignInCancelledError,
    SignInDeclinedError,
    SignInExpiredError,
    SignInRequiredError,
    ThrottledError,
    TransientError,
    UnauthorizedError,
    ValidationError,
)
from sigsync._inject import Injector, Outcome
from sigsync._models import AcceptedDomain, InboundConnector, MailGroup, OutboundConnector, TransportRule
from sigsync._setup import (
    ConnectorSetup,
    FieldChange,
    Finding,
    Plan,
    ProgressEvent,
    Reason,
    Report,
    ServiceProfile,
    SetupEngine,
    StatusReport,
    Step,
    StepReport,
)
from sigsync._sigsync import __version__
from sigsync._signature import Rendering, Signatures, render
from sigsync._sim import EXAMPLE_PROFILE, SimCall, Simulator

__all__ = [
    "__version__",
    # errors
    "SigsyncError",
    "ValidationError",
    "ConfigError",
    "ConflictError",
    "AuthError",
    "SignInRequiredError",
    "SignInDeclinedError",
    "SignInExpiredError",
    "SignInCancelledError",
    "ExchangeError",
    "NotFoundError",
    "AlreadyExistsError",
    "RejectedError",
    "UnauthorizedError",
    "ForbiddenError",
    "ThrottledError",
    "TransientError",
    "NetworkError",
    "InternalError",
    # enums
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
    # sign-in and client
    "Credentials",
    "DeviceCodePrompt",
    "sign_in_device_code",
    "sign_in_device_code_async",
    "sign_in_app_only",
    "sign_in_app_only_async",
    "ExchangeClient",
    # definitions
    "OutboundConnector",
    "InboundConnector",
    "TransportRule",
    "MailGroup",
    "AcceptedDomain",
    # setup
    "ServiceProfile",
    "ConnectorSetup",
    "SetupEngine",
    "Plan",
    "Step",
    "FieldChange",
    "Finding",
    "Report",
    "Reason",
    "StepReport",
    "StatusReport",
    "ProgressEvent",
    # simulator
    "Simulator",
    "SimCall",
    "EXAMPLE_PROFILE",
    # signatures and injection
    "Injector",
    "Outcome",
    "Signatures",
    "Rendering",
    "render",
]
