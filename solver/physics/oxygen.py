"""Mobile O2 in the oxide with escape, sinks and RuO2 capture (docs/model.md §4).

    dc/dt = div(D grad c) + s(t)                        in the oxide (core + layer)
    sink:          c = c_ext
    escape:        -D dc/dn = k (c - c_ext)
    ruo2_capture:  -D dc/dn = k_a c (1 - Gamma/Gamma_max) - k_d Gamma  (+ k_pass (c - c_ext))
                   dGamma/dt = k_a c (1 - Gamma/Gamma_max) - k_d Gamma - k_ret Gamma

c in mol/m^3, Gamma (captured O2 per RuO2 area) in mol/m^2, one value per surface node.
k_d = nu_0 exp(E_ads/(k_B T)) (solver/case/oxygen.py RuO2); k_ret is the catalytic
return of captured O2 to the lattice; s is a uniform source switched on in a window, or
a nodal source from the oxygen-redox submodel (lumped: int phi_i dV s_i).

Capacity (design): the RuO2 of loading w (mass fraction) on a particle of radius R and
density rho is n_Ru = w/(1-w) rho (4/3) pi R^3 / M_RuO2 mol; with one O2 site per Ru
(`sites_per_Ru`) spread over the covered area (coverage f of 4 pi R^2),
Gamma_max = n_Ru / (f 4 pi R^2). For Ru-1 (0.46 wt%, 4.3 g/cm^3, R = 150 nm) this is
7.4e-6 mol/m^2 (4.5 sites/nm^2) for a shell: less than a RuO2 monolayer's worth
(~0.14 nm of RuO2), so every Ru is a surface site.

Time discretisation: variable-step BDF2 (backward Euler first step) for c and for
every Gamma alike, so that every mole is accounted for exactly (below). The capture
term is split IMEX so that the matrix stays constant for a given step:
  adsorption A = k_a (c^{n+1} - theta^n c^n)   (free sites implicit, blocked part lagged),
  Gamma^{n+1} from BDF2 with A - (k_d + k_ret) Gamma^{n+1} (implicit: any k_d is stable),
  which eliminates to a net flux beta A - k_d h_Gamma/(a0/dt + k_d + k_ret) out of c,
  beta = (a0/dt + k_ret)/(a0/dt + k_d + k_ret), theta^n = Gamma^n/Gamma_max.
The capture flux uses the lumped (nodal) surface mass a_i = int_capture phi_i ds.
The lagged part is bounded by the implicit one (theta <= 1), so the scheme is stable; it
is first order in the coupling. Nodes held by a sink do not capture.

Matrices: M, K and the Robin terms are assembled into one operator per value of a0/dt
(a few cached: a fixed step size needs two, the backward-Euler start and BDF2), solved with a
direct factorisation (MUMPS) so the discrete balance holds to round-off.

Ledger (mol, this mesh; multiply by the symmetry factor for the particle): every
cumulative account X (escaped, returned, generated) obeys the same BDF2 recursion as the
mobile mass, a0 X^{n+1} + a1 X^n + a2 X^{n-1} = dt F^{n+1}, hence
  mobile + captured + escaped + returned = initial + generated
holds exactly (round-off and solver tolerance). The sink flux is the reaction of the
Dirichlet rows, computed from the same balance.
"""
from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from meshes.markers import FACET_TAGS
from solver import compat
from solver.numerics import linalg
from solver.numerics.float_sum import summed
from solver.physics.domain import Domain
from solver.case.oxygen import Oxygen

ACCOUNTS = ("escaped", "returned", "generated")
OPERATOR_CACHE = 4  # assembled operators kept (one per step length)


class OxygenTransport:
    """Fields, forms and the one-step solve of the O2 problem."""

    def __init__(self, domain: Domain, oxygen: Oxygen, capture_coverage: float = 1.0,
                 petsc_options: dict | None = None):
        msh = domain.msh
        self.domain = domain
        self.oxygen = oxygen
        self.D = oxygen.diffusivity.si
        self.c_ext = oxygen.external_concentration.si
        self.V = V = compat.functionspace(msh, "Lagrange", 1)
        self.c = fem.Function(V, name="c_O2_mol_m3")
        self.c_n, self.c_nm1 = fem.Function(V), fem.Function(V)
        for f in (self.c, self.c_n, self.c_nm1):
            f.x.array[:] = oxygen.initial_concentration.si
        self.gamma = fem.Function(V, name="Gamma_O2_mol_m2")
        self.gamma_n, self.gamma_nm1 = fem.Function(V), fem.Function(V)
        self.n_owned = V.dofmap.index_map.size_local

        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        grad = domain.grad
        self.time_coefficient = compat.constant(msh, 1.0)  # a0 / dt
        mass = domain.volume_integral(u * v)
        D = compat.constant(msh, self.D)  # a Constant, not a literal: one compiled form
        a = self.time_coefficient * mass + domain.volume_integral(D * ufl.dot(grad(u), grad(v)))
        self.M = compat.assemble_matrix(fem.form(mass))
        self.volume_load = self._vector(domain.volume_integral(v))
        self.volume_m3 = self.volume_load.sum()

        # surfaces by kind
        fdim = msh.topology.dim - 1
        self.robin: list[tuple[float, PETSc.Vec, float]] = []  # (k, int_s v ds, area)
        sink_dofs, capture_surfaces = [], []
        for name, surface in oxygen.surfaces.items():
            rate = surface.rate.si if surface.kind == "escape" else surface.escape_rate.si
            if rate > 0:
                a = a + compat.constant(msh, rate) * domain.surface_integral(u * v, name)
                load = self._vector(domain.surface_integral(v, name))
                self.robin.append((rate, load, load.sum()))
            if surface.kind == "sink":
                facets = domain.facet_tags.find(FACET_TAGS[name])
                sink_dofs.append(fem.locate_dofs_topological(V, fdim, facets))
            if surface.kind == "ruo2_capture":
                capture_surfaces.append(name)
        self.a = fem.form(a)
        self.sink_dofs = np.unique(np.concatenate(sink_dofs)) if sink_dofs else np.array([], dtype=np.int32)
        self.has_sink = domain.comm.allreduce(len(sink_dofs) > 0, op=MPI.LOR)
        self.c_sink = compat.constant(msh, self.c_ext)
        self.bcs = [fem.dirichletbc(self.c_sink, self.sink_dofs, V)] if self.has_sink else []

        # RuO2 capture: nodal areas, capacity and rate constants
        self.node_area = fem.Function(V)
        for name in capture_surfaces:
            vec = compat.petsc_vec(self.node_area)
            extra = self._vector(domain.surface_integral(v, name))
            vec.axpy(1.0, extra)
        self.node_area.x.scatter_forward()
        self.node_area.x.array[self.sink_dofs] = 0.0
        ruo2 = oxygen.ruo2
        self.capacity_mol_m2 = ruo2.capacity_mol_m2(domain.radius_m, capture_coverage) if ruo2 else 0.0
        has_sites = bool(capture_surfaces) and self.capacity_mol_m2 > 0
        self.k_a = ruo2.adsorption_rate.si if has_sites else 0.0
        self.k_d = ruo2.desorption_rate_1_s() if has_sites else 0.0
        self.k_ret = ruo2.return_rate.si if has_sites else 0.0

        extra = {} if domain.radial else (petsc_options or {})
        direct = linalg.direct_options(domain.comm) if domain.radial else linalg.DIRECT
        self.ksp = linalg.make_ksp(domain.comm, "oxygen", {**direct, **extra})
        self._stiffness = None  # A at a0/dt = 0, when there are no Dirichlet rows
        self._operators: dict[float, PETSc.Mat] = {}
        self._b = fem.Function(V)
        self._history = fem.Function(V)
        self.accounts = {k: [0.0, 0.0] for k in ACCOUNTS}  # (n, n-1), this mesh
        src = oxygen.source
        self.source_start_s = None if src is None else src.start.si  # set by a coupling law
        # mol/m^3/s at the nodes (all local), set before each step by a coupled submodel
        # (solver/simulation/oxygen_redox_submodel.py), taken with the lumped rule w_i s_i
        self.nodal_source = None
        self.rates: dict[str, float] = {}

    # -- helpers --------------------------------------------------------------------------
    def _vector(self, form) -> PETSc.Vec:
        f = fem.Function(self.V)
        vec = compat.petsc_vec(f)
        compat.assemble_vector_into(vec, fem.form(form))
        f.x.scatter_forward()
        self._keep = getattr(self, "_keep", []) + [f]  # the Vec wraps f's memory
        return vec

    def _sum_owned(self, values: np.ndarray) -> float:
        return self.domain.comm.allreduce(float(values[: self.n_owned].sum()), op=MPI.SUM)

    def source_rate(self, t: float) -> float:
        """s(t) in mol/m^3/s."""
        src = self.oxygen.source
        if src is None or t <= self.source_start_s or (src.end is not None and t > src.end.si):
            return 0.0
        return src.rate.si

    def _beta(self, ct: float) -> float:
        return (ct + self.k_ret) / (ct + self.k_d + self.k_ret)

    def _operator(self, ct: float) -> PETSc.Mat:
        """The operator for a0/dt = ct, from a small cache: a fixed step needs two (the
        backward-Euler start and BDF2); steps set by the Li transport vary, and the
        oldest operators are then dropped."""
        key = float(f"{ct:.12e}")
        if key not in self._operators:
            if self.bcs:
                self.time_coefficient.value = ct
                A = compat.assemble_matrix(self.a, self.bcs)
            else:  # no Dirichlet rows: A = A(0) + ct M, sums on one pattern (no form assembly)
                if self._stiffness is None:
                    self.time_coefficient.value = 0.0
                    self._stiffness = compat.assemble_matrix(self.a)
                A = self._stiffness.duplicate(copy=True)
                A.axpy(ct, self.M, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
            if self.k_a > 0:
                d = A.getDiagonal()
                d.axpy(self.k_a * self._beta(ct), compat.petsc_vec(self.node_area))
                A.setDiagonal(d)
            while len(self._operators) >= OPERATOR_CACHE:
                self._operators.pop(next(iter(self._operators))).destroy()
            self._operators[key] = A
        return self._operators[key]

    # -- one step -------------------------------------------------------------------------
    def solve_step(self, dt: float, bdf: tuple[float, float, float], t_new: float) -> None:
        """c, Gamma and the ledger rates at t_new = t + dt; `bdf = (a0, a1, a2)`."""
        a0, a1, a2 = bdf
        ct = a0 / dt
        A = self._operator(ct)
        self.ksp.setOperators(A)
        h = self._history.x.array
        h[:] = -(a1 * self.c_n.x.array + a2 * self.c_nm1.x.array) / dt
        b = compat.petsc_vec(self._b)
        self.M.mult(compat.petsc_vec(self._history), b)
        s = self.source_rate(t_new)
        if s:
            b.axpy(s, self.volume_load)
        nodal = 0.0
        if self.nodal_source is not None:
            lumped = self.volume_load.array * self.nodal_source[: self.n_owned]
            self._b.x.array[: self.n_owned] += lumped
            nodal = self.domain.comm.allreduce(float(lumped.sum()))
        for k, load, _ in self.robin:
            b.axpy(k * self.c_ext, load)
        area = self.node_area.x.array
        theta = self.gamma_n.x.array / self.capacity_mol_m2 if self.k_a > 0 else 0.0
        h_gamma = -(a1 * self.gamma_n.x.array + a2 * self.gamma_nm1.x.array) / dt
        kdr = self.k_d + self.k_ret
        if self.k_a > 0:
            explicit = self._beta(ct) * self.k_a * theta * self.c_n.x.array + self.k_d * h_gamma / (ct + kdr)
            n = self.n_owned  # b wraps self._b's memory: add to the owned entries
            self._b.x.array[:n] += (area * explicit)[:n]
        if self.bcs:
            compat.apply_lifting_and_bc(b, self.a, self.bcs)
        linalg.solve(self.ksp, b, self.c)

        # captured sites and the fluxes of this step (mol/s, this mesh)
        c = self.c.x.array
        if self.k_a > 0:
            adsorption = self.k_a * (c - theta * self.c_n.x.array)
            self.gamma.x.array[:] = np.where(area > 0, (h_gamma + adsorption) / (ct + kdr), 0.0)
            capture = self._sum_owned(area * (adsorption - self.k_d * self.gamma.x.array))
            returned = self._sum_owned(area * self.k_ret * self.gamma.x.array)
        else:
            capture = returned = 0.0
        cv = compat.petsc_vec(self.c)
        robin = summed(k * (load.dot(cv) - self.c_ext * area_s) for k, load, area_s in self.robin)
        generated = s * self.volume_m3 + nodal
        escaped = robin
        if self.has_sink:
            bdf_mass = (a0 * self.mobile() + a1 * self.volume_load.dot(compat.petsc_vec(self.c_n))
                        + a2 * self.volume_load.dot(compat.petsc_vec(self.c_nm1))) / dt
            escaped += generated - robin - capture - bdf_mass
        self.rates = {"escaped": escaped, "returned": returned, "generated": generated, "captured_net": capture}
        self._bdf = (dt, a0, a1, a2)

    def accept(self) -> None:
        """Advance the histories and the ledger accounts (same BDF2 as the fields)."""
        dt, a0, a1, a2 = self._bdf
        for name, (x_n, x_nm1) in self.accounts.items():
            x_new = (dt * self.rates[name] - a1 * x_n - a2 * x_nm1) / a0
            self.accounts[name] = [x_new, x_n]
        for new, n, nm1 in ((self.c, self.c_n, self.c_nm1), (self.gamma, self.gamma_n, self.gamma_nm1)):
            nm1.x.array[:] = n.x.array
            n.x.array[:] = new.x.array

    # -- quantities (collective) ------------------------------------------------------------
    def mobile(self) -> float:
        """int c dV (mol, this mesh)."""
        return self.volume_load.dot(compat.petsc_vec(self.c))

    def captured(self) -> float:
        return self._sum_owned(self.node_area.x.array * self.gamma.x.array)

    def outward_flux(self, out: fem.Function) -> None:
        """O2 leaving the oxide per surface area at each surface node (mol m^-2 s^-1), for
        maps: k (c - c_ext) on escape surfaces, k_a c (1 - Gamma/Gamma_max) - k_d Gamma
        (+ k (c - c_ext)) on RuO2 capture surfaces, weighted by the node's lumped area on
        each surface; 0 inside and on sinks (their flux is a Dirichlet reaction)."""
        if not hasattr(self, "_surface_areas"):  # {name: owned lumped areas}, once
            v = ufl.TestFunction(self.V)
            self._surface_areas = {name: self._vector(self.domain.surface_integral(v, name)).array
                                   for name, s in self.oxygen.surfaces.items() if s.kind != "sink"}
        n = self.n_owned
        c, gamma = self.c.x.array[:n], self.gamma.x.array[:n]
        flow, area = np.zeros(n), np.zeros(n)
        for name, a in self._surface_areas.items():
            surface = self.oxygen.surfaces[name]
            k = surface.rate.si if surface.kind == "escape" else surface.escape_rate.si
            flux = k * (c - self.c_ext)
            if surface.kind == "ruo2_capture" and self.k_a > 0:
                flux = flux + self.k_a * c * (1 - gamma / self.capacity_mol_m2) - self.k_d * gamma
            flow += a * flux
            area += a
        out.x.array[:n] = np.divide(flow, area, out=np.zeros(n), where=area > 0)
        out.x.scatter_forward()

    def extremes(self) -> tuple[float, float]:
        local = self.c.x.array[: self.n_owned]
        lo = local.min() if local.size else np.inf
        hi = local.max() if local.size else -np.inf
        comm = self.domain.comm
        return comm.allreduce(lo, op=MPI.MIN), comm.allreduce(hi, op=MPI.MAX)
