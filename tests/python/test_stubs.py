"""The hand-written stubs match the compiled module (mypy.stubtest), and every public name
has a docstring."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import sigsync
from conftest import REPO


def test_stubs_match_the_native_module(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    allowlist = REPO / "sigsync-py" / "stubtest-allowlist.txt"
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "sigsync._sigsync", "--allowlist", str(allowlist)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in sigsync.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(sigsync, name)
        if isinstance(obj, dict):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                if not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    assert missing == []


def test_package_ships_py_typed() -> None:
    assert (Path(sigsync.__file__).parent / "py.typed").exists()
