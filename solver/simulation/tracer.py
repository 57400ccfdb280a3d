"""An example submodel (solver/simulation/submodel.py): a tracer u that relaxes to the
Li site fraction θ at rate k, du/dt = k (θ - u), node by node in θ's space, BDF2 alike.
It reads the Li state and owns its field, checkpoint arrays, columns and results. To put
it in runs, list it in `submodels_of_case` (solver/simulation/run.py): the one place."""
from __future__ import annotations

from dolfinx import fem
from mpi4py import MPI


class RelaxingTracer:
    name, profile_columns = "tracer", ("u_tracer",)

    def __init__(self, theta: fem.Function, rate_1_s: float, end_time_s: float, time_step_s: float):
        self.theta, self.k, self.end_time_s, self.time_step_s = theta, rate_1_s, end_time_s, time_step_s
        self.u, self.u_n, self.u_nm1 = (fem.Function(theta.function_space, name="u_tracer") for _ in range(3))
        for f in (self.u, self.u_n, self.u_nm1):
            f.x.array[:] = theta.x.array
        self.output_fields, self.steps = {"u_tracer": self.u}, 0
        self.n = theta.function_space.dofmap.index_map.size_local

    def step(self, t_new, dt, bdf, lead=None):  # a0 u + a1 u_n + a2 u_nm1 = dt k (θ - u)
        a0, a1, a2 = bdf
        self.u.x.array[:] = (dt * self.k * self.theta.x.array - a1 * self.u_n.x.array
                             - a2 * self.u_nm1.x.array) / (a0 + dt * self.k)

    def accept(self):
        self.u_nm1.x.array[:], self.u_n.x.array[:] = self.u_n.x.array, self.u.x.array
        self.steps += 1

    def reject(self):
        self.u.x.array[:] = self.u_n.x.array

    def state(self):
        return {"steps": self.steps}, {"u_n": self.u_n.x.array[:self.n].copy(), "u_nm1": self.u_nm1.x.array[:self.n].copy()}

    def restore(self, scalars, arrays):
        for name, f in (("u_n", self.u_n), ("u_nm1", self.u_nm1), ("u_n", self.u)):
            f.x.array[:self.n] = arrays[name]
            f.x.scatter_forward()
        self.steps = scalars["steps"]

    def scalars(self, t):
        local = float(self.u.x.array[:self.n].max(initial=-1e300))
        return {"u_tracer_max": self.theta.function_space.mesh.comm.allreduce(local, op=MPI.MAX)}

    def ledger(self):
        return {}  # nothing conserved

    def results(self):
        return {"tracer": {"steps": self.steps, **self.scalars(self.end_time_s)}}

    def update_output_fields(self):
        pass
