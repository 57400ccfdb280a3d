"""Diffusion-induced stress: small-strain linear elasticity with the chemical eigenstrain
(Omega/3) c_max (theta - theta_0) I, traction-free surface (docs/model.md §2); with an
anisotropic lattice strain, (Omega/3) c_max (theta - theta_0) A with the per-grain tensor
A of solver/physics/anisotropy.py, or from per-axis lattice-strain tables
c_max/c_max,core (E(theta) - E(theta_0)) (docs/secondary-particles.md §1).

    sigma = lambda tr(eps - eps_ch) I + 2 mu (eps - eps_ch),   div sigma = 0

Displacement in P2, so the stress is piecewise linear (DG1) and consistent with the P1
concentration. Rigid-body motion: symmetry planes on the octant, u_r(0) = 0 in 1D, and
for the full sphere the six rigid-body modes as the operator's null space (the eigenstrain
load is self-equilibrated, so the singular system is consistent) and as GAMG's
near-null space. The operator never changes: assembled and set up once.

Affine response (AffineResponse): with the chemical strain linear in theta and the elastic
constants fixed, the displacement and the DG1 stress are an affine function of the site
fraction's dofs, (u, stress) = G (theta - theta_0) + g. On a radial 1D mesh on one
rank, with the isotropic strain (Omega/3) c_max (theta - theta_0) and nothing else (no
lattice tables, no anisotropy, no extra strain such as the oxygen vacancies'), G and g are
built once from n + 1 ordinary solves (theta = theta_0 and theta_0 plus each unit dof
vector) and every later solve is one dense matrix-vector product: the same displacement
and stress as the ordinary solve to round-off (at most ~2e-12 of the largest stress on
the shipped 1D meshes; tests/test_affine_stress.py). Two-way coupling keeps it (the drift changes theta, not
the map theta -> stress).

Damage acting back (fracture.coupling: two_way, solver/simulation/fracture_submodel.py):
`damaged_response`, when set, replaces the solve (linear and affine alike: the degraded
response g(d) sigma+ + sigma- is not linear in theta) by the caller's, which fills `u` and
the DG1 stress; `lagged_inputs` lists the Functions besides theta that the stress then
reads (the damage), so that the state at the reported peak can be solved again.
"""
from __future__ import annotations

import time

import numpy as np
import ufl
from dolfinx import fem
from petsc4py import PETSc

from meshes.markers import CELL_TAGS, FACET_TAGS
from solver import compat
from solver.numerics import collectives, linalg, pmultigrid
from solver.numerics.linalg import NodalAverage
from solver.physics.domain import Domain
from solver.physics.materials import MaterialFields
from solver.numerics.warm_start import ProjectionGuess

# Voigt order of the six stress components stored per DG1 node
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
REGION_NAMES = {tag: name for name, tag in CELL_TAGS.items()}
# AffineResponse: the largest dense map (entries: (P2 + DG1 Voigt dofs) x P1 dofs) built;
# 2^21 doubles = 16 MB, a radial mesh of ~500 vertices (the shipped ones have 34-68)
AFFINE_MAX_ENTRIES = 2 ** 21
# AffineResponse: the check of the built map at a generic theta against an ordinary solve,
# relative to that solve's largest value (round-off is ~1e-14)
AFFINE_CHECK_RTOL = 1e-9


def rigid_body_modes(V) -> tuple[PETSc.NullSpace, list]:
    """Three translations and three rotations of a 3D vector P-k space, orthonormalised.
    Returns the null space and the Functions whose memory its vectors wrap (keep them)."""
    index_map = V.dofmap.index_map
    bs = V.dofmap.index_map_bs
    n_local = index_map.size_local
    owners = [fem.Function(V) for _ in range(6)]
    x = V.tabulate_dof_coordinates()[:n_local]
    for i in range(3):  # translations
        owners[i].x.array[i:n_local * bs:bs] = 1.0
    for k, a, b in ((3, 0, 1), (4, 1, 2), (5, 2, 0)):  # rotation in the (a, b) plane
        owners[k].x.array[a:n_local * bs:bs] = -x[:, b]
        owners[k].x.array[b:n_local * bs:bs] = x[:, a]
    for f in owners:
        f.x.scatter_forward()
    compat.orthonormalize(owners)
    vecs = [compat.petsc_vec(f) for f in owners]
    return PETSc.NullSpace().create(vectors=vecs, comm=V.mesh.comm), owners


class Mechanics:
    """P2 elasticity for a concentration field `theta`; `solve()` after theta changes.

    3D: CG with two-level p-multigrid (P2 smoothed, AMG on the rediscretised P1 problem;
    solver/numerics/pmultigrid.py) unless the options choose another `pc_type`, and each solve
    starts from the projection onto the last `warm_start_vectors` solutions
    (solver/numerics/warm_start.py; 0 = zero initial guess). 1D: direct."""

    # the affine response where it is exact (module docstring); False: always the ordinary solve
    use_affine_response = True

    def __init__(self, domain: Domain, materials: MaterialFields, theta, theta_ref: float,
                 petsc_options: dict | None = None, warm_start_vectors: int = 8,
                 eigenstrain_shape=None, volume_change=None, extra_strain=None, lattice_strain=None):
        msh = domain.msh
        # the conditions under which theta -> (u, stress) is affine and one dense map holds it
        self._affine_exact = (domain.radial and domain.comm.size == 1 and isinstance(theta, fem.Function)
                              and eigenstrain_shape is None and lattice_strain is None
                              and volume_change is None and extra_strain is None)
        self._theta, self._theta_ref = theta, theta_ref
        self._affine = None  # AffineResponse, built at the first solve; False: not used
        self.damaged_response = None  # () -> iterations: replaces the solve (module docstring)
        self.lagged_inputs: list = []  # Functions besides theta the stress reads (module docstring)
        self.domain = domain
        self.V = compat.functionspace(msh, "Lagrange", 2, domain.displacement_shape)
        self.u = fem.Function(self.V, name="displacement")
        lmbda, mu = materials.lmbda, materials.mu
        omega = materials.partial_molar_volume
        eps = domain.strain
        theta_ref = compat.constant(msh, theta_ref)
        if volume_change is None:  # linear in the Li content: Omega / 3 c_max (theta - theta_ref)
            self.chemical_strain = omega / 3 * materials.site_concentration() * (theta - theta_ref)
        else:  # the lattice's measured dV/V(theta), scaled by the local share of Li sites
            self.chemical_strain = (materials.site_concentration() / materials.c_max_core_constant
                                    * (volume_change(theta) - volume_change(theta_ref)) / 3)
        if extra_strain is not None:  # e.g. the oxygen vacancies' Omega_v v / 3 (solver/physics/vacancies.py)
            self.chemical_strain = self.chemical_strain + extra_strain
        bulk_3K = 3 * lmbda + 2 * mu

        # sigma = s I + 2 mu eps with the scalar s = lambda tr(eps) - 3K eps_ch, written with
        # s rather than tensor products with the identity: the same values, a smaller UFL
        # expression (each form and Expression is hashed whole at every JIT cache lookup)
        def isotropic(strain, chemical=0):
            return lmbda * ufl.tr(strain) - bulk_3K * chemical

        def elastic_form(V):  # sigma_elastic(eps(u)) : eps(v)
            eu, ev = eps(ufl.TrialFunction(V)), eps(ufl.TestFunction(V))
            return fem.form(domain.volume_integral(isotropic(eu) * ufl.tr(ev) + 2 * mu * ufl.inner(eu, ev)))

        v = ufl.TestFunction(self.V)
        self._elastic_form = elastic_form
        strain = eps(self.u, pointwise=True)
        if eigenstrain_shape is None and lattice_strain is None:  # isotropic: eps* = chemical_strain I
            self.L = fem.form(domain.volume_integral(bulk_3K * self.chemical_strain * ufl.tr(eps(v))))
            s = isotropic(strain, self.chemical_strain)
            self.eigenstrain = self.chemical_strain  # the scalar e of eps* = e I (UFL)
            stress_voigt = [(s if i == j else 0) + 2 * mu * strain[i, j] for i, j in VOIGT]
        else:  # eps* = chemical_strain A, A a 3x3 tensor (solver/physics/anisotropy.py)
            if lattice_strain is None:
                eps_star = self.chemical_strain * eigenstrain_shape
            else:  # per-axis tables: E(theta) - E(theta_ref) in the core, scaled by the Li sites
                eps_star = (materials.site_concentration() / materials.c_max_core_constant
                            * (lattice_strain(theta) - lattice_strain(theta_ref))
                            + (0 if extra_strain is None else extra_strain) * ufl.Identity(3))
            self.L = fem.form(domain.volume_integral(
                lmbda * ufl.tr(eps_star) * ufl.tr(eps(v)) + 2 * mu * ufl.inner(eps_star, eps(v))))
            s = isotropic(strain) - lmbda * ufl.tr(eps_star)
            self.eigenstrain = eps_star  # the 3x3 tensor eps* (UFL)
            stress_voigt = [(s if i == j else 0) + 2 * mu * (strain[i, j] - eps_star[i, j])
                            for i, j in VOIGT]

        self.bcs = self._rigid_body_constraints(self.V)
        start = time.perf_counter()
        self.A = compat.assemble_matrix(self._elastic_form(self.V), self.bcs)
        # wall seconds: P2 matrix assembly, preconditioner set-up (coarse level included)
        self.timings = {"assembly_s": time.perf_counter() - start}
        start = time.perf_counter()
        self._guess = None
        if domain.radial:
            self.ksp = linalg.make_ksp(domain.comm, "elasticity", linalg.direct_options(domain.comm))
        else:
            options = {**linalg.ELASTICITY_3D, **(petsc_options or {})}
            self.ksp = linalg.make_ksp(domain.comm, "elasticity", options)
            modes, self._mode_functions = rigid_body_modes(self.V)
            self.A.setNearNullSpace(modes)
            if domain.free_floating:
                self.A.setNullSpace(modes)
            self._modes = modes
            if options.get("pc_type") == "mg":
                self._setup_p_multigrid()
            if warm_start_vectors > 0:
                null_space = modes if domain.free_floating else None
                self._guess = ProjectionGuess(self.A, warm_start_vectors, null_space)
        self.ksp.setOperators(self.A)
        self.ksp.setFromOptions()  # again, now that the multigrid levels exist
        self.ksp.setUp()
        self._free_options()
        self.timings["setup_s"] = time.perf_counter() - start
        self._b = fem.Function(self.V)

        # stress components at the DG1 nodes
        self.S = compat.functionspace(msh, "DG", 1, (6,))
        self.stress_components = fem.Function(self.S, name="stress_voigt")
        self._stress_expr = fem.Expression(
            ufl.as_vector(stress_voigt),
            compat.interpolation_points(self.S),
        )
        self._interpolate_stress = compat.expression_interpolator(self.stress_components, self._stress_expr)
        n_owned = self.S.dofmap.index_map.size_local
        self.all_node_points = self.S.tabulate_dof_coordinates()
        self.node_points = self.all_node_points[:n_owned]
        self.node_radius_m = domain.point_radii(self.node_points)
        self.node_region = self._node_regions(n_owned)
        self._averages = None  # per-region vertex averages for the peak (_vertex_averages)
        # radial with the isotropic eigenstrain: the stress is diag(sigma_r, sigma_t, sigma_t)
        # (the strain diag(u', u/r, u/r)), its shear components exactly 0 and the two hoop
        # components the same expression, so von Mises is |sigma_r - sigma_t| bit for bit
        self._radial_isotropic = domain.radial and eigenstrain_shape is None and lattice_strain is None
        self._all_cells = None  # vertex averages over every cell, for the files (averaged_von_mises)
        self.iterations = 0

    def destroy(self) -> None:
        """Free the PETSc objects now (solver, matrices, warm-start vectors) rather than
        whenever the garbage collector gets to them."""
        if self._guess is not None:
            self._guess.destroy()
        for obj in (self.ksp, self.A, *getattr(self, "_coarse_petsc", ())):
            obj.destroy()

    def _free_options(self) -> None:
        """The set-up has read every option (multigrid levels included): free this
        solver's entries of PETSc's options database, which holds few per process (see
        linalg.make_ksp), unless a `*view*` option is to be read after the solves."""
        opts = PETSc.Options()
        prefix = self.ksp.getOptionsPrefix()
        keys = [key for key in opts.getAll() if key.startswith(prefix)]
        if not any("view" in key for key in keys):
            for key in keys:
                opts.delValue(key)

    def _setup_p_multigrid(self) -> None:
        """Coarse level: P1 on the same mesh with the same constraints and rigid-body
        (near-)null space; transfer: the P1 -> P2 interpolation."""
        V1 = compat.functionspace(self.domain.msh, "Lagrange", 1, self.domain.displacement_shape)
        bcs1 = self._rigid_body_constraints(V1)
        A1 = compat.assemble_matrix(self._elastic_form(V1), bcs1)
        modes1, functions1 = rigid_body_modes(V1)
        A1.setNearNullSpace(modes1)
        if self.domain.free_floating:
            A1.setNullSpace(modes1)
        free = fem.Function(V1)  # 1, and 0 on the constrained dofs
        free.x.array[:] = 1.0
        compat.set_bc(compat.petsc_vec(free), bcs1)
        P = pmultigrid.interpolation_matrix(V1, self.V, compat.petsc_vec(free))
        self._coarse_petsc = (A1, modes1, P)  # keep alive with the KSP
        self._coarse_functions = (V1, functions1)
        pmultigrid.configure(self.ksp, P, A1)

    def _rigid_body_constraints(self, V):
        d = self.domain
        fdim = d.msh.topology.dim - 1
        if d.radial:
            centre = d.facet_tags.find(FACET_TAGS["centre"])
            dofs = fem.locate_dofs_topological(V, fdim, centre)
            return [fem.dirichletbc(PETSc.ScalarType(0.0), dofs, V)]
        if d.shape == "octant":
            bcs = []
            for axis, name in enumerate(("symmetry_x", "symmetry_y", "symmetry_z")):
                facets = d.facet_tags.find(FACET_TAGS[name])
                Vi = V.sub(axis)
                dofs = fem.locate_dofs_topological(Vi, fdim, facets)
                bcs.append(fem.dirichletbc(PETSc.ScalarType(0.0), dofs, Vi))
            return bcs
        return []

    def _node_regions(self, n_owned: int) -> np.ndarray:
        """Region name index (into CELL_TAGS order) of the cell owning each DG1 node."""
        tdim = self.domain.msh.topology.dim
        tag_of_cell = np.zeros(self.domain.msh.topology.index_map(tdim).size_local
                               + self.domain.msh.topology.index_map(tdim).num_ghosts, dtype=np.int32)
        tag_of_cell[self.domain.cell_tags.indices] = self.domain.cell_tags.values
        cell_dofs = compat.cell_dofs(self.S)
        region = np.zeros(cell_dofs.size, dtype=np.int32)
        region[cell_dofs.ravel()] = np.repeat(tag_of_cell[: cell_dofs.shape[0]], cell_dofs.shape[1])
        return region[:n_owned]

    @property
    def affine_response_used(self) -> bool:
        """Whether the solves are the affine response's matrix-vector products."""
        return bool(self._affine)

    def solve(self) -> int:
        """u and the DG1 stress for the current theta; returns the Krylov iterations (a
        direct solve's count, the same at every solve, for the affine response)."""
        if self.damaged_response is not None:  # not linear: no affine map either
            return self.damaged_response()
        if self._affine is None:
            self._affine = (self.use_affine_response and self._affine_exact
                            and AffineResponse.build(self)) or False
        if self._affine:
            self._affine.apply()
            return self.iterations
        return self.solve_linear_system()

    def solve_linear_system(self) -> int:
        """The ordinary solve: assemble the load, solve, interpolate the stress to DG1."""
        b = compat.petsc_vec(self._b)
        compat.assemble_vector_into(b, self.L)
        if self.bcs:  # homogeneous Dirichlet values: no lifting needed
            compat.set_bc(b, self.bcs)
        if self.domain.free_floating:
            self._modes.remove(b)
        x = compat.petsc_vec(self.u)
        if self._guess is not None:
            self.ksp.setInitialGuessNonzero(self._guess.guess(b, x))
        self.iterations = linalg.solve(self.ksp, b, self.u)
        if self.domain.free_floating:  # the displacement orthogonal to rigid motions
            self._modes.remove(x)
            self.u.x.scatter_forward()
        if self._guess is not None:
            self._guess.add(x)
        self._interpolate_stress()
        return self.iterations

    # -- stress measures ----------------------------------------------------------------
    def _tensors(self, count: int) -> np.ndarray:
        return voigt_tensors(self.stress_components.x.array.reshape(-1, 6)[:count])

    def stress_measures(self, all_local: bool = False) -> dict[str, np.ndarray]:
        """von Mises, hydrostatic, radial, hoop and largest principal stress (Pa) at the
        owned DG1 nodes (or all local ones, ghosts included). Hoop = mean of the two
        tangential normal stresses."""
        points = self.all_node_points if all_local else self.node_points
        n_owned = len(points)
        S = self._tensors(n_owned)
        trace = np.trace(S, axis1=1, axis2=2)
        n = self.domain.radial_directions(points)
        radial = np.einsum("ni,nij,nj->n", n, S, n)
        return {
            "sigma_vm_Pa": von_mises(self.stress_components.x.array.reshape(-1, 6)[:n_owned]),
            "sigma_h_Pa": trace / 3,
            "sigma_r_Pa": radial,
            "sigma_t_Pa": (trace - radial) / 2,
            "sigma_1_Pa": np.linalg.eigvalsh(S)[:, -1] if n_owned else np.zeros(0),
        }

    def _vertex_averages(self) -> list:
        """(region tag, NodalAverage over the owned cells of that region) for every region
        of the particle, and the P1 work Function; built at first use (collective)."""
        if self._averages is None:
            msh, tags = self.domain.msh, self.domain.cell_tags
            owned = msh.topology.index_map(msh.topology.dim).size_local
            tag_of_cell = np.zeros(owned, dtype=np.int32)
            mine = tags.indices < owned
            tag_of_cell[tags.indices[mine]] = tags.values[mine]
            V1 = compat.functionspace(msh, "Lagrange", 1)
            self._average_out = fem.Function(V1)
            n1 = V1.dofmap.index_map.size_local
            self._vertex_radius_m = self.domain.point_radii(V1.tabulate_dof_coordinates()[:n1])
            self._averages = [(CELL_TAGS[name], NodalAverage(V1, self.S, np.flatnonzero(tag_of_cell == CELL_TAGS[name])))
                              for name in self.domain.regions_present()]
        return self._averages

    def averaged_von_mises(self, out) -> None:
        """out (P1) <- von Mises of the stress tensor averaged at each vertex over all its
        cells, for the field files: >= 0, and at most the reported peak (von Mises is
        convex, so that of an average of the regions' averages is at most their largest)."""
        if self._all_cells is None:
            self._all_cells = NodalAverage(out.function_space, self.S)
        comps = self.stress_components.x.array.reshape(-1, 6)
        averaged = np.empty((out.x.array.size, 6))
        for k in range(6):
            self._all_cells.average(comps[:, k], out)
            averaged[:, k] = out.x.array
        out.x.array[:] = von_mises(averaged)

    def peak_von_mises(self) -> dict:
        """Largest von Mises stress over the particle with its radius and region
        (collective; the same on every rank).

        Taken from the recovered stress: at each vertex the DG1 stress tensor averaged over
        the cells of one region around it (simple averaging, Zienkiewicz & Zhu 1987; a
        vertex on a region interface has one value per side, so a jump across a material
        interface is kept), then von Mises of the average. Not the largest DG1 node: in
        3D each vertex has tens of cells whose linear stresses scatter about the exact
        value by O(h^2 eps*''), and the largest of them overshoots where the eigenstrain
        curves inside an element (the erfc layer: +7 % on a 4 nm octant mesh, +27 % on
        the Ru-1 octant's 1.5 nm mesh; docs/fidelity.md, Limits); the 1D mesh has two
        cells per vertex and barely changes."""
        comps = self.stress_components.x.array.reshape(-1, 6)
        if self._radial_isotropic:  # sigma_r and sigma_t only (the vertex averages of each column are the same)
            comps = comps[:, :2]
        local = (-1.0, 0.0, 0)
        averages = self._vertex_averages()
        n = len(self._vertex_radius_m)
        for tag, average in averages:
            averaged = average.average_columns(comps, self._average_out)[:n]
            vm = np.abs(averaged[:, 0] - averaged[:, 1]) if self._radial_isotropic else von_mises(averaged)
            if not average.everywhere:
                vm[~average.touched[:n]] = -1.0
            i = int(np.argmax(vm)) if vm.size else 0
            if vm.size and vm[i] > local[0]:
                local = (float(vm[i]), float(self._vertex_radius_m[i]), tag)
        all_peaks = collectives.allgather(self.domain.comm)(local)
        value, radius, tag = max(all_peaks, key=lambda p: (p[0], -p[1]))
        return {"value_Pa": value, "radius_m": radius, "region": REGION_NAMES.get(tag, "unknown"),
                "location": self.domain.describe_radius(radius)}


class AffineResponse:
    """theta -> (u, stress) as one dense affine map (module docstring): column j is the
    ordinary solve's response to theta_0 plus the unit vector of dof j less its response
    to theta = theta_0 (~0: a uniform eigenstrain is stress-free), which is the constant g;
    the map is applied to theta - theta_0, so that no large constant cancels (a constant
    G theta_0 - g would carry the round-off of the uniform expansion ~40 times). Built only
    where the map is exact (Mechanics._affine_exact) and, as a guard, checked at a generic
    theta against an ordinary solve. Rows that are equal (the zero shear stresses of the
    radial mesh, its two equal hoop stresses) are stored once."""

    def __init__(self, mech: Mechanics, G: np.ndarray, g: np.ndarray):
        self.theta, self.u, self.stress = mech._theta.x.array, mech.u.x.array, mech.stress_components.x.array
        self.theta_ref = mech._theta_ref
        full = np.column_stack([G, g])
        first: dict[bytes, int] = {}  # each distinct row (its bytes) -> its index among them
        inverse = np.array([first.setdefault(row.tobytes(), len(first)) for row in full])
        distinct = np.empty((len(first), full.shape[1]))
        distinct[inverse] = full  # equal rows write the same bytes
        self.G, self.g = np.ascontiguousarray(distinct[:, :-1]), distinct[:, -1].copy()
        self.to_u, self.to_stress = inverse[: self.u.size], inverse[self.u.size:]

    @classmethod
    def build(cls, mech: Mechanics) -> AffineResponse | None:
        """From n + 2 ordinary solves of `mech`; None if the map would exceed
        AFFINE_MAX_ENTRIES or fails the check. theta, u and the stress are left as they were."""
        theta, u, stress = mech._theta.x.array, mech.u.x.array, mech.stress_components.x.array
        n, n_u = theta.size, u.size
        if (n_u + stress.size) * n > AFFINE_MAX_ENTRIES:
            return None
        saved = [a.copy() for a in (theta, u, stress)]

        def response(values) -> np.ndarray:
            theta[:] = values
            mech.solve_linear_system()
            return np.concatenate([u, stress])

        reference = np.full(n, float(mech._theta_ref))
        g = response(reference)
        G = np.empty((g.size, n))
        for j in range(n):
            shifted = reference.copy()
            shifted[j] += 1.0
            G[:, j] = response(shifted) - g
        affine = cls(mech, G, g)
        probe = np.random.default_rng(0).uniform(0.0, 1.0, n)  # a generic theta in [0, 1]
        direct = response(probe)
        affine.apply()
        # compared per part: u (m) and the stress (Pa) differ by ~1e15 in scale
        exact = all(np.abs(a - d).max() <= AFFINE_CHECK_RTOL * max(np.abs(d).max(), 1e-300)
                    for a, d in ((u, direct[:n_u]), (stress, direct[n_u:])))
        for a, values in zip((theta, u, stress), saved):
            a[:] = values
        return affine if exact else None

    def apply(self) -> None:
        """u and the stress <- the response to the current theta (einsum: a third of the
        time of the reference BLAS's matrix-vector product)."""
        y = np.einsum("ij,j->i", self.G, self.theta - self.theta_ref)
        y += self.g
        self.u[:] = y[self.to_u]
        self.stress[:] = y[self.to_stress]


def von_mises(s: np.ndarray) -> np.ndarray:
    """von Mises stress of (n, 6) Voigt rows (VOIGT order): sqrt(3/2 dev:dev) written
    with the normal stress differences, sqrt(((s11 - s22)^2 + (s22 - s33)^2 + (s33 - s11)^2) / 2
    + 3 (s23^2 + s13^2 + s12^2)), without the 3x3 tensors (a third of the cost)."""
    normal = 0.5 * ((s[:, 0] - s[:, 1]) ** 2 + (s[:, 1] - s[:, 2]) ** 2 + (s[:, 2] - s[:, 0]) ** 2)
    return np.sqrt(normal + 3 * (s[:, 3] ** 2 + s[:, 4] ** 2 + s[:, 5] ** 2))


def voigt_tensors(s: np.ndarray) -> np.ndarray:
    """(n, 3, 3) symmetric tensors from (n, 6) Voigt rows (VOIGT order)."""
    S = np.empty((len(s), 3, 3))
    for k, (i, j) in enumerate(VOIGT):
        S[:, i, j] = s[:, k]
        S[:, j, i] = s[:, k]
    return S
