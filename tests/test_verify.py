"""`lrmo verify`: every built-in verification case passes its closed-form checks, and
the command's exit code reports a failure."""
import pytest
from mpi4py import MPI

from solver.studies import verify


@pytest.mark.parametrize("case_path", verify.verification_cases(), ids=lambda p: p.stem)
def test_verification_case_passes(case_path, tmp_path, capsys):
    code = verify.run_verification(tmp_path, only=case_path.stem, comm=MPI.COMM_WORLD)
    out = capsys.readouterr().out
    print(out)
    assert "FAIL" not in out
    assert code == 0


def test_a_failed_check_gives_a_nonzero_exit_code(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(verify, "PEAK_TOLERANCE", {"radial": 1e-9, "octant": 1e-9, "sphere": 1e-9})
    assert verify.run_verification(tmp_path, only="radial") == 1
    assert "FAIL" in capsys.readouterr().out
