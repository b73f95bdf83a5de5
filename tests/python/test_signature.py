"""Signature configurations (file, dict, TOML) and client-side rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sigsync

from conftest import REPO

EXAMPLE_CONFIG = REPO / "examples" / "signature.toml"
USER = json.loads((REPO / "examples" / "user.json").read_text())

SMALL = {
    "accepted_domains": ["contoso.com"],
    "signatures": {"standard": {"html": "<b>{{ displayName }}</b>", "text": "{{ displayName }}"}},
    "rules": [
        {"name": "Internal: nothing", "recipients": "internal"},
        {"name": "Everyone", "signature": "standard"},
    ],
}


def test_signatures_from_a_file_render_client_side_with_the_client_marker() -> None:
    sigs = sigsync.Signatures(EXAMPLE_CONFIG)
    assert "contoso.com" in sigs.accepted_domains
    assert sigs.loop_header == ("X-Sigsync-Processed", "true")
    r = sigs.render(user=USER, recipients=["ben@fabrikam.com"])
    assert r.signed and r.reason is None
    assert 'data-sigsync="client"' in r.html
    assert "Adele Vance" in r.html and "Adele Vance" in r.text
    assert "Signatures(" in repr(sigs)


def test_replies_get_the_rule_for_replies_with_its_disclaimer() -> None:
    r = sigsync.render(EXAMPLE_CONFIG, user=USER, recipients=["ben@fabrikam.com"], reply=True)
    assert r.disclaimer_text and "confidential" in r.disclaimer_text
    assert r.disclaimer_html


def test_no_signature_comes_with_the_reason() -> None:
    r = sigsync.render(SMALL, user={"displayName": "A", "mail": "a@contoso.com"}, recipients=["b@contoso.com"])
    assert not r.signed and r.html == "" and r.reason and "Internal" in r.reason


def test_config_as_dict_or_toml_and_directory_lookup_without_user() -> None:
    sigs = sigsync.Signatures(SMALL)
    assert sigs.render(sender="x@contoso.com", recipients=["y@example.org"]).signed
    toml = 'accepted_domains = ["contoso.com"]\n[signatures.s]\nhtml = "<i>{{ mail }}</i>"\ntext = "{{ mail }}"\n[[rules]]\nname = "all"\nsignature = "s"\n'
    r = sigsync.Signatures.from_toml(toml).render(user={"mail": "z@contoso.com"}, recipients=["q@example.org"])
    assert "z@contoso.com" in r.text
    from_dir = sigsync.render(EXAMPLE_CONFIG, sender="adelev@contoso.com", recipients=["ben@fabrikam.com"])
    assert "Adele Vance" in from_dir.html


def test_a_bad_configuration_raises_config_or_validation_error(tmp_path: Path) -> None:
    with pytest.raises((sigsync.ConfigError, sigsync.ValidationError)):
        sigsync.Signatures({"signatures": {}, "rules": [{"name": "x", "signature": "missing"}]})
    with pytest.raises(sigsync.ConfigError):
        sigsync.Signatures(tmp_path / "absent.toml")
    with pytest.raises(TypeError):
        sigsync.Signatures(42)  # type: ignore[arg-type]
    with pytest.raises(sigsync.ValidationError):
        sigsync.render(SMALL, user={"displayName": ["not", "a", "string"]})
