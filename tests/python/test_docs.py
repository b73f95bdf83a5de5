"""The examples in the docs run: the root and package READMEs' snippets and the docstring
examples."""

from __future__ import annotations

import contextlib
import doctest
import io
import re

import pytest

import sigsync
from conftest import REPO


def test_readme_snippet_runs() -> None:
    text = (REPO / "sigsync-py" / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code, "README.md", "exec"), {})
    assert "create outbound connector" in out.getvalue()


def _root_readme_python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert len(blocks) == 2, "two Python examples in the README: setup, and the relay"
    return blocks


def test_root_readme_python_example_configures_the_simulated_tenant() -> None:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(_root_readme_python_blocks()[0], "README.md", "exec"), {})
    assert re.search(r'"status":\s*"configured"', out.getvalue()), out.getvalue()


def test_root_readme_relay_example_starts_and_stops_the_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the example's paths are relative to the repository root
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(_root_readme_python_blocks()[1], "README.md", "exec"), {})
    text = out.getvalue()
    assert re.search(r"listening on 127\.0\.0\.1:\d+ TenantStats\(accepted=0", text), text
    assert "StopReport(drained=True, cut=0)" in text, text


def test_package_docstring_example_runs() -> None:
    doc = sigsync.__doc__ or ""
    code = "\n".join(line[4:] for line in doc.split("::", 1)[1].split("\n\n", 2)[1].splitlines())
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "sigsync.__doc__", "exec"), {})


def test_docstring_examples_pass_doctest() -> None:
    import sigsync._models
    import sigsync._relay
    import sigsync._sim

    for module in (sigsync._models, sigsync._sim, sigsync._relay):
        result = doctest.testmod(module, globs={**vars(sigsync), **vars(module)}, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
