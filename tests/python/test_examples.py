"""The Python example programs run end to end on the simulated tenant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SETUP = REPO / "examples" / "python" / "setup.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SETUP), *args], capture_output=True, text=True, timeout=120)


def test_setup_example_configures_the_simulated_tenant() -> None:
    out = run()
    assert out.returncode == 0, out.stderr
    assert "enter the code" in out.stdout
    assert "Mail-enabled groups (3):" in out.stdout
    assert "Result: configure: configured (4 writes)" in out.stdout


def test_setup_example_json_output_and_state_between_runs(tmp_path: Path) -> None:
    state = str(tmp_path / "tenant.json")
    first = run("--groups", "sales@contoso.com", "--external-only", "--sim-state", state, "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "configured" and result["writes"] == 4
    status = json.loads(run("--status", "--json", "--sim-state", state).stdout)
    assert status["status"] == "configured"
    paused = json.loads(run("--pause", "--json", "--sim-state", state).stdout)
    assert paused["status"] == "paused"
    removed = json.loads(run("--remove", "--json", "--sim-state", state).stdout)
    assert removed["status"] == "absent"


def test_setup_example_dry_run_changes_nothing_and_real_tenant_needs_client_id() -> None:
    dry = run("--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["writes"] == 0
    real = run("--tenant", "contoso.onmicrosoft.com")
    assert real.returncode == 2 and "--client-id" in real.stderr


def test_benchmark_script_runs_on_a_tiny_corpus() -> None:
    import pytest

    script = REPO / "sigsync-py" / "bench" / "bench_inject.py"
    if not (REPO.parent / "shared" / "bench" / "gen_corpus.py").exists():
        pytest.skip("the corpus generator (../shared) is absent")
    out = subprocess.run(
        [sys.executable, str(script), "--count", "6", "--large", "0", "--rounds", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    whole = out.stdout.split("whole corpus:", 1)[1]
    assert "msg/s" in whole and "MB/s" in whole and "ratio" in whole
