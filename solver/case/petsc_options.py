"""The PETSc options a case file may set (`solvers.petsc_options`): an allow-list.

PETSc options can open and write files (`ksp_view ascii:/path`, `*_monitor`, `log_*`,
`options_file`), so a case file gets only solver choices and tolerances. petsc4py (3.18
to 3.22) has no binding for PetscOptionsUsed, so "an option PETSc would silently
ignore" cannot be detected after set-up portably; instead every key must be one of the
exact names below (a misspelt key is refused rather than ignored), and values must be a
plain word or a finite number.
"""
from __future__ import annotations

import math
import re

from solver.case.loading import clip, clip_repr

_KSP = ("type", "rtol", "atol", "divtol", "max_it", "norm_type", "initial_guess_nonzero",
        "gmres_restart", "min_it")
_FACTOR = ("mat_solver_type", "levels", "shift_type", "shift_amount", "fill")
_BOOMERAMG = ("coarsen_type", "interp_type", "strong_threshold", "P_max", "agg_nl",
              "agg_num_paths", "max_levels", "max_iter", "tol", "truncfactor",
              "relax_type_all", "relax_type_down", "relax_type_up", "relax_type_coarse",
              "relax_weight_all", "grid_sweeps_all", "grid_sweeps_down", "grid_sweeps_up",
              "cycle_type", "no_CF", "nodal_coarsen", "vec_interp_variant",
              "max_row_sum", "measure_type", "smooth_type", "smooth_num_levels")
_GAMG = ("type", "threshold", "square_graph", "agg_nsmooths", "coarse_eq_limit",
         "process_eq_limit", "repartition", "reuse_interpolation", "sym_graph",
         "esteig_ksp_type", "esteig_ksp_max_it", "aggressive_coarsening")
_SMOOTHER = ("ksp_type", "pc_type", "ksp_max_it", "ksp_chebyshev_esteig", "esteig_ksp_type",
             "esteig_ksp_max_it", "pc_sor_omega", "pc_sor_its", "pc_jacobi_type",
             "pc_factor_mat_solver_type")

ALLOWED = frozenset(
    [f"ksp_{k}" for k in _KSP]
    + ["pc_type", "pc_hypre_type", "pc_jacobi_type", "pc_sor_omega", "pc_sor_its",
       "pc_mg_levels", "pc_mg_cycle_type", "pc_mg_type", "pc_mg_galerkin"]
    + [f"pc_factor_{k}" for k in _FACTOR]
    + [f"pc_hypre_boomeramg_{k}" for k in _BOOMERAMG]
    + [f"pc_gamg_{k}" for k in _GAMG]
    + [f"mg_{level}_{k}" for level in ("levels", "coarse") for k in _SMOOTHER]
    # the coarse level of the p-multigrid is itself GAMG (solver/numerics/linalg.py)
    + [f"mg_coarse_pc_gamg_{k}" for k in _GAMG]
    + [f"mg_coarse_mg_levels_{k}" for k in _SMOOTHER]
)
ALLOWED_SUMMARY = ("ksp_type, ksp_rtol/atol/divtol/max_it/..., pc_type, pc_factor_*, "
                   "pc_hypre_type, pc_hypre_boomeramg_*, pc_gamg_*, pc_mg_*, mg_levels_*, "
                   "mg_coarse_* (exact names in docs/case-files.md)")
_FORBIDDEN = re.compile(r"view|monitor|log|options_file|history|draw|save|load|file|dump|"
                        r"error_if|test|info|python")
_WORD = re.compile(r"[A-Za-z0-9_.+-]{1,40}")


def check_petsc_options(options: dict) -> dict:
    """`options` if every key is allowed and every value plain; else ValueError whose
    message starts with the offending key."""
    for key, value in options.items():
        name = key.lstrip("-")
        if _FORBIDDEN.search(name):
            raise ValueError(f"{clip(key, 60)}: PETSc options that open files, view, "
                             f"monitor or log are not allowed in case files; allowed: "
                             f"{ALLOWED_SUMMARY}")
        if name not in ALLOWED:
            raise ValueError(f"{clip(key, 60)}: not an allowed PETSc option (a key PETSc "
                             f"would not use is refused, not ignored); allowed: "
                             f"{ALLOWED_SUMMARY}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"{name}: value must be a word or a number; got {clip_repr(value, 60)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name}: value must be finite; got {value!r}")
        if isinstance(value, str) and not _WORD.fullmatch(value):
            raise ValueError(f"{name}: value must be a plain word or number (no paths, "
                             f"':' or spaces); got {clip_repr(value, 60)}")
    return {k.lstrip("-"): v for k, v in options.items()}
