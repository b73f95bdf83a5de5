"""What an action did (a report), where a setup stands (a status report), and progress."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from sigsync._enums import ProgressKind, SetupStatus, StepOutcome
from sigsync._errors import SigsyncError
from sigsync._models import _copy
from sigsync._plan import Finding, Plan, Step

__all__ = ["Report", "Reason", "StepReport", "StatusReport", "ProgressEvent"]


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why a setup has its status: one thing that is not as set up."""

    code: str
    """A stable identifier, e.g. ``outbound_disabled``, ``inbound_missing``, ``loop_header``."""
    message: str
    """What is wrong and what it does to mail."""

    @classmethod
    def _from_json(cls, d: Mapping[str, Any]) -> Reason:
        return cls(d["code"], d["message"])

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclasses.dataclass(frozen=True)
class StepReport:
    """A step of an apply and how it ended."""

    step: Step
    """The step."""
    outcome: StepOutcome
    """How it ended."""
    error: str | None
    """The error message, when it failed."""


class Report:
    """What configure, apply, pause, resume or remove did.

    The engine's methods return it when the action succeeded and raise the failure's
    :class:`SigsyncError` otherwise, with this report as the exception's ``report``
    attribute (where the tenant stands, why, and the repair plan)::

        try:
            report = engine.configure(setup)
        except sigsync.SigsyncError as e:
            report = e.report  # None when the action failed before any write
    """

    def __init__(self, native: Any) -> None:
        self._native = native
        data = json.loads(native.to_json())
        self._data = data
        self.action: str = data["action"]
        """``configure``, ``pause``, ``resume`` or ``remove``."""
        self.steps: list[StepReport] = [
            StepReport(Step._from_json(s), StepOutcome(s["outcome"]), s.get("error")) for s in data["steps"]
        ]
        """Each step run, in the order they ran."""
        self.writes: int = data["writes"]
        """Write calls made, undo included."""
        self.status: SetupStatus | None = None if data["status"] is None else SetupStatus(data["status"])
        """Where the setup stands afterwards (``None`` when that could not be read)."""
        self.error: SigsyncError | None = native.error()
        """The first failure, if any (nothing was written after it), as an exception."""
        self.findings: list[Finding] = [Finding._from_json(f) for f in data.get("findings", ())]
        """Preflight findings (configure only)."""
        self.reasons: list[Reason] = [Reason._from_json(r) for r in data.get("reasons", ())]
        """Why the status is what it is, when it is not the one the action aims for."""
        self.repair: Plan = Plan(data.get("repair", {}))
        """The plan that would finish the job or repair the tenant (run configure)."""

    @property
    def succeeded(self) -> bool:
        """Whether every step succeeded."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The report as a dictionary (the JSON form)."""
        return _copy(self._data)

    def to_json(self) -> str:
        """The report as JSON."""
        return str(self._native.to_json())

    def __str__(self) -> str:
        return str(self._native)

    def __repr__(self) -> str:
        status = self.status.value if self.status else "unknown"
        return f"Report(action={self.action!r}, status={status!r}, writes={self.writes}, succeeded={self.succeeded})"


class StatusReport:
    """Where a setup stands, what drifted, and the plan that would repair it."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self.status: SetupStatus = SetupStatus(data["status"])
        """Configured, degraded, at risk, paused, partial or absent."""
        self.reasons: list[Reason] = [Reason._from_json(r) for r in data.get("reasons", ())]
        """Why it is not configured (one reason per problem)."""
        self.drift: list[Step] = [Step._from_json(s) for s in data["drift"]]
        """Update steps for fields someone changed (in the admin center, say)."""
        self.findings: list[Finding] = [Finding._from_json(f) for f in data["findings"]]
        """Preflight findings against the tenant as it is."""
        self.repair: Plan = Plan(data["repair"], self.findings)
        """The plan that would repair every difference (informational; run configure to repair)."""

    def to_dict(self) -> dict[str, Any]:
        """The status as a dictionary (the JSON form)."""
        return _copy(self._data)

    def to_json(self) -> str:
        """The status as JSON."""
        return json.dumps(self._data, indent=2)

    def __repr__(self) -> str:
        return f"StatusReport(status={self.status.value!r}, drift={len(self.drift)}, repair={len(self.repair)} steps)"


@dataclasses.dataclass(frozen=True)
class ProgressEvent:
    """A progress event of an apply, pause, resume or remove."""

    kind: ProgressKind
    """Started, finished, failed or undoing."""
    step: Step
    """The step."""
    error: SigsyncError | None = None
    """The error, for a failed step."""

    def __str__(self) -> str:
        text = f"{self.kind.value}: {self.step}"
        return f"{text}: {self.error}" if self.error else text
