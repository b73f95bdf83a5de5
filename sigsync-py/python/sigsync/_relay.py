"""The relay: the SMTP smart host Exchange Online's outbound connector points at, run from Python.

The relay itself is the core's (``sigsync_core::relay``); this module builds it from its TOML
or the same settings as keyword arguments, starts and stops it, and reads its counters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any

from sigsync import _sigsync
from sigsync._errors import InternalError, SigsyncError
from sigsync._util import awaitable

__all__ = ["Relay", "RelayStats", "TenantStats", "StopReport", "StaticResolver"]

_log = logging.getLogger("sigsync.relay")


@dataclasses.dataclass(frozen=True)
class StaticResolver:
    """A fixed table instead of DNS for the return leg (tests, or a product that resolves
    elsewhere): no query leaves the process.

    >>> StaticResolver(mx={"contoso.onmicrosoft.com": ["mx.test"]}, hosts={"mx.test": ["127.0.0.1"]})
    StaticResolver(mx={'contoso.onmicrosoft.com': ['mx.test']}, hosts={'mx.test': ['127.0.0.1']})
    """

    mx: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    """MX hosts of each domain (a tenant's ``initial_domain``), most preferred first."""
    hosts: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    """IP addresses of each host."""


@dataclasses.dataclass(frozen=True)
class TenantStats:
    """Message counters of one tenant."""

    accepted: int
    """Messages the next hop accepted (its 250 passed on)."""
    injected: int
    """Messages that got the signature."""
    skipped: int
    """Messages passed through unsigned, not an error (policy, kind, already processed)."""
    failed: int
    """Messages passed through unsigned because injection failed."""
    deferred: int
    """Transactions that ended in a 4xx (Exchange retries)."""
    rejected: int
    """Transactions that ended in a 5xx."""


@dataclasses.dataclass(frozen=True)
class RelayStats:
    """A snapshot of the relay's counters."""

    tenants: Mapping[str, TenantStats]
    """Per tenant name; ``unattributed`` holds transactions no tenant could be found for."""
    connections: int
    """Open connections from senders."""
    bytes_in_flight: int
    """Bytes of messages held in memory."""

    @classmethod
    def _from_json(cls, text: str) -> RelayStats:
        d = json.loads(text)
        tenants = {name: TenantStats(**counters) for name, counters in d["tenants"].items()}
        return cls(tenants, d["connections"], d["bytes_in_flight"])


@dataclasses.dataclass(frozen=True)
class StopReport:
    """How a stop went."""

    drained: bool
    """Every session ended within the grace period (no transaction was cut)."""
    cut: int
    """Sessions still open when the grace period ended (closed then, nothing acknowledged)."""


class _Signal(BaseException):
    """Raised by :meth:`Relay.serve_forever`'s signal handlers out of the wait."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _settings_json(settings: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in settings.items() if v is not None}, default=os.fspath)


def _resolver_args(resolver: StaticResolver | None) -> dict[str, Any]:
    if resolver is None:
        return {}
    return {
        "mx": {d: list(h) for d, h in resolver.mx.items()},
        "hosts": {h: list(a) for h, a in resolver.hosts.items()},
    }


class Relay:
    """The SMTP relay (server-side mode): Exchange Online connects with STARTTLS, each message
    goes through its tenant's signature injector and on to the tenant's Exchange Online with the
    tenant's client certificate, and Exchange gets the next hop's own reply. Nothing is
    acknowledged before the next hop did; every failure of the relay's own is a 4xx.

    Build it from the relay's TOML (:meth:`from_file`, :meth:`from_toml`) or from the same
    settings as keyword arguments (the tables of the file as mappings, ``tenants`` as a list of
    them); all three run the same validation, and a wrong setting raises
    :class:`ValidationError` with its ``field`` (``"tenants[0].tenant_id"``). Building checks
    the settings; :meth:`start` reads the files and certificates and listens.

    Use it as a context manager (started on entry, stopped on exit), or :meth:`start` and
    :meth:`stop`, or :meth:`serve_forever`. Every blocking call releases the GIL and has an
    ``*_async`` twin. A relay garbage-collected while running stops as :meth:`stop` would.

    Args:
        listener: ``[listener]``: ``address``, ``hostname``, ``certificate``, ``private_key``,
            ``allow_list`` or ``allow_any_source``, ...
        tenants: ``[[tenants]]``, one mapping per tenant.
        limits: ``[limits]``.
        timeouts: ``[timeouts]`` (seconds).
        next_hop: ``[next_hop]``.
        metrics: ``[metrics]`` (``address``): the Prometheus endpoint and ``/healthz``.
        base_dir: The folder relative paths resolve against (default: the current folder).
        resolver: A fixed table instead of DNS for the return leg.
    """

    def __init__(
        self,
        *,
        listener: Mapping[str, Any],
        tenants: Sequence[Mapping[str, Any]] = (),
        limits: Mapping[str, Any] | None = None,
        timeouts: Mapping[str, Any] | None = None,
        next_hop: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        resolver: StaticResolver | None = None,
    ) -> None:
        settings = {
            "listener": listener,
            "tenants": list(tenants),
            "limits": limits,
            "timeouts": timeouts,
            "next_hop": next_hop,
            "metrics": metrics,
        }
        self._native = _sigsync.RelayServer(
            json=_settings_json(settings),
            base_dir=None if base_dir is None else os.fspath(base_dir),
            **_resolver_args(resolver),
        )

    @classmethod
    def _wrap(cls, native: _sigsync.RelayServer) -> Relay:
        relay = cls.__new__(cls)
        relay._native = native
        return relay

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, resolver: StaticResolver | None = None) -> Relay:
        """The relay of a TOML file; relative paths resolve against its folder, and
        :meth:`reload` reads the file again."""
        return cls._wrap(_sigsync.RelayServer(path=os.fspath(path), **_resolver_args(resolver)))

    @classmethod
    def from_toml(
        cls,
        text: str,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        resolver: StaticResolver | None = None,
    ) -> Relay:
        """The relay of TOML text; relative paths resolve against ``base_dir`` (default: the
        current folder)."""
        return cls._wrap(
            _sigsync.RelayServer(
                toml=text,
                base_dir=None if base_dir is None else os.fspath(base_dir),
                **_resolver_args(resolver),
            )
        )

    # Lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Reads every file and certificate, binds the listener (and the metrics endpoint)
        and starts accepting. Raises :class:`ConflictError` when already running."""
        self._native.start()

    def stop(self, timeout: float | None = None) -> StopReport:
        """Stops gracefully: stop accepting, answer 421 to new transactions, let those in
        flight finish within ``timeout`` seconds (default: ``timeouts.shutdown_grace``), then
        close what is left (nothing acknowledged). Returns how it went. Calling it again, or
        on a relay never started, returns the last report.

        Once begun, the stop completes even if the caller is interrupted.
        """
        self._native.begin_stop(timeout)
        return self._stopped()

    def reload(self) -> None:
        """Reads the configuration again (the file for :meth:`from_file`, else the files the
        settings name) and swaps in certificates, tenants and the allow-list without dropping
        sessions. On any error nothing changes and the error is raised. The listener address
        and ``limits`` change only on a restart."""
        self._native.reload()

    def wait_stopped(self, timeout: float | None = None) -> StopReport | None:
        """Waits until the relay has stopped (by :meth:`stop` from another thread or task)
        and returns the report; ``None`` if it still runs after ``timeout`` seconds."""
        report = self._native.wait_stopped(timeout)
        return None if report is None else StopReport(*report)

    def _stopped(self) -> StopReport:
        report = self._native.wait_stopped(None)
        assert report is not None
        return StopReport(*report)

    start_async = awaitable(start)
    reload_async = awaitable(reload)

    async def stop_async(self, timeout: float | None = None) -> StopReport:
        """Awaitable :meth:`stop`. The stop begins before the first ``await`` and runs on
        sigsync's runtime, which resolves this awaitable when it is done (no thread waits for
        it). Cancelling the awaitable stops only the waiting: the relay still stops, and
        :meth:`stop` or :meth:`wait_stopped` return its report."""
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[StopReport] = loop.create_future()

        def resolve(report: tuple[bool, int] | None) -> None:
            if stopped.done():
                return
            if report is None:
                stopped.set_exception(InternalError("the relay's stop ended without a report"))
            else:
                stopped.set_result(StopReport(*report))

        def done(report: tuple[bool, int] | None) -> None:
            try:
                loop.call_soon_threadsafe(resolve, report)
            except RuntimeError:
                pass  # the event loop is closed: nobody waits any more

        self._native.begin_stop(timeout)
        self._native.on_stopped(done)
        return await stopped

    def serve_forever(
        self,
        *,
        timeout: float | None = None,
        ready: Callable[[Relay], object] | None = None,
    ) -> StopReport:
        """Starts the relay if needed, serves until SIGINT or SIGTERM, then stops it
        gracefully (within ``timeout`` seconds, as :meth:`stop`) and returns the report.
        SIGHUP reloads the configuration (a failed reload is logged on the ``sigsync.relay``
        logger and changes nothing). ``ready`` is called with the relay once it listens and the
        handlers are in place.

        Signal handlers can be installed only from the main thread; elsewhere it serves until
        another thread calls :meth:`stop`. The handlers it replaced are restored on return.
        """
        previous: dict[signal.Signals, Any] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            raise _Signal(signum)

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                previous[sig] = signal.signal(sig, handler)
        try:
            report = self._serve(ready)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
        return report if report is not None else self.stop(timeout)

    def _serve(self, ready: Callable[[Relay], object] | None) -> StopReport | None:
        """Serves until the relay stops (its report) or SIGINT/SIGTERM arrive (``None``);
        SIGHUP reloads."""
        reload = False
        try:
            if self._native.state_name != "running":
                self.start()
            if ready is not None:
                ready(self)
        except _Signal as s:
            if s.signum != signal.SIGHUP:
                return None
            reload = True
        while True:
            try:
                if reload:
                    reload = False
                    self._reload_logged()
                return self._stopped()
            except _Signal as s:
                if s.signum != signal.SIGHUP:
                    return None
                reload = True

    def _reload_logged(self) -> None:
        try:
            self.reload()
            _log.info("configuration reloaded")
        except SigsyncError as e:
            _log.error("reload failed, the configuration stays as it was: %s", e)

    def __enter__(self) -> Relay:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Relay:
        await self.start_async()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()

    # State -----------------------------------------------------------------------------

    def stats(self) -> RelayStats:
        """The counters, per tenant. Raises :class:`ConflictError` when not running."""
        return RelayStats._from_json(self._native.stats_json())

    @property
    def state(self) -> str:
        """``idle``, ``starting``, ``running``, ``stopping`` or ``stopped``."""
        return self._native.state_name

    @property
    def running(self) -> bool:
        """Whether the relay accepts connections."""
        return self._native.state_name == "running"

    @property
    def local_addr(self) -> tuple[str, int]:
        """The listener's ``(host, port)`` (the port chosen when the address said ``:0``).
        Raises :class:`ConflictError` unless running or stopping."""
        return self._native.local_addr

    @property
    def metrics_addr(self) -> tuple[str, int] | None:
        """The metrics endpoint's ``(host, port)``, ``None`` when not configured."""
        return self._native.metrics_addr

    @property
    def tenants(self) -> list[str]:
        """The tenants' names, in configuration order."""
        return self._native.tenant_names

    def __repr__(self) -> str:
        state = self.state
        addr = ""
        if state in ("running", "stopping"):
            host, port = self.local_addr
            addr = f", local_addr={host}:{port}"
        return f"Relay(state={state!r}{addr}, tenants={self.tenants!r})"
