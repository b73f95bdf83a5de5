"""The relay from Python: built from its TOML (file or text) or keyword arguments, started,
sent through with smtplib over STARTTLS to a loopback next hop that requires the tenant's
client certificate (real TLS, the committed test PKI), reloaded, stopped with transactions in
flight, run under ``serve_forever`` in a subprocess and signalled, and driven from asyncio."""

from __future__ import annotations

import asyncio
import gc
import queue
import signal
import smtplib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sigsync
from relay_bench import (
    CONTOSO_ID,
    FABRIKAM_ID,
    LOOP_HEADER,
    RESOLVER,
    NextHop,
    closed_port,
    healthz,
    message,
    refusal,
    relay_toml,
    send,
    settings,
    signature_toml,
    wait_until,
    write_tenant,
)

HERE = Path(__file__).resolve().parent


@pytest.fixture()
def next_hop() -> Iterator[NextHop]:
    hop = NextHop()
    yield hop
    hop.close()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    write_tenant(tmp_path)
    return tmp_path


def build(how: str, folder: Path, port: int) -> sigsync.Relay:
    """The same relay built each of the three ways."""
    if how == "file":
        path = folder / "relay.toml"
        path.write_text(relay_toml(port))
        return sigsync.Relay.from_file(path, resolver=RESOLVER)
    if how == "toml":
        return sigsync.Relay.from_toml(relay_toml(port), base_dir=folder, resolver=RESOLVER)
    return sigsync.Relay(**settings(port), base_dir=folder, resolver=RESOLVER)


BUILDS = ["file", "toml", "kwargs"]


@pytest.mark.parametrize("how", BUILDS)
def test_a_message_goes_through_signed_with_the_loop_header_and_the_tenants_certificate_and_is_counted(
    how: str, folder: Path, next_hop: NextHop
) -> None:
    with build(how, folder, next_hop.port) as relay:
        code, _ = send(relay.local_addr, message("m1"))
        assert code == 250
        [d] = next_hop.messages()
        assert d.client_certificate == "contoso.relay.test"
        assert "<adele@contoso.com>" in d.mail_from and d.rcpt_to == ["TO:<bob@example.org>"]
        assert LOOP_HEADER in d.data
        body = d.text()
        assert "Adele Vance\nRetail Manager\nContoso Ltd" in body
        assert "\n.the numbers are attached." in body, "the dot-stuffed line arrives intact"
        stats = relay.stats()
        assert isinstance(stats.tenants["contoso"], sigsync.TenantStats)
        assert stats.tenants["contoso"] == sigsync.TenantStats(
            accepted=1, injected=1, skipped=0, failed=0, deferred=0, rejected=0
        )
    assert relay.state == "stopped"


def test_a_message_from_another_organization_is_refused_with_550_and_nothing_is_delivered(
    folder: Path, next_hop: NextHop
) -> None:
    with build("kwargs", folder, next_hop.port) as relay:
        assert refusal(relay.local_addr, message("m1", tenant_id=FABRIKAM_ID)) == 550
        assert next_hop.messages() == []
        assert relay.stats().tenants["contoso"].accepted == 0


def test_with_the_next_hop_down_the_sender_gets_a_4xx_and_nothing_is_acknowledged(folder: Path) -> None:
    with build("kwargs", folder, closed_port()) as relay:
        code = refusal(relay.local_addr, message("m1"))
        assert 400 <= code < 500, code
        stats = relay.stats().tenants["contoso"]
        assert stats.accepted == 0 and stats.deferred == 1


# Configuration errors name the field, whichever way the relay is built ----------------------


def _toml_with(port: int, section: str, line: str) -> str:
    text = relay_toml(port)
    return text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)


# (section of the file, line added to it, the same as a settings edit, field named)
BAD: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        "limits",
        'max_connections = "many"',
        lambda s: s["limits"].__setitem__("max_connections", "many"),
        "limits.max_connections",
    ),
    (
        "limits",
        "max_connections = 0",
        lambda s: s["limits"].__setitem__("max_connections", 0),
        "limits.max_connections",
    ),
    (
        "listener",
        "colour = 1",
        lambda s: s["listener"].__setitem__("colour", 1),
        "listener.colour",
    ),
    (
        "[tenants]",
        'max_connections = "x"',
        lambda s: s["tenants"][0].__setitem__("max_connections", "x"),
        "tenants[0].max_connections",
    ),
]


@pytest.mark.parametrize("how", BUILDS)
@pytest.mark.parametrize("section,line,edit,field", BAD, ids=[b[3] + ":" + b[1] for b in BAD])
def test_a_wrong_setting_raises_validation_error_naming_its_field(
    how: str, section: str, line: str, edit: Callable[[dict[str, Any]], None], field: str, folder: Path
) -> None:
    with pytest.raises(sigsync.ValidationError) as e:
        if how == "kwargs":
            s = settings(25)
            edit(s)
            sigsync.Relay(**s, base_dir=folder)
        else:
            text = _toml_with(25, section, line)
            if how == "file":
                (folder / "relay.toml").write_text(text)
                sigsync.Relay.from_file(folder / "relay.toml")
            else:
                sigsync.Relay.from_toml(text, base_dir=folder)
    assert e.value.field == field, e.value
    assert isinstance(e.value, sigsync.SigsyncError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize("how", BUILDS)
def test_an_invalid_tenant_id_is_named_with_its_index(how: str, folder: Path) -> None:
    with pytest.raises(sigsync.ValidationError) as e:
        if how == "kwargs":
            s = settings(25)
            s["tenants"][0]["tenant_id"] = "contoso"
            sigsync.Relay(**s, base_dir=folder)
        else:
            text = relay_toml(25).replace(CONTOSO_ID, "contoso")
            if how == "file":
                (folder / "relay.toml").write_text(text)
                sigsync.Relay.from_file(folder / "relay.toml")
            else:
                sigsync.Relay.from_toml(text, base_dir=folder)
    assert e.value.field == "tenants[0].tenant_id"


def test_unreadable_or_unparsable_configurations_are_config_errors(folder: Path) -> None:
    with pytest.raises(sigsync.ConfigError, match="missing.toml"):
        sigsync.Relay.from_file(folder / "missing.toml")
    with pytest.raises(sigsync.ConfigError):
        sigsync.Relay.from_toml("[listener\n")
    with pytest.raises(sigsync.ValidationError) as e:
        sigsync.Relay(**settings(25), resolver=sigsync.StaticResolver(hosts={"mx.test": ["not-an-ip"]}))
    assert e.value.field.startswith("resolver.hosts")


def test_a_missing_certificate_is_found_at_start_and_the_relay_stays_idle(folder: Path) -> None:
    s = settings(25)
    s["tenants"][0]["client_certificate"] = folder / "missing.pem"
    relay = sigsync.Relay(**s, base_dir=folder, resolver=RESOLVER)
    with pytest.raises(sigsync.SigsyncError, match="missing.pem"):
        relay.start()
    assert relay.state == "idle"
    with pytest.raises(sigsync.ConflictError):
        relay.stats()


# Lifecycle ------------------------------------------------------------------------------------


def test_stop_lets_a_transaction_in_flight_finish_and_reports_drained(folder: Path, next_hop: NextHop) -> None:
    relay = build("file", folder, next_hop.port)
    relay.start()
    addr = relay.local_addr
    next_hop.hold.clear()
    outcome: list[tuple[int, bytes]] = []
    sender = threading.Thread(target=lambda: outcome.append(send(addr, message("m1"))))
    sender.start()
    assert next_hop.data_received.wait(30), "the message reached the next hop"
    stopped: list[sigsync.StopReport] = []
    stopper = threading.Thread(target=lambda: stopped.append(relay.stop(timeout=30)))
    stopper.start()
    # The stop waits with the GIL released: this thread keeps running while it drains.
    wait_until(lambda: healthz(relay) == 503, "the relay to report shutting down")
    wait_until(lambda: refuses(addr), "the listener to close")
    assert relay.state == "stopping" and stopped == []
    next_hop.hold.set()
    stopper.join(60)
    sender.join(60)
    assert stopped == [sigsync.StopReport(drained=True, cut=0)]
    assert outcome and outcome[0][0] == 250
    assert len(next_hop.messages()) == 1
    assert relay.stop() == stopped[0], "a second stop returns the same report"


def test_stop_past_the_grace_period_cuts_the_transaction_without_acknowledging_it(
    folder: Path, next_hop: NextHop
) -> None:
    relay = build("kwargs", folder, next_hop.port)
    relay.start()
    addr = relay.local_addr
    next_hop.hold.clear()
    outcome: list[object] = []

    def sender() -> None:
        try:
            outcome.append(send(addr, message("m1")))
        except (smtplib.SMTPException, OSError) as e:
            outcome.append(e)

    t = threading.Thread(target=sender)
    t.start()
    assert next_hop.data_received.wait(30)
    report = relay.stop(timeout=0.2)
    t.join(60)
    assert report == sigsync.StopReport(drained=False, cut=1)
    [o] = outcome
    assert not (isinstance(o, tuple) and 200 <= o[0] < 300), f"acknowledged: {o!r}"


def test_reload_swaps_the_signature_configuration_and_a_broken_file_changes_nothing(
    folder: Path, next_hop: NextHop
) -> None:
    with build("file", folder, next_hop.port) as relay:
        assert send(relay.local_addr, message("m1"))[0] == 250
        (folder / "contoso" / "signature.toml").write_text(signature_toml("Contoso Group"))
        relay.reload()
        assert send(relay.local_addr, message("m2"))[0] == 250
        (folder / "relay.toml").write_text(relay_toml(next_hop.port).replace(CONTOSO_ID, "contoso"))
        with pytest.raises(sigsync.ValidationError) as e:
            relay.reload()
        assert e.value.field == "tenants[0].tenant_id"
        assert send(relay.local_addr, message("m3"))[0] == 250
    first, second, third = next_hop.messages()
    assert "Contoso Ltd" in first.text() and "Contoso Group" in second.text() and "Contoso Group" in third.text()


def test_reload_of_a_relay_built_from_settings_reads_the_files_it_names(folder: Path, next_hop: NextHop) -> None:
    with build("kwargs", folder, next_hop.port) as relay:
        (folder / "contoso" / "signature.toml").write_text(signature_toml("Contoso Group"))
        relay.reload()
        assert send(relay.local_addr, message("m1"))[0] == 250
    assert "Contoso Group" in next_hop.messages()[0].text()


def test_the_context_manager_starts_and_stops_and_a_stopped_relay_starts_again(
    folder: Path, next_hop: NextHop
) -> None:
    relay = build("toml", folder, next_hop.port)
    assert relay.state == "idle" and "idle" in repr(relay)
    with relay as r:
        assert r is relay and relay.running and relay.metrics_addr is not None
        addr = relay.local_addr
        assert f"{addr[0]}:{addr[1]}" in repr(relay)
        with pytest.raises(sigsync.ConflictError):
            relay.start()
    assert relay.state == "stopped" and refuses(addr)
    with pytest.raises(sigsync.ConflictError):
        relay.local_addr
    with relay:
        assert send(relay.local_addr, message("m1"))[0] == 250


def test_wait_stopped_returns_when_another_thread_stops_the_relay(folder: Path, next_hop: NextHop) -> None:
    relay = build("kwargs", folder, next_hop.port)
    relay.start()
    assert relay.wait_stopped(timeout=0.05) is None
    waited: list[sigsync.StopReport | None] = []
    waiter = threading.Thread(target=lambda: waited.append(relay.wait_stopped()))
    waiter.start()
    report = relay.stop()
    waiter.join(30)
    assert waited == [report] and report.drained


def test_a_relay_collected_while_running_stops_listening(folder: Path, next_hop: NextHop) -> None:
    relay = build("kwargs", folder, next_hop.port)
    relay.start()
    addr = relay.local_addr
    del relay
    gc.collect()
    wait_until(lambda: refuses(addr), "the listener to close")


# serve_forever: a subprocess, so the signals go to its main thread ----------------------------

SERVE = """
import logging, sys
import sigsync
sys.path.insert(0, {here!r})
from relay_bench import RESOLVER

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s: %(message)s")
relay = sigsync.Relay.from_file({path!r}, resolver=RESOLVER)
report = relay.serve_forever(ready=lambda r: print("listening", r.local_addr[1], flush=True))
print("stopped", report.drained, report.cut, relay.state, flush=True)
"""


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_forever_reloads_on_sighup_keeps_serving_after_a_failed_reload_and_returns_on_sigterm_or_sigint(
    stop_signal: int, folder: Path, next_hop: NextHop
) -> None:
    path = folder / "relay.toml"
    path.write_text(relay_toml(next_hop.port))
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(here=str(HERE), path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    try:
        stdout = proc.stdout
        assert stdout is not None
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

        def line_with(word: str) -> str:
            while True:
                try:
                    line = lines.get(timeout=60)
                except queue.Empty:
                    raise AssertionError(f"the relay printed no {word!r} within a minute") from None
                if word in line:
                    return line

        port = int(line_with("listening").split()[1])
        assert send(("127.0.0.1", port), message("m1"))[0] == 250
        (folder / "contoso" / "signature.toml").write_text(signature_toml("Contoso Group"))
        proc.send_signal(signal.SIGHUP)
        line_with("configuration reloaded")
        assert send(("127.0.0.1", port), message("m2"))[0] == 250
        path.write_text(relay_toml(next_hop.port).replace(CONTOSO_ID, "contoso"))
        proc.send_signal(signal.SIGHUP)
        assert "tenants[0].tenant_id" in line_with("reload failed")
        assert send(("127.0.0.1", port), message("m3"))[0] == 250, "a failed reload changes nothing"
        proc.send_signal(stop_signal)
        assert line_with("stopped").split() == ["stopped", "True", "0", "stopped"]
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first, second, third = next_hop.messages()
    assert "Contoso Ltd" in first.text() and "Contoso Group" in second.text() and "Contoso Group" in third.text()


# asyncio ----------------------------------------------------------------------------------------


def test_async_start_reload_and_stop(folder: Path, next_hop: NextHop) -> None:
    relay = build("file", folder, next_hop.port)

    async def main() -> sigsync.StopReport:
        async with relay:
            await relay.reload_async()
            code, _ = await asyncio.to_thread(send, relay.local_addr, message("m1"))
            assert code == 250
        await relay.start_async()
        return await relay.stop_async(timeout=5)

    assert asyncio.run(main()) == sigsync.StopReport(drained=True, cut=0)
    assert len(next_hop.messages()) == 1


def test_a_cancelled_stop_async_still_stops_the_relay_and_drains(folder: Path, next_hop: NextHop) -> None:
    relay = build("kwargs", folder, next_hop.port)
    relay.start()
    addr = relay.local_addr
    next_hop.hold.clear()
    outcome: list[tuple[int, bytes]] = []
    sender = threading.Thread(target=lambda: outcome.append(send(addr, message("m1"))))
    sender.start()
    assert next_hop.data_received.wait(30)

    async def cancel_a_stop() -> None:
        task = asyncio.create_task(relay.stop_async(timeout=30))
        while relay.state != "stopping":
            await asyncio.sleep(0)  # let the task begin the stop
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_a_stop())
    # The awaiting task is gone; the stop goes on: new connections are refused, the
    # transaction in flight finishes when the next hop answers, and the report is kept.
    wait_until(lambda: refuses(addr), "the listener to close")
    next_hop.hold.set()
    report = relay.wait_stopped(timeout=60)
    sender.join(60)
    assert report == sigsync.StopReport(drained=True, cut=0)
    assert outcome and outcome[0][0] == 250 and len(next_hop.messages()) == 1
    assert relay.state == "stopped" and relay.stop() == report


def refuses(addr: tuple[str, int]) -> bool:
    """Whether nothing listens on ``addr`` any more."""
    try:
        socket.create_connection(addr, timeout=5).close()
    except OSError:
        return True
    return False


def test_the_package_exports_the_relay_types() -> None:
    for name in ("Relay", "RelayStats", "TenantStats", "StopReport", "StaticResolver"):
        assert name in sigsync.__all__
