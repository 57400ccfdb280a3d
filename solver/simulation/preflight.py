"""Pre-flight check of a case, before anything is meshed: the estimated cells, dofs and
memory (meshes/estimate.py) against the memory available on this node. A case that
would not fit is refused with a message naming the mesh keys and sizes that would fit.
No DOLFINx import: `lrmo validate` runs it too.
"""
from __future__ import annotations

import os

from mpi4py import MPI

from meshes.estimate import (FIT_FRACTION, Estimate, coarsening_that_fits, estimate_run,
                             history_steps)
from solver.case.schema import Case
from solver.case.units import FARADAY_C_MOL
from solver.numerics.peak_search import BUDGET_BYTES

SIZE_KEYS = {"size_surface_m": "mesh.surface", "size_bulk_m": "mesh.bulk",
             "size_interface_m": "mesh.interface"}


def mesh_arguments(case: Case) -> dict:
    """The mesh builders' arguments in SI (sizes the case leaves out are None: the
    builder's per-shape defaults; radial_layers only when the case gives it)."""
    g, m = case.geometry, case.mesh

    def si(size):
        return None if size is None else size.si

    layered = {} if m.radial_layers is None else {"radial_layers": {
        "count": m.radial_layers.count, "depth_m": m.radial_layers.depth.si}}
    return dict(
        radius_m=g.radius.si,
        layer_thickness_m=g.layer_thickness.si,
        coating_thickness_m=g.coating_thickness.si,
        size_bulk_m=si(m.bulk),
        size_surface_m=si(m.surface),
        size_interface_m=si(m.interface),
        **layered,
    )


def mesh_inputs(case: Case) -> dict:
    """The builder's checked inputs with the shape's defaults filled in, plus "shape"."""
    from meshes.sizes import checked_inputs

    shape = case.geometry.shape
    inputs = {"shape": shape, **checked_inputs(**mesh_arguments(case), shape=shape)}
    if shape == "secondary":  # its Voronoi faces are meshed too (meshes/estimate.py)
        inputs["grain_count"] = case.grains.count
    from solver.case.shape_geometry import SHAPE_KEYS, shape_parameters_si, surface_area_m2

    if shape in SHAPE_KEYS:  # graded by depth below the surface (meshes/estimate.py)
        inputs["surface_area_m2"] = surface_area_m2(case.geometry)
        if shape != "imported":
            from meshes.shapes import inradius_m

            g = case.geometry
            inputs["inradius_m"] = inradius_m(shape, shape_parameters_si(shape, lambda k: getattr(g, k)))
    return inputs


def solved_p1_fields(case: Case) -> int:
    """The P1 fields with a linear system of their own: Li, O2 and oxygen redox's vacancies."""
    return sum(name in case.physics for name in ("lithium", "oxygen", "oxygen_redox"))


def case_estimate(case: Case, ranks: int, inputs: dict | None = None) -> Estimate:
    return estimate_run(inputs or mesh_inputs(case), mechanics="mechanics" in case.physics,
                        p1_fields=solved_p1_fields(case), ranks=ranks, history_steps=stored_steps(case),
                        history_cap_bytes=BUDGET_BYTES, phase_field=phase_field_coupling(case))


def phase_field_coupling(case: Case) -> str | None:
    """The phase field's coupling ("one_way", "two_way"), or None without one."""
    return case.fracture.coupling if "fracture" in case.physics else None


def stored_steps(case: Case) -> float:
    """Steps whose site fraction the peak search stores (solver/simulation/chemomechanics.py: one-way
    coupling, no stress_every_steps, peak_over_time), else 0."""
    m = case.mechanics
    if ("mechanics" not in case.physics or m.stress_assisted_diffusion
            or m.stress_every_steps is not None or not m.peak_over_time):
        return 0.0
    change = case.lithium.initial_site_fraction.si - case.lithium.min_site_fraction.si
    steps = history_steps(abs(change), case.time_stepping.max_change_per_step.si)
    return min(steps * share_of_the_charge(case, abs(change)), case.time_stepping.max_steps)


# accepted steps up to time t of a first charge that takes t_f: about (t / t_f)^0.6 of all
# (the first steps are short). CALIBRATED on two shortened octant runs (docs/meshes.md):
# 311 of ~1060 steps by 10 min (t / t_f = 0.14), 171 by 5 min (0.07).
EARLY_STEPS_EXPONENT = 0.6


def share_of_the_charge(case: Case, change: float) -> float:
    """Share of the first charge's steps a galvanostatic first-charge protocol reaches by
    its end_time (a protocol shortened with --set protocol.end_time=...): the mean site
    fraction falls at c_rate x current_1C x density / (F c_site) until the floor; 1 for
    a protocol of steps or one that reaches the floor."""
    p, core = case.protocol, case.materials.core
    if p.steps or None in (p.end_time, p.c_rate, p.current_1C) or change <= 0:
        return 1.0
    rate = p.c_rate.si * p.current_1C.si * core.density.si / (FARADAY_C_MOL * core.lithium_site_concentration.si)
    return min(1.0, (p.end_time.si * rate / change) ** EARLY_STEPS_EXPONENT)


CGROUP_ROOT = "/sys/fs/cgroup"  # v2: memory.max; v1: memory/memory.limit_in_bytes
UNLIMITED_CGROUP_BYTES = 2**60  # cgroup v1 writes ~2^63 for "no limit"


def physical_memory_bytes() -> float | None:
    """MemAvailable of this node (psutil if installed, else /proc/meminfo), or None."""
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _read_number(path: str) -> float | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return float(text) if text.isdigit() else None  # "max": no limit


def cgroup_memory_bytes(root: str = CGROUP_ROOT) -> float | None:
    """What the process's memory cgroup still allows (limit - usage), v2 or v1, or None
    when there is no limit (containers, systemd slices, Slurm's task/cgroup plugin set it)."""
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        limit = _read_number(f"{root}/{limit_file}")
        if limit is not None and limit < UNLIMITED_CGROUP_BYTES:
            return max(limit - (_read_number(f"{root}/{usage_file}") or 0.0), 0.0)
    return None


def slurm_memory_bytes(environ=None) -> float | None:
    """The Slurm job's memory on this node: --mem (SLURM_MEM_PER_NODE) or --mem-per-cpu x
    the CPUs on this node (SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE), in MB; None outside Slurm."""
    env = os.environ if environ is None else environ
    try:
        if env.get("SLURM_MEM_PER_NODE"):
            return float(env["SLURM_MEM_PER_NODE"]) * 2**20
        if env.get("SLURM_MEM_PER_CPU"):
            return float(env["SLURM_MEM_PER_CPU"]) * float(env.get("SLURM_CPUS_ON_NODE", "1")) * 2**20
    except ValueError:
        return None
    return None


def available_memory() -> tuple[float | None, str]:
    """(bytes, what sets them): the smallest of the node's available physical memory,
    the memory cgroup's remaining limit and the Slurm allocation (a job is killed at
    the first it crosses)."""
    limits = [(b, name) for b, name in ((physical_memory_bytes(), "physical memory"),
                                        (cgroup_memory_bytes(), "the memory cgroup's limit"),
                                        (slurm_memory_bytes(), "the Slurm allocation"))
              if b is not None]
    return min(limits) if limits else (None, "unknown")


def node_bytes(estimate: Estimate, ranks_on_node: int) -> float:
    """Peak memory of the busiest node: its ranks' share (the busiest rank's peak)."""
    return estimate.memory_per_rank_bytes * ranks_on_node


def refusal(case: Case, inputs: dict, ranks: int, ranks_on_node: int,
            available: float, source: str = "physical memory") -> str | None:
    """None if the case fits in FIT_FRACTION of `available` bytes on the busiest node,
    else a one-line message naming the mesh keys and sizes that would fit."""
    def fits(trial: dict) -> bool:
        need = node_bytes(case_estimate(case, ranks, trial), ranks_on_node)
        return need <= FIT_FRACTION * available

    if fits(inputs):
        return None
    need = node_bytes(case_estimate(case, ranks, inputs), ranks_on_node)
    arguments = mesh_arguments(case)
    given = [k for k in SIZE_KEYS if arguments[k] is not None]
    keys = given or ["size_surface_m", "size_bulk_m"]
    now = ", ".join(f"{SIZE_KEYS[k]} = {_nm(inputs[k])}" +
                    ("" if k in given else " (default)") for k in keys)
    factor = coarsening_that_fits(inputs, fits)
    if factor is None:
        advice = "no element sizes up to the radius fit: run on more nodes"
    else:
        advice = "use " + " ".join(f"--set {SIZE_KEYS[k]}='{_nm(inputs[k] * factor * 1.05)}'"
                                   for k in keys)
        if given:
            advice += f" (or =null: the {inputs['shape']} defaults)"
    return (f"mesh too large for this node: {now} ({inputs['shape']}) need ~{need / 1e9:.3g} GB "
            f"on {ranks_on_node} rank(s), {available / 1e9:.3g} GB available ({source}); {advice}, "
            "or pass --force-large to run anyway")


def _nm(size_m: float) -> str:
    return f"{size_m * 1e9:.3g} nm"


def preflight(case: Case, comm: MPI.Comm, force: bool = False) -> tuple[list[str], str | None]:
    """(estimate lines to print, refusal message or None). The same on every rank.
    Collective (counts the ranks on each node)."""
    try:
        inputs = mesh_inputs(case)
    except ValueError as exc:  # sizes the builder cannot use (normally caught on loading)
        return [], f"mesh: {exc}"
    estimate = case_estimate(case, comm.size, inputs)
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_on_node = comm.allreduce(node.size, op=MPI.MAX)
    node.Free()
    local, source = available_memory()
    available, source = comm.allreduce((local or float("inf"), source), op=MPI.MIN)
    lines = estimate.lines()
    if available != float("inf"):
        lines[-1] += f"; {available / 1e9:.3g} GB available on this node ({source})"
    message = None if force else refusal(case, inputs, comm.size, ranks_on_node, available, source)
    return lines, message
