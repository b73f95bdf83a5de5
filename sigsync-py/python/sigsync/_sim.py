"""The simulated tenant: Exchange Online, Microsoft sign-in and Graph, served over HTTP on
loopback, so scripts can be tested without a tenant."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple

from sigsync import _sigsync
from sigsync._auth import DeviceCodePrompt, sign_in_device_code
from sigsync._client import ExchangeClient
from sigsync._enums import GroupKind, SignInOutcome, _member
from sigsync._errors import SigsyncError
from sigsync._models import InboundConnector, OutboundConnector, TransportRule
from sigsync._setup import ServiceProfile
from sigsync._sigsync import Credentials

__all__ = ["Simulator", "SimCall", "EXAMPLE_PROFILE"]

EXAMPLE_PROFILE: dict[str, Any] = {
    "smart_hosts": ["smtp.signatures.example.com"],
    "certificate_name": "tenant1.smtp.signatures.example.com",
}
"""The example signature service the seeded simulator is set up for (without a loop-header
value: ``ServiceProfile(**EXAMPLE_PROFILE)`` makes a profile with a new one)."""


class SimCall(NamedTuple):
    """One call the simulated tenant received."""

    number: int
    """1-based position among all calls."""
    cmdlet: str
    """The cmdlet, e.g. ``New-TransportRule``."""
    identity: str | None
    """The object it named, if any."""
    error: str | None
    """The error kind it failed with (``"throttled"``, ...), if it failed."""


class Simulator:
    """A simulated Exchange Online tenant served over HTTP on ``127.0.0.1``.

    Use it as a context manager: the server starts when the object is created and stops on
    ``close()`` or when the ``with`` block ends. Point your script's sign-in and client at
    :attr:`login_url`, :attr:`exchange_url` and :attr:`graph_url` (with ``allow_http=True``),
    or use :meth:`sign_in` and :meth:`client`.

    >>> with Simulator(seeded=True) as sim:
    ...     client = sim.client()
    ...     [g.mail for g in client.list_mail_enabled_groups()]
    ['sales@contoso.com', 'marketing@contoso.com', 'helpdesk@contoso.com']

    Args:
        seeded: Add the example directory: accepted domains (contoso.com and the example
            service's certificate domain), two users and mail-enabled groups.
        state: A tenant saved with :meth:`save` (a path) to start from.
        tenant_id: The tenant id (random by default).
        tenant_domain: The tenant's initial domain.
        admin: The admin who signs in with the device code.
        sign_in: What the admin does with a device-code sign-in.
        pending_polls: How many polls answer "pending" before the outcome.
        client_secret: The secret app-only sign-in must present (``None`` accepts any).
    """

    def __init__(
        self,
        *,
        seeded: bool = False,
        state: str | os.PathLike[str] | None = None,
        tenant_id: str | None = None,
        tenant_domain: str | None = None,
        admin: str | None = None,
        sign_in: SignInOutcome | str = SignInOutcome.APPROVE,
        pending_polls: int = 0,
        client_secret: str | None = None,
    ) -> None:
        state_json = None
        self._example_profile: ServiceProfile | None = None
        if state is not None:
            with open(state, encoding="utf-8") as f:
                state_json = f.read()
        self._native = _sigsync.SimServer(
            state=state_json,
            tenant_id=tenant_id,
            tenant_domain=tenant_domain,
            user_principal_name=admin,
            pending_polls=pending_polls,
            sign_in=_member(SignInOutcome, sign_in).value,
            client_secret=client_secret,
        )
        if seeded and state is None:
            self._seed()

    def _seed(self) -> None:
        self.add_accepted_domain("contoso.com", default=True)
        self.add_accepted_domain("contoso.onmicrosoft.com")
        self.add_accepted_domain("tenant1.smtp.signatures.example.com")
        self.add_user("adele@contoso.com", "Adele Vance", jobTitle="Retail Manager")
        self.add_user("megan@contoso.com", "Megan Bowen", jobTitle="Marketing Manager")
        self.add_group("Sales", mail="sales@contoso.com", members=["adele@contoso.com"])
        self.add_group(
            "Marketing", mail="marketing@contoso.com", kind=GroupKind.MICROSOFT365, members=["megan@contoso.com"]
        )
        self.add_group("Helpdesk", mail="helpdesk@contoso.com", kind=GroupKind.MAIL_ENABLED_SECURITY)
        self.add_group("IT admins", kind=GroupKind.SECURITY)

    # Lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stops serving (calling it again does nothing)."""
        self._native.close()

    @property
    def running(self) -> bool:
        """Whether the server is still serving."""
        return bool(self._native.running)

    def __repr__(self) -> str:
        return f"Simulator(url={self.url!r}, tenant_id={self.tenant_id!r}, running={self.running})"

    # URLs and identity -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:49152``."""
        return str(self._native.uri)

    @property
    def login_url(self) -> str:
        """The sign-in endpoint base (``login_url`` of the sign-in functions)."""
        return self.url

    @property
    def exchange_url(self) -> str:
        """The Exchange Online base URL (``exchange_url`` of :class:`ExchangeClient`)."""
        return self.url

    @property
    def graph_url(self) -> str:
        """The Microsoft Graph base URL, with ``/v1.0``."""
        return f"{self.url}/v1.0"

    @property
    def tenant_id(self) -> str:
        """The tenant id (a GUID)."""
        return str(self._native.tenant_id)

    @property
    def tenant_domain(self) -> str:
        """The tenant's initial domain."""
        return str(self._native.tenant_domain)

    def example_profile(self) -> ServiceProfile:
        """The example signature service's profile (its certificate domain is an accepted
        domain of the seeded tenant), made once per simulator: the same loop-header value on
        every call."""
        if self._example_profile is None:
            self._example_profile = ServiceProfile(**EXAMPLE_PROFILE)
        return self._example_profile

    def sign_in(
        self,
        *,
        client_id: str = "sigsync-python",
        prompt: Callable[[DeviceCodePrompt], object] | None = None,
    ) -> Credentials:
        """Signs in with the device code flow against the simulated login endpoint (the
        prompt is discarded unless you pass a callback)."""
        return sign_in_device_code(
            client_id,
            self.tenant_id,
            prompt=prompt or (lambda _p: None),
            login_url=self.login_url,
            allow_http=True,
        )

    def client(self, credentials: Credentials | None = None, **options: Any) -> ExchangeClient:
        """An :class:`ExchangeClient` for this tenant (signing in first without
        ``credentials``); ``options`` go to the client (``max_attempts=1``, ...)."""
        return ExchangeClient(
            credentials or self.sign_in(),
            exchange_url=self.exchange_url,
            graph_url=self.graph_url,
            allow_http=True,
            **options,
        )

    # Directory -------------------------------------------------------------------------

    def add_accepted_domain(self, domain: str, *, default: bool = False) -> None:
        """Adds an accepted domain."""
        self._native.add_accepted_domain(domain, default=default)

    def add_group(
        self,
        display_name: str,
        *,
        mail: str | None = None,
        kind: GroupKind | str = GroupKind.DISTRIBUTION,
        members: Iterable[str] = (),
    ) -> str:
        """Adds a group (members are user addresses or group ids); returns its id."""
        return str(
            self._native.add_group(display_name, mail=mail, kind=_member(GroupKind, kind).value, members=list(members))
        )

    def add_user(self, user_principal_name: str, display_name: str, **properties: Any) -> str:
        """Adds a user with Graph properties (``jobTitle="Engineer"``, ...); returns its id."""
        return str(self._native.add_user(user_principal_name, display_name, properties_json=json.dumps(properties)))

    # Faults, calls, settings -----------------------------------------------------------

    def inject_fault(
        self,
        error: type[SigsyncError] | str,
        *,
        call: int | None = None,
        cmdlet: str | None = None,
        every_nth: int | None = None,
        writes: bool = False,
        times: int | None = None,
    ) -> None:
        """Makes calls fail with an error of the given class (``ThrottledError``) or kind
        name (``"throttled"``), with the status and exception type Exchange uses.

        Give exactly one trigger: ``call`` (1-based index among all calls), ``cmdlet``
        (e.g. ``"New-TransportRule"``), ``every_nth``, or ``writes=True``. ``times`` limits
        how often it fires (``call`` fires once by default, the others for ever).
        """
        name = error.__name__ if isinstance(error, type) else error
        self._native.inject_fault(name, call=call, cmdlet=cmdlet, every_nth=every_nth, writes=writes, times=times)

    def clear_faults(self) -> None:
        """Removes every injected fault."""
        self._native.clear_faults()

    def set_latency(self, seconds: float) -> None:
        """Adds latency to every call."""
        self._native.set_latency(seconds)

    @property
    def settings(self) -> dict[str, Any]:
        """How the tenant behaves where Exchange's behaviour is a choice (``permissive``,
        ``replication_lag_reads``, ``throttle_retry_after_ms``, ...)."""
        return dict(json.loads(self._native.settings_json()))

    def update_settings(self, **settings: Any) -> None:
        """Changes some settings (see :attr:`settings` for the names)."""
        current = self.settings
        unknown = set(settings) - set(current)
        if unknown:
            raise TypeError(f"unknown simulator settings: {sorted(unknown)}")
        self._native.set_settings_json(json.dumps({**current, **settings}))

    def calls(self) -> list[SimCall]:
        """Every call received so far."""
        return [SimCall(*c) for c in self._native.calls()]

    @property
    def write_count(self) -> int:
        """How many write calls the tenant received."""
        return int(self._native.write_count())

    def reset_calls(self) -> None:
        """Forgets the calls received so far."""
        self._native.reset_calls()

    def revoke_access_tokens(self) -> None:
        """Invalidates every access token issued so far (the next call gets HTTP 401)."""
        self._native.revoke_access_tokens()

    # State -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, list[Any]]:
        """What the tenant holds, read without counting as calls: ``outbound_connectors``,
        ``inbound_connectors`` and ``transport_rules`` (definitions with ``guid``)."""
        s = json.loads(self._native.snapshot_json())
        return {
            "outbound_connectors": [OutboundConnector._from_existing(r) for r in s["outbound_connector"]],
            "inbound_connectors": [InboundConnector._from_existing(r) for r in s["inbound_connector"]],
            "transport_rules": [TransportRule._from_existing(r) for r in s["transport_rule"]],
        }

    def state_json(self) -> str:
        """The whole tenant (settings, objects, directory) as JSON."""
        return str(self._native.state_json())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Saves the tenant to a file, for ``Simulator(state=path)``."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.state_json())
