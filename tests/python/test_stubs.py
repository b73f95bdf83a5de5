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


def test_every_exported_name_type_checks_for_a_strict_user(tmp_path: Path) -> None:
    # The package builds `__all__` from its modules' own lists; a typed user must still see
    # every name, with its type, under `mypy --strict` (no implicit re-exports), and the
    # package and the examples must type-check too.
    pytest.importorskip("mypy")
    names = [n for n in sigsync.__all__ if n != "__version__"]
    user = tmp_path / "typed_user.py"
    user.write_text(
        "import sigsync\n"
        f"from sigsync import {', '.join(names)}\n"
        f"everything: list[object] = [sigsync.__version__, {', '.join(names)}]\n"
        + "".join(f"assert sigsync.{n} is {n}\n" for n in names)
        + "def why(e: sigsync.SigsyncError) -> object:\n"
        "    if isinstance(e, sigsync.ThrottledError):\n"
        "        wait: float | None = e.retry_after\n"
        "        return wait\n"
        "    if isinstance(e, sigsync.ValidationError):\n"
        "        field: str = e.field\n"
        "        return field\n"
        "    if isinstance(e, sigsync.AuthError):\n"
        "        aadsts: int | None = e.aadsts\n"
        "        return aadsts\n"
        "    status: sigsync.SetupStatus = sigsync.SetupStatus.AT_RISK\n"
        "    return (e.kind, status)\n"
    )
    examples = sorted(str(p) for p in (REPO / "examples" / "python").glob("*.py"))
    for target in (["-p", "sigsync"], [str(user), *examples]):
        out = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *target],
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
