"""The output folder is the only place a run writes: a target that cannot be used is
refused with exit 4 and a one-line message, symlinks inside it are never followed, and a
re-run leaves nothing of the previous run behind."""
import json

import pytest

from conftest import CASES, run_lrmo

CASE = str(CASES / "verify_galvanostatic_radial.yaml")
SMALL = ["--set", "output.fields=false", "--quiet"]


def run_small(out, *extra):
    return run_lrmo(["run", CASE, "--out", str(out), *SMALL, *extra])


def test_out_pointing_at_a_file_exits_4_naming_it(tmp_path):
    target = tmp_path / "not_a_folder"
    target.write_text("keep me")
    proc = run_small(target)
    assert proc.returncode == 4, proc.stderr
    assert "not a folder" in proc.stderr and str(target) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert target.read_text() == "keep me"


def test_out_where_no_folder_can_be_made_exits_4():
    proc = run_small("/proc/lrmo-cannot-be-here/run")
    assert proc.returncode == 4, proc.stderr
    assert "cannot use output folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_symlinks_inside_the_folder_are_replaced_not_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("untouched")
    out = tmp_path / "run"
    out.mkdir()
    for name in ("fields", "mesh", "timeseries.csv"):
        (out / name).symlink_to(outside if name != "timeseries.csv" else outside / "sentinel")
    proc = run_lrmo(["run", CASE, "--out", str(out), "--set", "output.fields=true", "--quiet"])
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]
    assert (outside / "sentinel").read_text() == "untouched"
    for name in ("fields", "mesh", "timeseries.csv"):
        assert not (out / name).is_symlink(), name
    assert (out / "fields" / "fields.xdmf").is_file()
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"


def test_a_rerun_clears_every_result_of_the_previous_run(tmp_path):
    out = tmp_path / "run"
    stale = out / "oxygen"
    stale.mkdir(parents=True)
    (stale / "summary.json").write_text('{"status": "completed"}')
    (out / "slices.csv").write_text("stale")
    proc = run_small(out)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert not (out / "slices.csv").exists()


def test_a_write_that_fails_midway_exits_4_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    """A full disk, simulated in-process: the rename of profiles.csv fails with ENOSPC.
    The temporary file is removed, the summary says why, the exit code is 4."""
    import errno
    import os

    from lrmo import cli
    from solver.io import output

    real_replace = os.replace

    def full_disk(src, dst, *args, **kwargs):
        if str(dst).endswith("profiles.csv"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(output.os, "replace", full_disk)
    out = tmp_path / "run"
    code = cli.main(["run", CASE, "--out", str(out), *SMALL])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "cannot write" in err and "profiles.csv" in err and "No space left" in err
    assert not list(out.glob(".*tmp*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "profiles.csv" in summary["message"]


@pytest.mark.parametrize("n_ranks", [2])
def test_unusable_folder_exits_4_on_every_rank(tmp_path, n_ranks):
    target = tmp_path / "file"
    target.write_text("x")
    proc = run_lrmo(["run", CASE, "--out", str(target), *SMALL], n_ranks=n_ranks)
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.count("not a folder") == 1  # rank 0 prints once


def test_writes_stay_collective_when_only_rank_0_holds_the_rows(tmp_path):
    """profiles.csv rows live on rank 0: the decision to write them is rank 0's, so the
    ranks' collective writes stay paired and verify (which reads them back and
    broadcasts them) runs under mpirun."""
    proc = run_lrmo(["verify", "--only", "galvanostatic_radial", "--out", str(tmp_path)], n_ranks=2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "checks passed" in proc.stdout
