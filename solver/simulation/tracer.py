"""An example submodel (solver/simulation/submodel.py): a tracer u that relaxes to the
Li site fraction θ at rate k, du/dt = k (θ - u), node by node in θ's space, BDF2 alike.
It reads the Li state and owns its field, checkpoint arrays, columns and results. To put
it in runs, list it in `submodels_of_case` (solver/simulation/run.py): the one place."""
from __future__ import annotations

from solver.simulation.submodel import NodalSubmodel


class RelaxingTracer(NodalSubmodel):
    name, profile_columns = "tracer", ("u_tracer",)

    def __init__(self, theta, rate_1_s: float, end_time_s: float, time_step_s: float):
        self.theta, self.k, self.end_time_s, self.time_step_s = theta, rate_1_s, end_time_s, time_step_s
        self.u, self.u_n, self.u_nm1 = self.histories(theta.function_space, "u_tracer", theta.x.array)
        self.output_fields = {"u_tracer": self.u}

    def step(self, t_new, dt, bdf, lead=None):  # a0 u + a1 u_n + a2 u_nm1 = dt k (θ - u)
        a0, a1, a2 = bdf
        self.u.x.array[:] = (dt * self.k * self.theta.x.array - a1 * self.u_n.x.array
                             - a2 * self.u_nm1.x.array) / (a0 + dt * self.k)

    def scalars(self, t):
        return {"u_tracer_max": self.global_max(self.u)}
