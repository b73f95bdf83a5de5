"""The installed package imports and reports the crate version."""

import re

import sigsync


def test_package_imports_and_reports_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", sigsync.__version__)
