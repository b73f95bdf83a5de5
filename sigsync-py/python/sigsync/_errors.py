"""The exception hierarchy of sigsync: one class per core error kind.

``SigsyncError`` is the root. Which class stands for which error kind is written once, in the
core's table (``error_kinds!`` in ``sigsync-core/src/error.rs``, read here through
``_sigsync.error_kinds()``): the native module raises the class a kind names, and each class
takes its ``kind`` from the same table below. A Rust panic reaches Python as
:class:`InternalError`, never as ``PanicException``.
"""

from __future__ import annotations

from typing import Any

from sigsync import _sigsync

__all__ = [
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
]


class SigsyncError(Exception):
    """The root of every error sigsync raises.

    ``kind`` is the core error kind's stable snake_case name (``"not_found"``, ...).
    Messages never contain tokens, secrets or device codes.
    """

    kind: str
    _default_kind: str = "internal"

    def __init__(self, text: str = "", /, *, kind: str | None = None, **attributes: Any) -> None:
        super().__init__(text)
        self.kind = kind or self._default_kind
        self._attributes = attributes
        for name, value in attributes.items():
            setattr(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self), self.kind, self._attributes))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._attributes.items() if v is not None)
        return f"{type(self).__name__}({str(self)!r}{extra})"


def _rebuild(cls: type[SigsyncError], message: str, kind: str, attributes: dict[str, Any]) -> SigsyncError:
    return cls(message, kind=kind, **attributes)


class ValidationError(SigsyncError, ValueError):
    """A value failed client-side validation (what Exchange would refuse, found before any call).

    Attributes: ``field`` (the cmdlet parameter or option name) and ``reason``.
    """

    field: str
    reason: str

    def __init__(self, text: str = "", /, *, kind: str | None = None, field: str = "", reason: str = "") -> None:
        super().__init__(text, kind=kind, field=field, reason=reason)


class ConfigError(SigsyncError):
    """A configuration (service profile, signature configuration, file) is unusable."""


class ConflictError(SigsyncError):
    """The tenant holds an object that conflicts with what sigsync would create (a foreign
    object with one of sigsync's names), or the setup is not in a state the action needs."""


class AuthError(SigsyncError):
    """Sign-in failed.

    Attributes: ``code`` (the OAuth error code, e.g. ``invalid_grant``), ``aadsts`` (the
    AADSTS number) and ``description`` (Microsoft's description).
    """

    code: str | None
    aadsts: int | None
    description: str

    def __init__(
        self,
        text: str = "",
        /,
        *,
        kind: str | None = None,
        code: str | None = None,
        aadsts: int | None = None,
        description: str = "",
    ) -> None:
        super().__init__(text, kind=kind, code=code, aadsts=aadsts, description=description)


class SignInRequiredError(AuthError):
    """The sign-in is no longer valid (refresh token rejected): the admin must sign in again."""


class SignInDeclinedError(AuthError):
    """The admin declined the sign-in request."""


class SignInExpiredError(AuthError):
    """The device code expired before the admin finished signing in."""


class SignInCancelledError(AuthError):
    """The caller cancelled a pending sign-in."""


class ExchangeError(SigsyncError):
    """Exchange Online or Microsoft Graph returned an error.

    Attributes: ``status`` (HTTP status), ``code`` (the service's error code, e.g.
    ``ManagementObjectNotFoundException``), ``message`` (the service's own words),
    ``retry_after`` (seconds, when the service asked to wait) and ``operation`` (the cmdlet).
    """

    status: int | None
    code: str | None
    message: str
    retry_after: float | None
    operation: str | None

    def __init__(
        self,
        text: str = "",
        /,
        *,
        kind: str | None = None,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(
            text,
            kind=kind,
            status=status,
            code=code,
            message=text if message is None else message,
            retry_after=retry_after,
            operation=operation,
        )


class NotFoundError(ExchangeError):
    """The object does not exist."""


class AlreadyExistsError(ExchangeError):
    """An object with that name already exists."""


class RejectedError(ExchangeError):
    """Exchange's own validation refused the request."""


class UnauthorizedError(ExchangeError):
    """The credentials were not accepted (HTTP 401)."""


class ForbiddenError(ExchangeError):
    """The signed-in identity lacks a role or permission (HTTP 403)."""


class ThrottledError(ExchangeError):
    """The service asked us to slow down (HTTP 429); ``retry_after`` says for how long."""


class TransientError(ExchangeError):
    """A transient failure worth retrying later (HTTP 503/504, busy backends)."""


class NetworkError(SigsyncError):
    """The network or HTTP layer failed (connection, TLS, timeout, undecodable body)."""


class InternalError(SigsyncError):
    """A bug in sigsync: an invariant broke, or a Rust panic was caught at the boundary."""


def _assign_kinds() -> None:
    """Gives each class its kind from the core's table, and checks that the table and the
    classes here name each other: a kind without its class, or a class without its kind,
    fails the import instead of a later error."""
    everything: list[type[SigsyncError]] = [SigsyncError, *_subclasses(SigsyncError)]
    classes = {c.__name__: c for c in everything}
    named = set()
    for kind, _code, class_name in _sigsync.error_kinds():
        cls = classes.get(class_name)
        if cls is None or class_name not in __all__:
            raise ImportError(f"the error kind {kind!r} names {class_name}, which sigsync._errors lacks")
        cls._default_kind = kind
        named.add(class_name)
    unnamed = set(__all__) - named - {"SigsyncError"}
    if unnamed:
        raise ImportError(f"no error kind names {sorted(unnamed)}")


def _subclasses(cls: type[SigsyncError]) -> list[type[SigsyncError]]:
    return [s for c in cls.__subclasses__() for s in (c, *_subclasses(c))]


_assign_kinds()
