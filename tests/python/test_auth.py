"""Sign-in: the device code prompt through a callback, the sign-in failures, app-only."""

from __future__ import annotations

import asyncio

import pytest

import sigsync


def test_device_code_sign_in_calls_the_prompt_callback_once(sim: sigsync.Simulator) -> None:
    prompts: list[sigsync.DeviceCodePrompt] = []
    creds = sigsync.sign_in_device_code(
        "my-app", sim.tenant_id, prompt=prompts.append, login_url=sim.login_url, allow_http=True
    )
    assert len(prompts) == 1
    p = prompts[0]
    assert p.user_code and p.verification_uri and p.expires_in > 0 and p.interval > 0
    assert p.user_code in str(p) or (p.message and p.message in str(p))
    assert creds.kind == "delegated"
    assert creds.tenant_id == sim.tenant_id
    assert creds.user_principal_name == "admin@contoso.onmicrosoft.com"
    assert "Credentials(kind='delegated'" in repr(creds)


def test_a_prompt_that_raises_abandons_the_sign_in(sim: sigsync.Simulator) -> None:
    def refuse(_: sigsync.DeviceCodePrompt) -> None:
        raise KeyError("no terminal")

    with pytest.raises(KeyError, match="no terminal"):
        sim.sign_in(prompt=refuse)


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("decline", sigsync.SignInDeclinedError), ("expire", sigsync.SignInExpiredError)],
)
def test_sign_in_failures_raise_their_auth_error(outcome: str, error: type) -> None:
    with sigsync.Simulator(sign_in=outcome) as sim:
        with pytest.raises(error) as info:
            sim.sign_in()
        assert isinstance(info.value, sigsync.AuthError)
        assert info.value.code


def test_plain_http_is_refused_without_allow_http(sim: sigsync.Simulator) -> None:
    with pytest.raises(sigsync.ValidationError):
        sigsync.sign_in_device_code("app", sim.tenant_id, prompt=print, login_url=sim.login_url)


def test_app_only_sign_in_with_a_secret_and_a_wrong_secret() -> None:
    with sigsync.Simulator(client_secret="s3cret-value") as sim:
        creds = sigsync.sign_in_app_only(
            "daemon", sim.tenant_id, client_secret="s3cret-value", login_url=sim.login_url, allow_http=True
        )
        assert creds.kind == "app_only" and creds.user_principal_name is None
        assert "s3cret" not in repr(creds)
        client = sim.client(creds)
        assert client.list_transport_rules() == []
        with pytest.raises(sigsync.AuthError) as info:
            sigsync.sign_in_app_only(
                "daemon", sim.tenant_id, client_secret="wrong-secret", login_url=sim.login_url, allow_http=True
            )
        assert "wrong-secret" not in str(info.value)
        with pytest.raises(sigsync.ValidationError):
            sigsync.sign_in_app_only("daemon", sim.tenant_id, login_url=sim.login_url, allow_http=True)


def test_unknown_cloud_is_a_value_error(sim: sigsync.Simulator) -> None:
    with pytest.raises(ValueError):
        sigsync.sign_in_device_code("a", "organizations", cloud="mars")


def test_sign_in_functions_are_awaitable(sim: sigsync.Simulator) -> None:
    async def main() -> tuple[sigsync.Credentials, sigsync.Credentials]:
        return await asyncio.gather(
            sigsync.sign_in_device_code_async(
                "a", sim.tenant_id, prompt=lambda p: None, login_url=sim.login_url, allow_http=True
            ),
            sigsync.sign_in_app_only_async("a", sim.tenant_id, client_secret="x", login_url=sim.login_url, allow_http=True),
        )

    delegated, app_only = asyncio.run(main())
    assert delegated.tenant_id == sim.tenant_id
    assert app_only.kind == "app_only"
