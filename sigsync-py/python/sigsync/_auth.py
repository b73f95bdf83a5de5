"""Microsoft sign-in: the device code flow (the wizard's sign-in) and app-only credentials."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sigsync import _sigsync
from sigsync._enums import Cloud, _member
from sigsync._sigsync import Credentials
from sigsync._util import awaitable

__all__ = [
    "Credentials",
    "DeviceCodePrompt",
    "sign_in_device_code",
    "sign_in_device_code_async",
    "sign_in_app_only",
    "sign_in_app_only_async",
]


@dataclasses.dataclass(frozen=True)
class DeviceCodePrompt:
    """What to show the admin: open ``verification_uri`` and enter ``user_code``.

    (The user code is meant to be shown; the device code itself never leaves the core.)
    """

    user_code: str
    """The code the admin types in."""
    verification_uri: str
    """Where the admin goes, e.g. https://microsoft.com/devicelogin."""
    message: str | None
    """Microsoft's own instruction text, when it sent one."""
    expires_in: float
    """Seconds until the code expires."""
    interval: float
    """Seconds between polls."""

    def __str__(self) -> str:
        return self.message or f"To sign in, open {self.verification_uri} and enter the code {self.user_code}"


def _print_prompt(prompt: DeviceCodePrompt) -> None:
    print(prompt, flush=True)


def sign_in_device_code(
    client_id: str,
    tenant: str,
    *,
    prompt: Callable[[DeviceCodePrompt], object] | None = None,
    cloud: Cloud | str = Cloud.GLOBAL,
    login_url: str | None = None,
    allow_http: bool = False,
) -> Credentials:
    """Signs an admin in with a one-time code (the admin's password never reaches you).

    Args:
        client_id: The app (client) id to sign in with.
        tenant: A tenant id, a domain, or ``"organizations"``.
        prompt: Called once with the :class:`DeviceCodePrompt`; prints it by default. If it
            raises, the sign-in is abandoned and the exception propagates.
        cloud: The Microsoft cloud.
        login_url: A custom sign-in endpoint (a proxy, a test server, :class:`Simulator`).
        allow_http: Allow plain ``http://`` (loopback only).

    Returns:
        The :class:`Credentials` the Exchange client takes.

    Raises:
        SignInDeclinedError, SignInExpiredError, AuthError, NetworkError, ValidationError.
    """
    show = prompt or _print_prompt

    def on_prompt(user_code: str, uri: str, message: str | None, expires_in: float, interval: float) -> None:
        show(DeviceCodePrompt(user_code, uri, message, expires_in, interval))

    return _sigsync.sign_in_device_code(
        client_id,
        tenant,
        on_prompt,
        cloud=_member(Cloud, cloud).value,
        login_url=login_url,
        allow_http=allow_http,
    )


def sign_in_app_only(
    client_id: str,
    tenant: str,
    *,
    client_secret: str | None = None,
    certificate_pem: str | None = None,
    private_key_pem: str | None = None,
    cloud: Cloud | str = Cloud.GLOBAL,
    login_url: str | None = None,
    allow_http: bool = False,
) -> Credentials:
    """App-only sign-in (client credentials) with a client secret or a certificate.

    Give either ``client_secret``, or ``certificate_pem`` and ``private_key_pem``. A first
    token is fetched to check the credentials; secrets never appear in errors or reprs.

    Raises:
        AuthError, NetworkError, ValidationError.
    """
    return _sigsync.sign_in_app_only(
        client_id,
        tenant,
        client_secret=client_secret,
        certificate_pem=certificate_pem,
        private_key_pem=private_key_pem,
        cloud=_member(Cloud, cloud).value,
        login_url=login_url,
        allow_http=allow_http,
    )


sign_in_device_code_async = awaitable(sign_in_device_code)
sign_in_app_only_async = awaitable(sign_in_app_only)
