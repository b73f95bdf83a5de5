"""Every core error kind maps to one exception class; attributes survive; panics become
InternalError."""

from __future__ import annotations

import pickle

import pytest

import sigsync
from sigsync import _sigsync

EXPECTED_PARENT = {
    "ValidationError": sigsync.SigsyncError,
    "ConfigError": sigsync.SigsyncError,
    "ConflictError": sigsync.SigsyncError,
    "AuthError": sigsync.SigsyncError,
    "SignInRequiredError": sigsync.AuthError,
    "SignInDeclinedError": sigsync.AuthError,
    "SignInExpiredError": sigsync.AuthError,
    "SignInCancelledError": sigsync.AuthError,
    "ExchangeError": sigsync.SigsyncError,
    "NotFoundError": sigsync.ExchangeError,
    "AlreadyExistsError": sigsync.ExchangeError,
    "RejectedError": sigsync.ExchangeError,
    "UnauthorizedError": sigsync.ExchangeError,
    "ForbiddenError": sigsync.ExchangeError,
    "ThrottledError": sigsync.ExchangeError,
    "TransientError": sigsync.ExchangeError,
    "NetworkError": sigsync.SigsyncError,
    "InternalError": sigsync.SigsyncError,
}


def test_every_core_error_kind_maps_to_an_exported_exception_class() -> None:
    kinds = _sigsync.error_kinds()
    assert len(kinds) >= 18
    for name, code, class_name in kinds:
        cls = getattr(sigsync, class_name)
        assert issubclass(cls, sigsync.SigsyncError), name
        assert class_name in sigsync.__all__
        assert issubclass(cls, EXPECTED_PARENT[class_name]), class_name
        assert cls.__doc__, class_name
        assert code > 0


@pytest.mark.parametrize("kind", [k[0] for k in _sigsync.error_kinds()])
def test_each_core_error_kind_raises_its_class_with_attributes(kind: str) -> None:
    class_name = {k[0]: k[2] for k in _sigsync.error_kinds()}[kind]
    with pytest.raises(sigsync.SigsyncError) as info:
        _sigsync.raise_sample_error(kind)
    err = info.value
    assert type(err).__name__ == class_name
    assert err.kind == kind
    if isinstance(err, sigsync.ValidationError):
        assert isinstance(err, ValueError)
        assert (err.field, err.reason) == ("SmartHosts", "at least one is required")
    if isinstance(err, sigsync.ExchangeError):
        assert err.code == "SampleException"
        assert err.message == "sample"
        assert err.operation == "New-TransportRule"
        assert err.status in (400, 429)
    if isinstance(err, sigsync.ThrottledError):
        assert err.status == 429
        assert err.retry_after == pytest.approx(1.5)
    if isinstance(err, sigsync.AuthError):
        assert (err.code, err.aadsts, err.description) == ("invalid_grant", 70000, "sample")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err) and str(copy) == str(err)


@pytest.mark.parametrize("kind,class_name", [(k[0], k[2]) for k in _sigsync.error_kinds()])
def test_each_class_made_in_python_carries_the_kind_the_core_table_gives_it(kind: str, class_name: str) -> None:
    # The kind of a class is written once, in the core's table; Python reads it from there.
    err = getattr(sigsync, class_name)("made in Python")
    assert err.kind == kind
    assert sigsync.SigsyncError("root").kind == "internal"


def test_a_rust_panic_reaches_python_as_internal_error_not_panic_exception() -> None:
    with pytest.raises(sigsync.InternalError, match="deliberate panic"):
        _sigsync.panic_for_test()


def test_exception_constructors_work_from_python() -> None:
    e = sigsync.ThrottledError("slow down", status=429, retry_after=2.0)
    assert e.message == "slow down" and e.retry_after == 2.0 and e.kind == "throttled"
    assert "retry_after=2.0" in repr(e)
    v = sigsync.ValidationError("bad", field="Name", reason="too long")
    assert v.field == "Name" and v.kind == "validation"
