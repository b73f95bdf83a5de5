"""A plan: the writes that would converge the tenant, and the preflight findings."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sigsync._enums import ObjectKind, Op, Severity
from sigsync._models import _copy

__all__ = ["Plan", "Step", "FieldChange", "Finding"]


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """One parameter a step changes."""

    field: str
    """The cmdlet parameter."""
    before: Any
    """Its value now (``None`` when unset or when the object does not exist yet)."""
    after: Any
    """Its value after the step."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One write of a plan."""

    op: Op
    """What it does."""
    kind: ObjectKind
    """To which kind of object."""
    name: str
    """The object's name."""
    changes: tuple[FieldChange, ...] = ()
    """The parameters it sets (creates list every parameter they send)."""

    @classmethod
    def _from_json(cls, d: Mapping[str, Any]) -> Step:
        changes = tuple(FieldChange(c["field"], c["from"], c["to"]) for c in d.get("changes", ()))
        return cls(Op(d["op"]), ObjectKind(d["kind"]), d["name"], changes)

    def __str__(self) -> str:
        return f"{self.op.value} {self.kind.value.replace('_', ' ')} '{self.name}'"


@dataclasses.dataclass(frozen=True)
class Finding:
    """A problem preflight found before any write."""

    severity: Severity
    """How serious it is."""
    code: str
    """A stable identifier, e.g. ``certificate_not_accepted_domain``."""
    message: str
    """What is wrong and what to do about it."""

    @classmethod
    def _from_json(cls, d: Mapping[str, Any]) -> Finding:
        return cls(Severity(d["severity"]), d["code"], d["message"])

    def __str__(self) -> str:
        return f"{self.severity.value} [{self.code}]: {self.message}"


class Plan:
    """The ordered writes that would converge the tenant (a dry run), with the objects
    already as wanted and the preflight findings. Pass it to :meth:`SetupEngine.apply`."""

    def __init__(self, data: Mapping[str, Any], findings: Iterable[Finding] = (), native: Any = None) -> None:
        self._native = native
        self._data = dict(data)
        self.steps: list[Step] = [Step._from_json(s) for s in data.get("steps", ())]
        """The writes, in order (apply runs them in mail-safe phases)."""
        self.unchanged: list[tuple[ObjectKind, str]] = [(ObjectKind(k), n) for k, n in data.get("unchanged", ())]
        """Objects that need no change, as ``(kind, name)``."""
        self.findings: list[Finding] = list(findings)
        """Preflight findings."""

    @property
    def is_empty(self) -> bool:
        """Whether the plan makes no write."""
        return not self.steps

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Any:
        return iter(self.steps)

    def to_dict(self) -> dict[str, Any]:
        """The plan as a dictionary (the JSON form)."""
        return _copy(self._data)

    def to_json(self) -> str:
        """The plan as JSON."""
        return json.dumps(self._data, indent=2)

    def __str__(self) -> str:
        if self._native is not None:
            return str(self._native)
        if not self.steps:
            return "nothing to change"
        return "\n".join(f"{i}. {s}" for i, s in enumerate(self.steps, 1)) + "\n"

    def __repr__(self) -> str:
        return f"Plan({len(self.steps)} steps: {', '.join(str(s) for s in self.steps) or 'nothing to change'})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return self._data == other._data

    __hash__ = None  # type: ignore[assignment]
