"""The exception hierarchy of sigsync: one class per core error kind.

``SigsyncError`` is the root. The native module picks the class that the core's error kind
names (``ErrorKind::python_class``), so the mapping lives in one place. A Rust panic reaches
Python as :class:`InternalError`, never as ``PanicException``.
"""

from __future__ import annotations

from typing import Any

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
    _default_kind = "internal"

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

    _default_kind = "validation"
    field: str
    reason: str

    def __init__(self, text: str = "", /, *, kind: str | None = None, field: str = "", reason: str = "") -> None:
        super().__init__(text, kind=kind, field=field, reason=reason)


class ConfigError(SigsyncError):
    """A configuration (service profile, signature configuration, file) is unusable."""

    _default_kind = "config"


class ConflictError(SigsyncError):
    """The tenant holds an object that conflicts with what sigsync would create (a foreign
    object with one of sigsync's names), or the setup is not in a state the action needs."""

    _default_kind = "conflict"


class AuthError(SigsyncError):
    """Sign-in failed.

    Attributes: ``code`` (the OAuth error code, e.g. ``invalid_grant``), ``aadsts`` (the
    AADSTS number) and ``description`` (Microsoft's description).
    """

    _default_kind = "auth"
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

    _default_kind = "sign_in_required"


class SignInDeclinedError(AuthError):
    """The admin declined the sign-in request."""

    _default_kind = "sign_in_declined"


class SignInExpiredError(AuthError):
    """The device code expired before the admin finished signing in."""

    _default_kind = "sign_in_expired"


class SignInCancelledError(AuthError):
    """The caller cancelled a pending sign-in."""

    _default_kind = "sign_in_cancelled"


class ExchangeError(SigsyncError):
    """Exchange Online or Microsoft Graph returned an error.

    Attributes: ``status`` (HTTP status), ``code`` (the service's error code, e.g.
    ``ManagementObjectNotFoundException``), ``message`` (the service's own words),
    ``retry_after`` (seconds, when the service asked to wait) and ``operation`` (the cmdlet).
    """

    _default_kind = "exchange"
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

    _default_kind = "not_found"


class AlreadyExistsError(ExchangeError):
    """An object with that name already exists."""

    _default_kind = "already_exists"


class RejectedError(ExchangeError):
    """Exchange's own validation refused the request."""

    _default_kind = "rejected"


class UnauthorizedError(ExchangeError):
    """The credentials were not accepted (HTTP 401)."""

    _default_kind = "unauthorized"


class ForbiddenError(ExchangeError):
    """The signed-in identity lacks a role or permission (HTTP 403)."""

    _default_kind = "forbidden"


class ThrottledError(ExchangeError):
    """The service asked us to slow down (HTTP 429); ``retry_after`` says for how long."""

    _default_kind = "throttled"


class TransientError(ExchangeError):
    """A transient failure worth retrying later (HTTP 503/504, busy backends)."""

    _default_kind = "transient"


class NetworkError(SigsyncError):
    """The network or HTTP layer failed (connection, TLS, timeout, undecodable body)."""

    _default_kind = "network"


class InternalError(SigsyncError):
    """A bug in sigsync: an invariant broke, or a Rust panic was caught at the boundary."""

    _default_kind = "internal"
