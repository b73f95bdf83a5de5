"""The native module behind ``sigsync`` (private: use the ``sigsync`` package)."""

from collections.abc import Callable, Mapping
from typing import Any, final

__all__ = [
    "Credentials",
    "ExchangeClient",
    "Injector",
    "Plan",
    "Report",
    "SetupEngine",
    "Signatures",
    "SimServer",
    "__version__",
    "definition_defaults",
    "definition_params",
    "desired_definitions",
    "enum_values",
    "error_kinds",
    "normalize_profile",
    "normalize_setup",
    "panic_for_test",
    "raise_sample_error",
    "sign_in_app_only",
    "sign_in_device_code",
    "validate_definition",
]

__version__: str

def error_kinds() -> list[tuple[str, int, str]]: ...
def raise_sample_error(name: str) -> None: ...
def panic_for_test() -> None: ...
def definition_params(kind: str) -> list[str]: ...
def validate_definition(kind: str, params_json: str) -> str: ...
def definition_defaults(kind: str) -> str: ...
def enum_values(name: str) -> list[str]: ...
def normalize_profile(json: str) -> str: ...
def normalize_setup(json: str) -> str: ...
def desired_definitions(json: str) -> str: ...
def sign_in_device_code(
    client_id: str,
    tenant: str,
    prompt: Callable[[str, str, str | None, float, float], object],
    *,
    cloud: str = "global",
    login_url: str | None = None,
    allow_http: bool = False,
) -> Credentials: ...
def sign_in_app_only(
    client_id: str,
    tenant: str,
    *,
    client_secret: str | None = None,
    certificate_pem: str | None = None,
    private_key_pem: str | None = None,
    cloud: str = "global",
    login_url: str | None = None,
    allow_http: bool = False,
) -> Credentials: ...
@final
class Credentials:
    """Signed-in credentials: hands out Exchange and Graph tokens and refreshes them."""

    @property
    def tenant_id(self) -> str | None:
        """The tenant id (a GUID) the credentials belong to, when known."""
    @property
    def user_principal_name(self) -> str | None:
        """The signed-in admin's user principal name; ``None`` for app-only credentials."""
    @property
    def kind(self) -> str:
        """``"delegated"`` (device code) or ``"app_only"``."""

@final
class ExchangeClient:
    def __new__(
        cls,
        credentials: Credentials,
        *,
        tenant: str | None = None,
        cloud: str = "global",
        exchange_url: str | None = None,
        graph_url: str | None = None,
        allow_http: bool = False,
        timeout: float | None = None,
        max_attempts: int = 5,
        max_retry_wait: float = 120.0,
    ) -> ExchangeClient: ...
    def list(self, kind: str) -> str: ...
    def create(self, kind: str, params_json: str) -> str: ...
    def update(self, kind: str, identity: str, changes_json: str) -> None: ...
    def remove(self, kind: str, identity: str) -> None: ...
    def set_rule_enabled(self, identity: str, enabled: bool) -> None: ...
    def list_mail_enabled_groups(self) -> str: ...
    def list_accepted_domains(self) -> str: ...

@final
class Plan:
    def to_json(self) -> str: ...
    def findings_json(self) -> str: ...
    def __len__(self) -> int: ...

@final
class Report:
    def to_json(self) -> str: ...
    def succeeded(self) -> bool: ...
    def error(self) -> Any: ...

@final
class SetupEngine:
    def __new__(cls, client: ExchangeClient) -> SetupEngine: ...
    def preflight(self, setup: str) -> str: ...
    def plan(self, setup: str) -> Plan: ...
    def configure(self, setup: str, progress: Callable[[str, str, Any], None] | None = None) -> Report: ...
    def apply(self, setup: str, plan: Plan, progress: Callable[[str, str, Any], None] | None = None) -> Report: ...
    def pause(self, setup: str, progress: Callable[[str, str, Any], None] | None = None) -> Report: ...
    def resume(self, setup: str, progress: Callable[[str, str, Any], None] | None = None) -> Report: ...
    def remove(self, setup: str, progress: Callable[[str, str, Any], None] | None = None) -> Report: ...
    def status(self, setup: str) -> str: ...

_Rendered = tuple[tuple[str, str, str | None, str | None] | None, str | None]

@final
class Signatures:
    def __new__(cls, *, path: str | None = None, toml: str | None = None, json: str | None = None) -> Signatures: ...
    def render(
        self,
        *,
        sender: str | None = None,
        recipients: list[str] = ...,
        reply: bool = False,
        user: Mapping[str, Any] | None = None,
    ) -> _Rendered: ...
    @property
    def accepted_domains(self) -> list[str]: ...
    @property
    def loop_header(self) -> tuple[str, str]: ...

@final
class SimServer:
    def __new__(
        cls,
        *,
        state: str | None = None,
        tenant_id: str | None = None,
        tenant_domain: str | None = None,
        user_principal_name: str | None = None,
        pending_polls: int = 0,
        sign_in: str = "approve",
        interval_secs: int = 1,
        client_secret: str | None = None,
    ) -> SimServer: ...
    @property
    def uri(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def tenant_domain(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def close(self) -> None: ...
    def add_accepted_domain(self, domain: str, *, default: bool = False) -> None: ...
    def add_group(
        self, display_name: str, *, mail: str | None = None, kind: str = "distribution", members: list[str] = ...
    ) -> str: ...
    def add_user(self, user_principal_name: str, display_name: str, *, properties_json: str = "{}") -> str: ...
    def inject_fault(
        self,
        kind: str,
        *,
        call: int | None = None,
        cmdlet: str | None = None,
        every_nth: int | None = None,
        writes: bool = False,
        times: int | None = None,
    ) -> None: ...
    def clear_faults(self) -> None: ...
    def set_latency(self, seconds: float) -> None: ...
    def settings_json(self) -> str: ...
    def set_settings_json(self, json: str) -> None: ...
    def calls(self) -> list[tuple[int, str, str | None, str | None]]: ...
    def write_count(self) -> int: ...
    def reset_calls(self) -> None: ...
    def snapshot_json(self) -> str: ...
    def state_json(self) -> str: ...
    def revoke_access_tokens(self) -> None: ...
    def token_requests(self, grant_type: str) -> int: ...

@final
class Injector:
    def __new__(
        cls,
        *,
        path: str | None = None,
        toml: str | None = None,
        json: str | None = None,
    ) -> Injector: ...
    def inject(
        self,
        message: bytes,
        *,
        sender: str | None = None,
        recipients: list[str] | None = None,
        user: Mapping[str, Any] | None = None,
    ) -> tuple[str, str | None, bytes]: ...
    def render(
        self,
        *,
        sender: str | None = None,
        recipients: list[str] = ...,
        reply: bool = False,
        user: Mapping[str, Any] | None = None,
    ) -> _Rendered: ...
    @property
    def loop_header(self) -> tuple[str, str]: ...
