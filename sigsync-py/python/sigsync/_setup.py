"""The connector wizard as a library: profile, choices, then plan, apply, pause, resume,
remove and status through the engine. The plan is in ``_plan``, reports in ``_report``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sigsync import _sigsync
from sigsync._client import ExchangeClient
from sigsync._enums import ProgressKind, RuleErrorAction, _member
from sigsync._models import InboundConnector, OutboundConnector, TransportRule, _copy
from sigsync._plan import Finding, Plan, Step
from sigsync._report import ProgressEvent, Report, StatusReport
from sigsync._util import awaitable

__all__ = ["ServiceProfile", "ConnectorSetup", "SetupEngine"]

_MINIMAL_PROFILE = {"smart_hosts": ["smtp.example.com"], "certificate_name": "relay.example.com"}


class ServiceProfile:
    """The signature service a tenant routes mail through: its smart hosts, the certificate
    names, the loop header and the names of the objects setup creates.

    Making a profile (this constructor) generates the tenant's random loop-header value
    unless you pass one; keep the profile (:meth:`to_json`, :meth:`save`) and read it back
    (:meth:`from_json`, :meth:`from_file`): re-runs must use the same value, and the readers
    refuse a profile without one rather than make one up. :meth:`load_or_init` completes a
    profile file once.

    Args:
        smart_hosts: The service's smart hosts (the outbound connector's ``SmartHosts``).
        certificate_name: The certificate name the service presents when it sends mail back
            (an accepted domain of the tenant).
        tls_domain: The name on the smart host's certificate (default: the first smart host).
        relay_ip_ranges: The service's relay IP ranges, if known.
        loop_header: ``(name, value)`` of the loop-prevention header (default: the default
            name and a new random value).
        extra_loop_header_values: Values the routing rule accepts besides the loop header's,
            while a rotation is under way.
        names: Object names (``outbound_connector``, ``inbound_connector``, ``routing_rule``,
            ``auto_reply_rule``); missing ones keep their defaults.
        comment_marker: The marker written into each object's comment.
        cloud_services_mail_enabled: ``CloudServicesMailEnabled`` on both connectors.

    Raises:
        ValidationError: naming the field that is wrong.
    """

    def __init__(
        self,
        *,
        smart_hosts: Iterable[str],
        certificate_name: str,
        tls_domain: str | None = None,
        relay_ip_ranges: Iterable[str] = (),
        loop_header: tuple[str, str] | None = None,
        extra_loop_header_values: Iterable[str] = (),
        names: Mapping[str, str] | None = None,
        comment_marker: str | None = None,
        cloud_services_mail_enabled: bool = True,
    ) -> None:
        d: dict[str, Any] = {
            "smart_hosts": list(smart_hosts),
            "certificate_name": certificate_name,
            "tls_domain": tls_domain or "",
            "relay_ip_ranges": list(relay_ip_ranges),
            "cloud_services_mail_enabled": cloud_services_mail_enabled,
        }
        if loop_header is not None:
            d["loop_header"] = {"name": loop_header[0], "value": loop_header[1]}
        extra = list(extra_loop_header_values)
        if extra:
            d["extra_loop_header_values"] = extra
        if names is not None:
            defaults = json.loads(_sigsync.create_profile(json.dumps(_MINIMAL_PROFILE)))["names"]
            d["names"] = {**defaults, **dict(names)}
        if comment_marker is not None:
            d["comment_marker"] = comment_marker
        self._data: dict[str, Any] = json.loads(_sigsync.create_profile(json.dumps(d)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceProfile:
        """A profile from its dictionary form (as :meth:`to_dict` gives, or a profile file)."""
        return cls.from_json(json.dumps(dict(data)))

    @classmethod
    def from_json(cls, text: str) -> ServiceProfile:
        """A saved profile from JSON (the ``--profile`` file of the setup example; the same
        reader as Rust's and C's): ``tls_domain`` may be left out (the first smart host); a
        missing ``loop_header.value`` raises :class:`ValidationError`."""
        return cls._from_native(_sigsync.normalize_profile(text))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServiceProfile:
        """A saved profile from a JSON file (see :meth:`from_json`)."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    @classmethod
    def load_or_init(cls, path: str | os.PathLike[str]) -> ServiceProfile:
        """A profile from a JSON file that may not have its loop-header value yet: then one
        is generated and the completed profile written back to the file, once."""
        text, _written = _sigsync.load_or_init_profile(os.fspath(path))
        return cls._from_native(text)

    @classmethod
    def _from_native(cls, text: str) -> ServiceProfile:
        obj = cls.__new__(cls)
        obj._data = json.loads(text)
        return obj

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the profile as JSON (keep it: it holds the tenant's loop-header value)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json() + "\n")

    @property
    def smart_hosts(self) -> list[str]:
        """The service's smart hosts."""
        return list(self._data["smart_hosts"])

    @property
    def certificate_name(self) -> str:
        """The certificate name the service's relay presents."""
        return str(self._data["certificate_name"])

    @property
    def tls_domain(self) -> str:
        """The name on the smart host's certificate."""
        return str(self._data["tls_domain"])

    @property
    def loop_header(self) -> tuple[str, str]:
        """The loop-prevention header as ``(name, value)``."""
        h = self._data["loop_header"]
        return (h["name"], h["value"])

    @property
    def extra_loop_header_values(self) -> list[str]:
        """Values the routing rule accepts besides the loop header's (a rotation)."""
        return list(self._data.get("extra_loop_header_values", []))

    @property
    def names(self) -> dict[str, str]:
        """The names of the objects setup creates."""
        return dict(self._data["names"])

    def to_dict(self) -> dict[str, Any]:
        """Every field, as a profile file holds it."""
        return _copy(self._data)

    def to_json(self) -> str:
        """The profile as JSON."""
        return json.dumps(self._data, indent=2)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceProfile):
            return NotImplemented
        return self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ServiceProfile(smart_hosts={self.smart_hosts!r}, certificate_name={self.certificate_name!r}, "
            f"tls_domain={self.tls_domain!r})"
        )


class ConnectorSetup:
    """The wizard's choices: the service, whose mail, internal mail too or external only,
    the exceptions, and whether to stage.

    Args:
        profile: The service.
        groups: Route members of these mail-enabled groups (addresses, names or ids);
            ``None`` routes every user.
        include_internal: Route mail between the tenant's own users too.
        staged: Create the routing rule disabled (enable later with ``resume``).
        calendar: Skip meeting requests and responses.
        null_sender: Skip mail from the null sender (NDRs).
        group_submitted: Skip mail submitted through a Microsoft 365 group address.
        max_size: Skip messages larger than this many bytes (``None``: no limit).
        auto_replies: Let automatic replies bypass the service.
        rule_error_action: What happens when routing fails at delivery time.
        priority: The routing rule's priority (0 = first).

    Raises:
        ValidationError: naming the option that is wrong.
    """

    def __init__(
        self,
        profile: ServiceProfile,
        *,
        groups: Iterable[str] | None = None,
        include_internal: bool = True,
        staged: bool = False,
        calendar: bool = True,
        null_sender: bool = True,
        group_submitted: bool = True,
        max_size: int | None = 23_592_960,
        auto_replies: bool = True,
        rule_error_action: RuleErrorAction | str = RuleErrorAction.IGNORE,
        priority: int = 0,
    ) -> None:
        if isinstance(groups, str):
            raise TypeError("groups must be a list of group addresses, not one string")
        d = {
            "profile": profile.to_dict(),
            "scope": "all_users" if groups is None else {"groups": list(groups)},
            "include_internal": include_internal,
            "exceptions": {
                "calendar": calendar,
                "null_sender": null_sender,
                "group_submitted": group_submitted,
                "max_size": max_size,
                "auto_replies": auto_replies,
            },
            "staged": staged,
            "rule_error_action": _member(RuleErrorAction, rule_error_action).value,
            "priority": priority,
        }
        self._json = _sigsync.normalize_setup(json.dumps(d))
        self._data: dict[str, Any] = json.loads(self._json)

    @property
    def profile(self) -> ServiceProfile:
        """The service."""
        return ServiceProfile.from_dict(self._data["profile"])

    @property
    def groups(self) -> list[str] | None:
        """The groups whose members are routed; ``None`` for every user."""
        scope = self._data["scope"]
        return None if scope == "all_users" else list(scope["groups"])

    @property
    def include_internal(self) -> bool:
        """Whether mail between the tenant's own users is routed too."""
        return bool(self._data["include_internal"])

    @property
    def staged(self) -> bool:
        """Whether the routing rule is created disabled."""
        return bool(self._data["staged"])

    def definitions(self) -> dict[str, Any]:
        """The objects this setup turns into: ``outbound`` (:class:`OutboundConnector`),
        ``inbound`` (:class:`InboundConnector`), ``routing_rule`` and ``auto_reply_rule``
        (:class:`TransportRule`; ``None`` when auto-replies are not excepted)."""
        d = json.loads(_sigsync.desired_definitions(self._json))
        return {
            "outbound": OutboundConnector.from_params(d["outbound"]),
            "inbound": InboundConnector.from_params(d["inbound"]),
            "routing_rule": TransportRule.from_params(d["routing_rule"]),
            "auto_reply_rule": None if d["auto_reply_rule"] is None else TransportRule.from_params(d["auto_reply_rule"]),
        }

    def to_dict(self) -> dict[str, Any]:
        """Every choice, the profile included."""
        return _copy(self._data)

    def to_json(self) -> str:
        """The choices as JSON."""
        return json.dumps(self._data, indent=2)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConnectorSetup):
            return NotImplemented
        return self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        scope = "all users" if self.groups is None else self.groups
        return (
            f"ConnectorSetup(scope={scope!r}, include_internal={self.include_internal}, "
            f"staged={self.staged}, smart_hosts={self.profile.smart_hosts!r})"
        )


ProgressCallback = Callable[[ProgressEvent], object]


def _checked(report: Report) -> Report:
    """The report of a successful action; the failure, with the report attached, otherwise."""
    if report.error is not None:
        error = report.error
        error.report = report  # type: ignore[attr-defined]
        raise error
    return report


def _progress(callback: ProgressCallback | None) -> Callable[[str, str, Any], None] | None:
    if callback is None:
        return None

    def on_event(kind: str, step: str, error: Any) -> None:
        callback(ProgressEvent(ProgressKind(kind), Step._from_json(json.loads(step)), error))

    return on_event


class SetupEngine:
    """Runs the connector wizard against one tenant: reads in one concurrent round, plans,
    and applies in mail-safe order (both connectors before the rule that routes to them; on
    removal the rule first and the inbound connector last). Re-running converges.

    ``progress`` callbacks receive :class:`ProgressEvent` objects; an exception raised by a
    callback is reported through ``sys.unraisablehook`` (it cannot stop a half-applied plan).
    """

    def __init__(self, client: ExchangeClient) -> None:
        self._client = client
        self._native = _sigsync.SetupEngine(client._native)

    def __repr__(self) -> str:
        return f"SetupEngine({self._client!r})"

    def preflight(self, setup: ConnectorSetup) -> list[Finding]:
        """Preflight findings for ``setup`` against the tenant, before any write."""
        return [Finding._from_json(f) for f in json.loads(self._native.preflight(setup._json))]

    def plan(self, setup: ConnectorSetup) -> Plan:
        """The plan that would configure the tenant (a dry run), with the preflight findings."""
        native = self._native.plan(setup._json)
        findings = [Finding._from_json(f) for f in json.loads(native.findings_json())]
        return Plan(json.loads(native.to_json()), findings, native)

    def apply(self, setup: ConnectorSetup, plan: Plan, *, progress: ProgressCallback | None = None) -> Report:
        """Applies a plan from :meth:`plan` in mail-safe phases. After a failure nothing more
        is written, what this apply created is removed again only when nothing can route
        through it, and the failure is raised with the report attached (``e.report``)."""
        if plan._native is None:
            raise TypeError("only a plan from SetupEngine.plan() can be applied")
        return _checked(Report(self._native.apply(setup._json, plan._native, _progress(progress))))

    def configure(self, setup: ConnectorSetup, *, progress: ProgressCallback | None = None) -> Report:
        """Reads, checks, plans and applies. Raises :class:`ValidationError` before any write
        when preflight finds an error, :class:`ConflictError` when a foreign object holds
        one of sigsync's names, and the failure of a step with the report attached
        (``e.report``: the status afterwards, its reasons and the repair plan)."""
        return _checked(Report(self._native.configure(setup._json, _progress(progress))))

    def pause(self, setup: ConnectorSetup, *, progress: ProgressCallback | None = None) -> Report:
        """Disables sigsync's rules: mail flows normally and untouched. A failure is raised
        with the report attached (``e.report``)."""
        return _checked(Report(self._native.pause(setup._json, _progress(progress))))

    def resume(self, setup: ConnectorSetup, *, progress: ProgressCallback | None = None) -> Report:
        """Enables sigsync's rules again, only when mail routed by them can come back
        (raises :class:`ConflictError` with the reasons otherwise). A failure is raised with
        the report attached (``e.report``)."""
        return _checked(Report(self._native.resume(setup._json, _progress(progress))))

    def remove(self, setup: ConnectorSetup, *, progress: ProgressCallback | None = None) -> Report:
        """Removes what sigsync created and nothing else: rules, then the outbound connector,
        then the inbound connector. A failure is raised with the report attached
        (``e.report``)."""
        return _checked(Report(self._native.remove(setup._json, _progress(progress))))

    def status(self, setup: ConnectorSetup) -> StatusReport:
        """Where the setup stands, drift, and the repair plan."""
        return StatusReport(json.loads(self._native.status(setup._json)))

    preflight_async = awaitable(preflight)
    plan_async = awaitable(plan)
    apply_async = awaitable(apply)
    configure_async = awaitable(configure)
    pause_async = awaitable(pause)
    resume_async = awaitable(resume)
    remove_async = awaitable(remove)
    status_async = awaitable(status)
