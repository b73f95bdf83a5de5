"""The blocking-call boundary: Ctrl-C interrupts a wait, options reach the client."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import sigsync

INTERRUPT = textwrap.dedent(
    """
    import os, signal, threading, time
    import sigsync

    with sigsync.Simulator(pending_polls=1000) as sim:
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        start = time.monotonic()
        try:
            sim.sign_in()
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - start:.1f}s")
    """
)


def test_ctrl_c_interrupts_a_blocking_call_with_keyboard_interrupt() -> None:
    out = subprocess.run([sys.executable, "-c", INTERRUPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("interrupted after"), out.stdout + out.stderr
    assert float(out.stdout.split()[2].rstrip("s")) < 10


def test_sign_in_waits_through_pending_polls_and_client_takes_a_timeout() -> None:
    with sigsync.Simulator(seeded=True, pending_polls=1) as sim:
        client = sim.client(timeout=30.0, max_attempts=2, max_retry_wait=5.0)
        assert len(client.list_mail_enabled_groups()) == 3
