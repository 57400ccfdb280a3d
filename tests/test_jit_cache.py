"""Claim: forms compile once per model structure. Sweep members that differ only in
values (C-rate, layer thickness) find every compiled module in the JIT cache that the
first member filled (the numbers are fem.Constants, not literals in the generated
code; docs/performance.md, "JIT cache"). Each member is its own `lrmo run` process
against a private JIT cache (benchmarks/jit_cache.py)."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT


def _benchmark():
    spec = importlib.util.spec_from_file_location("jit_cache", ROOT / "benchmarks" / "jit_cache.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sweep_over_c_rates_and_layer_thicknesses_adds_no_compiled_module(tmp_path):
    result = _benchmark().sweep("cases/ru1_stress.yaml", c_rates=[1, 2, 3], layers_nm=[10, 30],
                                also=["cases/verify_galvanostatic_radial.yaml"], work=tmp_path,
                                end_time_min=2.0)
    rows = result["members"]
    assert rows[0]["modules"] > 0  # the cache is private and the count sees its modules
    assert result["after_first"] == {"cases/ru1_stress.yaml": 0,
                                     "cases/verify_galvanostatic_radial.yaml": 0}, rows


@pytest.mark.slow
def test_sweep_over_ten_c_rates_and_ten_layer_thicknesses_adds_no_compiled_module(tmp_path):
    bench = _benchmark()
    result = bench.sweep("cases/ru1_stress.yaml", c_rates=[0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7, 10],
                         layers_nm=[5, 10, 15, 20, 25, 30, 35, 40, 50, 60], also=[],
                         work=tmp_path, end_time_min=2.0)
    print({r["set"][0]: r["modules"] for r in result["members"]})
    assert result["after_first"] == {"cases/ru1_stress.yaml": 0}, result["members"]
