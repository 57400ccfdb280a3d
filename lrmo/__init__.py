"""lrmo: finite-element chemo-mechanics and O2 transport of battery cathode particles
(DOLFINx), reproducing Sun et al., Energy Environ. Sci. 18, 4335 (2025).

The public Python API (docs/api.md):

    import lrmo
    case = lrmo.load_case("cases/pristine_stress.yaml")
    case.geometry.radius = "200 nm"                      # validated on assignment
    result = lrmo.run(case)                              # in memory; or out="runs/r200"
    print(result.peak_von_mises_Pa / 1e6, "MPa")
    results = lrmo.sweep(case, {"protocol.c_rate": ["1C", "2C"]})
    lrmo.plot_peak_vs_time(results).figure.savefig("peaks.png")

The command line is `lrmo` (lrmo/cli.py); the engine is in the `solver` and `meshes`
packages."""
from solver import __version__

from lrmo.api import Case, CaseError, RunError, load_case, run, sweep
from lrmo.result import Profiles, Result, Table, plot_peak_vs_time, plot_profiles

__all__ = ["__version__", "Case", "CaseError", "RunError", "load_case", "run", "sweep",
           "Result", "Table", "Profiles", "plot_peak_vs_time", "plot_profiles"]
