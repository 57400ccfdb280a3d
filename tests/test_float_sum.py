"""Sums of floats that feed stored numbers are the same bits whatever the floats' type
(solver/numerics/float_sum.py): since Python 3.12 the builtin sum() compensates the
round-off of exact Python floats only, so a run (numpy.float64) and its restart (Python
floats from JSON), or Debian 12 (3.11) and Debian 13 (3.13), differed in the last bit."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from solver.numerics.float_sum import summed
from solver.simulation.oxygen_redox_submodel import OxygenRedoxSubmodel


def left_to_right(terms):
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def test_summed_is_left_to_right_for_python_and_numpy_floats():
    # a case where the compensated sum differs: 1e16 + 1 rounds back to 1e16
    assert summed([1e16, 1.0, -1e16]) == 0.0 == summed(np.array([1e16, 1.0, -1e16]))
    assert math.fsum([1e16, 1.0, -1e16]) == 1.0  # what sum() gives on Python >= 3.12
    assert summed([]) == 0.0 and summed([2.5]) == 2.5
    rng = np.random.default_rng(12)
    for _ in range(2000):
        n = int(rng.integers(2, 8))
        terms = (rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-6, 7, n)).tolist()
        plain = summed(terms)
        assert type(plain) is float
        assert plain == left_to_right(terms)
        assert summed(np.float64(t) for t in terms) == plain
        assert summed(np.array(terms)) == plain
        assert abs(plain - math.fsum(terms)) <= n * np.finfo(float).eps * sum(abs(t) for t in terms)


def _redox(values: dict, cast):
    """An OxygenRedoxSubmodel's ledger inputs, each value through `cast`."""
    o2 = {k: cast(values[k]) for k in ("mobile_mol", "captured_mol", "escaped_mol", "returned_mol")}
    totals = np.array([cast(values[k]) for k in ("P", "X", "vacancies")], dtype=object)  # keeps the type
    return SimpleNamespace(oxygen=SimpleNamespace(ledger=lambda: o2, initial_mol=cast(values["initial_O2"])),
                           _totals=lambda *a: totals, sf=cast(1.0),
                           redox=SimpleNamespace(P=None, X=None), vacancies=SimpleNamespace(v=SimpleNamespace(
                               x=SimpleNamespace(array=None))),
                           initial_mol_O=cast(values["initial"]))


def test_oxygen_ledger_closure_does_not_depend_on_the_float_type():
    """The ledger's closure error (initial - the sum of the accounts, a difference of
    nearly equal numbers: its last bits are all it has) is the same for Python floats and
    numpy.float64 accounts, and is the left-to-right sum's."""
    rng = np.random.default_rng(3)
    keys = ("lattice_O_mol", "oxidised_O_mol", "mobile_O_mol", "captured_O_mol", "escaped_O_mol", "returned_O_mol")
    for _ in range(500):
        values = dict(zip(("mobile_mol", "captured_mol", "escaped_mol", "returned_mol", "P", "X", "vacancies"),
                          rng.uniform(0, 1, 7) * 10.0 ** rng.integers(-22, -15, 7)))
        values["initial"], values["initial_O2"] = float(rng.uniform(1e-16, 1e-15)), float(rng.uniform(0, 1e-18))
        plain = OxygenRedoxSubmodel.ledger(_redox(values, float))
        numpy = OxygenRedoxSubmodel.ledger(_redox(values, np.float64))
        assert plain["oxygen_ledger_error_mol"] == numpy["oxygen_ledger_error_mol"]
        assert type(plain["lattice_O_mol"]) is float and type(numpy["lattice_O_mol"]) is np.float64
        assert plain["oxygen_ledger_error_mol"] == values["initial"] - left_to_right([plain[k] for k in keys])
