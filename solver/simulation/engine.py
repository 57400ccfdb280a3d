"""The one time loop of every run.

The step size is set by the Li+ transport while its protocol runs (`ChemoMechanics`:
adaptive steps, rejections, steps landing on events and output times); when there is
no Li, or after its protocol has ended, by a fixed schedule (each output interval cut
into equal steps no longer than the submodels' time step). Every submodel
(solver/simulation/submodel.py, e.g. O2 transport) is advanced with each accepted step,
with the same step length and its own variable-step BDF2, up to its own end time.
One output schedule, one checkpoint state, one progress: the run's life cycle
(solver/simulation/lifecycle.py) sees one simulation, this one. No file is written here.
"""
from __future__ import annotations

import math

from solver.case.schema import Case
from solver.physics.domain import Domain
from solver.simulation.chemomechanics import bdf_coefficients

OUTPUT_TOLERANCE = 1e-9  # relative: a time this close to an output time is that output


class FixedSchedule:
    """From `start_s` to `end_s`: each interval between output times cut into equal
    steps no longer than `max_step_s` (the last step ends exactly on the output time)."""

    def __init__(self, start_s: float, end_s: float, output_times: list[float], max_step_s: float):
        self.outputs = [t for t in output_times if t <= end_s * (1 + 1e-12)]
        self.targets = sorted({t for t in self.outputs if t > start_s} | {end_s})
        self.max_step_s = max_step_s
        self.clock = {"t": start_s, "interval": 0, "interval_start": start_s, "step": 0}

    def done(self) -> bool:
        return self.clock["interval"] >= len(self.targets)

    def next_step(self) -> tuple[float, float, bool]:
        """(t_new, dt, last step of the interval) of the next step."""
        c = self.clock
        target, t0 = self.targets[c["interval"]], c["interval_start"]
        n = max(1, math.ceil((target - t0) / self.max_step_s - 1e-9))
        dt = (target - t0) / n
        last = c["step"] == n - 1
        return (target if last else c["t"] + dt), dt, last

    def accept(self, t_new: float, last: bool) -> None:
        c = self.clock
        c.update(t=t_new, step=c["step"] + 1)
        if last:
            c.update(interval=c["interval"] + 1, interval_start=t_new, step=0)

    def is_output(self, t: float) -> bool:
        return any(abs(t - o) <= OUTPUT_TOLERANCE * max(1.0, o) for o in self.outputs)


class Engine:
    """A run's physics: the Li+ transport with its mechanics (`lithium`, a
    `ChemoMechanics`, or None) and the submodels stepped with it. `run` is the loop."""

    def __init__(self, case: Case, domain: Domain, lithium=None, submodels=()):
        self.case, self.domain = case, domain
        self.lithium = lithium
        self.submodels = list(submodels)
        self.output_fields = {**(lithium.output_fields if lithium is not None else {})}
        for m in self.submodels:
            self.output_fields.update(m.output_fields)
        self.t = 0.0
        self.started = False
        self.schedule: FixedSchedule | None = None
        self.dt_previous: dict[str, float | None] = {m.name: None for m in self.submodels}

    # -- the loop ---------------------------------------------------------------------------
    @property
    def end_time_s(self) -> float:
        """The latest end: the protocol's and every submodel's that does not just
        follow the Li protocol (`follows_lead`)."""
        ends = [m.end_time_s for m in self._scheduled()]
        if self.lithium is not None:
            ends.append(self.lithium.protocol.end_time_s)
        return max(ends)

    def done(self) -> bool:
        """Nothing left to step (a restart from the end, say)."""
        if self.lithium is not None and not self.lithium.done():
            return False
        if self.schedule is not None:
            return self.schedule.done()
        scheduled = self._scheduled()
        return not scheduled or self.t >= max(m.end_time_s for m in scheduled) * (1 - 1e-12)

    def _scheduled(self) -> list:
        """The submodels stepped on their own once the Li protocol has ended."""
        return [m for m in self.submodels if not getattr(m, "follows_lead", False)]

    def run(self, observer=None, progress=None, checkpoint=None, project_fields: bool = True,
            subject=None) -> dict:
        """From 0 or from the state given to `restore`: `observer(t, subject)` at every
        output time, `progress(t)` and then `checkpoint(subject)` after every accepted
        step (`checkpoint` may save `state()` and raise to stop the run there);
        `subject` is this engine unless given."""
        subject = self if subject is None else subject
        observe = None if observer is None else (lambda t, _sim: observer(t, subject))
        li = self.lithium
        if li is not None:
            li.begin(observe, project_fields)
            self.started = True
            while not li.done():
                t0 = li.t
                li.advance()
                self._step_submodels(t0, li.t, li)
                self.t = li.t
                li.observe_step(observe)
                self._after_step(progress, checkpoint, subject)
            li.finish()
        if self._scheduled() and self.schedule is None and self.t < self.end_time_s:
            step = min(m.time_step_s for m in self._scheduled())
            self.schedule = FixedSchedule(self.t, self.end_time_s, self.case.output_times_s(), step)
            if not self.started and observe is not None and self.schedule.outputs[:1] == [0.0]:
                observe(0.0, self)
            self.started = True
        while self.schedule is not None and not self.schedule.done():
            t_new, _, last = self.schedule.next_step()
            t0 = self.t
            self._step_submodels(t0, t_new, None)
            self.schedule.accept(t_new, last)
            self.t = t_new
            if last and observe is not None and self.schedule.is_output(t_new):
                observe(t_new, self)
            self._after_step(progress, checkpoint, subject)
        return self.results()

    def _step_submodels(self, t0: float, t_new: float, lead) -> None:
        """Each submodel from t0 to t_new (or to its own end time, if that is sooner)."""
        stepped = []
        for m in self.submodels if lead is not None else self._scheduled():
            end = m.end_time_s
            if t0 >= end * (1 - 1e-12):
                continue
            t_m = min(t_new, end)
            dt = t_m - t0
            m.step(t_m, dt, bdf_coefficients(dt, self.dt_previous[m.name]), lead)
            stepped.append((m, dt))
        # all stepped first, then accepted last to first: a submodel feeds the ones listed
        # after it, and its accept may read their accepted state (the oxygen ledger)
        for m, dt in reversed(stepped):
            m.accept()
            self.dt_previous[m.name] = dt

    @staticmethod
    def _after_step(progress, checkpoint, subject) -> None:
        if progress is not None:
            progress(subject.t)
        if checkpoint is not None:
            checkpoint(subject)

    # -- what the outputs read (collective) -------------------------------------------------
    def scalars(self, t: float) -> dict:
        row = self.lithium.scalars(t) if self.lithium is not None else {"t_s": t}
        for m in self.submodels:
            row.update(m.scalars(t))
        return row

    def results(self) -> dict:
        out = self.lithium.results() if self.lithium is not None else {}
        for m in self.submodels:
            out.update(m.results())
        return out

    def update_output_fields(self) -> None:
        """The submodels' derived fields (the Li fields are projected at each output)."""
        for m in self.submodels:
            m.update_output_fields()

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """(JSON-able scalars, owned dof arrays): the Li state under its own names, each
        submodel's under "<name>.<array>"; `restore` continues the loop from it."""
        scalars = {"t_s": self.t, "started": self.started, "dt_previous": dict(self.dt_previous),
                   "schedule": None if self.schedule is None else
                   {"clock": dict(self.schedule.clock), "targets": self.schedule.targets,
                    "outputs": self.schedule.outputs, "max_step_s": self.schedule.max_step_s},
                   "submodels": {}}
        arrays = {}
        if self.lithium is not None:
            scalars["lithium"], arrays = self.lithium.state()
        for m in self.submodels:
            s, a = m.state()
            scalars["submodels"][m.name] = s
            arrays.update({f"{m.name}.{k}": v for k, v in a.items()})
        return scalars, arrays

    def restore(self, scalars: dict, arrays: dict) -> None:
        self.t, self.started = scalars["t_s"], scalars["started"]
        self.dt_previous = dict(scalars["dt_previous"])
        saved = scalars["schedule"]
        if saved is not None:
            self.schedule = FixedSchedule(0.0, 1.0, [], saved["max_step_s"])
            self.schedule.outputs, self.schedule.targets = list(saved["outputs"]), list(saved["targets"])
            self.schedule.clock = dict(saved["clock"])
        if self.lithium is not None:
            self.lithium.restore(scalars["lithium"], arrays)
        for m in self.submodels:
            prefix = f"{m.name}."
            m.restore(scalars["submodels"][m.name],
                      {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})


__all__ = ["Engine", "FixedSchedule"]
