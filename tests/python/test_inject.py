"""The injector: outcomes, envelope and user overrides, thread safety, the example program."""

from __future__ import annotations

import base64
import concurrent.futures
import email
import email.policy
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sigsync
from conftest import REPO

CONFIG = REPO / "examples" / "signature.toml"
USER = json.loads((REPO / "examples" / "user.json").read_text())

PLAIN = (
    b"From: Adele Vance <adelev@contoso.com>\r\nTo: ben@fabrikam.com\r\nSubject: Hello\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Ben,\r\nsee you.\r\n"
)
HTML = (
    b"From: adelev@contoso.com\r\nTo: ben@fabrikam.com\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1\r\n'
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello</p></body></html>\r\n--b1--\r\n"
)


@pytest.fixture(scope="module")
def injector() -> sigsync.Injector:
    return sigsync.Injector(CONFIG)


def test_injects_into_plain_and_html_and_stamps_the_loop_header(injector: sigsync.Injector) -> None:
    out = injector.inject(PLAIN)
    assert out.injected and not out.skipped and not out.failed and out.reason is None
    assert out.message.startswith(b"X-Sigsync-Processed: true\r\n")
    assert "Adele Vance" in out.message.decode()
    html = injector.inject(HTML)
    assert html.injected
    parsed = email.message_from_bytes(html.message, policy=email.policy.default)
    bodies = [p.get_content() for p in parsed.walk() if p.get_content_maintype() == "text"]
    assert all("Adele Vance" in b for b in bodies)
    assert "Outcome('injected'" in repr(out)
    assert injector.loop_header == ("X-Sigsync-Processed", "true")


def test_already_processed_mail_is_skipped_unchanged(injector: sigsync.Injector) -> None:
    once = injector.inject(PLAIN).message
    again = injector.inject(once)
    assert again.skipped and again.reason and again.message == once


def test_envelope_recipients_and_user_override(injector: sigsync.Injector) -> None:
    internal = injector.inject(PLAIN, sender="adelev@contoso.com", recipients=["megan@contoso.com"])
    assert internal.skipped and "policy" in (internal.reason or "")
    custom = injector.inject(PLAIN, user={**USER, "displayName": "Someone Else"})
    assert b"Someone Else" in custom.message
    with pytest.raises(sigsync.ValidationError):
        injector.inject(PLAIN, sender="adelev@contoso.com")


def test_user_mapping_is_read_as_graph_attributes(injector: sigsync.Injector) -> None:
    import types

    user = types.MappingProxyType(
        {"displayName": "Zoë Ångström", "businessPhones": ["+49 30 1234567"], "mobilePhone": None,
         "custom": {"pronouns": "she/her"}, "@odata.type": "#microsoft.graph.user"}
    )
    out = injector.inject(PLAIN, user=user).message
    text = email.message_from_bytes(out, policy=email.policy.default).get_content()
    assert "Zoë Ångström (she/her)" in text and "+49 30 1234567" in text and "Mobile:" not in text


def test_a_malformed_user_fails_the_message_which_passes_through(injector: sigsync.Injector) -> None:
    # Bad per-message input never raises (a relay would drop the mail): failed + passed through.
    for user in [{"displayName": 42}, {"businessPhones": 5}, {"groups": [1, 2]}, {"custom": []}]:
        out = injector.inject(PLAIN, user=user)
        assert out.failed and "user" in (out.reason or ""), user
        assert out.message == b"X-Sigsync-Processed: true\r\n" + PLAIN


def test_garbage_is_passed_through_never_raised(injector: sigsync.Injector) -> None:
    for message in [b"", b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"]:
        out = injector.inject(message)
        assert out.label in ("skipped", "failed")
        assert out.message.endswith(message)
    # Bytes with no header at all are a body, as mail readers see them: signed, still readable.
    out = injector.inject(b"\x00\xff" * 100)
    assert out.label in ("injected", "skipped", "failed")
    assert email.message_from_bytes(out.message, policy=email.policy.default).get_content()
    with pytest.raises(TypeError):
        injector.inject("not bytes")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_give_the_same_message_as_bytes(injector: sigsync.Injector) -> None:
    # A 2.8 MB attachment: the output is written straight into a new bytes, chunk by chunk.
    attachment = base64.encodebytes(bytes(range(256)) * 8192).replace(b"\n", b"\r\n")
    big = (
        b"From: adelev@contoso.com\r\nTo: ben@fabrikam.com\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe report.\r\n--b1\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment + b"--b1--\r\n"
    )
    for message in (PLAIN, HTML, b"", big):
        expected = injector.inject(message)
        assert type(expected.message) is bytes
        for other in (bytearray(message), memoryview(message)):
            got = injector.inject(other)
            assert (got.label, got.reason, got.message) == (expected.label, expected.reason, expected.message)
    signed = injector.inject(big)
    assert signed.injected and attachment + b"--b1--\r\n" in signed.message


def test_one_injector_is_safe_from_a_thread_pool(injector: sigsync.Injector) -> None:
    messages = [PLAIN, HTML] * 50
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(injector.inject, messages))
    assert all(o.injected for o in outs)
    assert outs[0].message == injector.inject(PLAIN).message


def test_injector_from_dict_and_toml_and_render(tmp_path: Path) -> None:
    config = {
        "signatures": {"s": {"html": "<b>{{ displayName }}</b>", "text": "{{ displayName }}"}},
        "rules": [{"name": "all", "signature": "s"}],
    }
    inj = sigsync.Injector(config)
    assert inj.inject(PLAIN, user={"displayName": "Zed"}).injected
    assert "Zed" in inj.render(user={"displayName": "Zed"}).text
    toml = '[signatures.s]\nhtml = "<b>x</b>"\ntext = "x"\n[[rules]]\nname = "all"\nsignature = "s"\n'
    assert sigsync.Injector.from_toml(toml).inject(PLAIN).injected
    with pytest.raises(sigsync.ConfigError):
        sigsync.Injector(tmp_path / "absent.toml")
    assert "Injector(" in repr(inj)


def test_inject_example_signs_a_folder(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.eml").write_bytes(PLAIN)
    (src / "b.eml").write_bytes(HTML)
    (src / "c.eml").write_bytes(b"garbage")
    report = tmp_path / "report.jsonl"
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "inject.py"), str(src), str(tmp_path / "out"),
         "--user", str(REPO / "examples" / "user.json"), "--threads", "2", "--report", str(report)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "3 messages" in out.stdout
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert {line["file"]: line["outcome"] for line in lines}["a.eml"] == "injected"
    assert (tmp_path / "out" / "a.eml").read_bytes().startswith(b"X-Sigsync-Processed")


def test_inject_releases_the_gil(injector: sigsync.Injector) -> None:
    body = b"".join(b"line %d of a long message body, quoted-printable =C3=A9\r\n" % i for i in range(200_000))
    big = PLAIN.replace(b"charset=utf-8\r\n", b"charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n").replace(
        b"Hi Ben,\r\n", body
    )
    start = time.perf_counter()
    assert injector.inject(big).injected
    call = time.perf_counter() - start
    done = threading.Event()
    worker = threading.Thread(target=lambda: (injector.inject(big), done.set()))
    gaps: list[float] = []
    last = time.perf_counter()
    worker.start()
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    assert max(gaps) < max(call / 2, 0.05), f"the main thread stalled {max(gaps):.3f}s during a {call:.3f}s call"
