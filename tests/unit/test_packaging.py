"""The package metadata builds without setuptools' deprecation warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_it_states_its_license_as_an_spdx_expression_setuptools_can_read() -> None:
    document = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))

    # a table (`{ text = "MIT" }`) makes setuptools >= 77 print ~80 lines of
    # deprecation warnings on every `pip install -e .`; a string needs setuptools >= 77
    assert document["project"]["license"] == "MIT"
    assert not any(c.startswith("License ::") for c in document["project"].get("classifiers", []))
    [setuptools] = [r for r in document["build-system"]["requires"] if r.startswith("setuptools")]
    found = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert found is not None
    assert int(found[1]) >= 77
