"""The PyPI example notebook, executed on a real kernel like the others."""

from __future__ import annotations

import pytest

from tests.notebook.test_notebooks import code_outputs, execute, python3_kernelspec, text

__all__ = ["python3_kernelspec"]  # the module's autouse fixture, used here too

pytestmark = pytest.mark.timeout(180)


def test_pypi_notebook_explores_tabulates_costs_per_level_and_draws(tmp_path):
    nb = execute("04_pypi_dependencies.ipynb", tmp_path)
    outputs = code_outputs(nb)
    assert "errors: []" in text(outputs[0])
    table = text(outputs[1])
    assert "con-c" in table and "no version of con-c satisfies all of" in table
    assert "levels: " in text(outputs[2])
    assert any("image/svg+xml" in o.get("data", {}) or "image/png" in o.get("data", {})
               for o in outputs[3])
