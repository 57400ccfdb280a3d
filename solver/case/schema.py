"""Case files: the schema, loading, `--set` overrides and readable validation errors.

A case file reads like a methods section: geometry, mesh, materials, protocol, time
stepping, outputs. Every dimensional number is a quantity (`{value, unit, source}` or
"150 nm"); the solver only ever sees SI values (`.si`).
"""
from __future__ import annotations

import copy
import functools
import re
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from solver.case.loading import CaseError, clip, clip_repr, parse_yaml, read_yaml_file
from solver.case.oxygen import Oxygen
from solver.case.oxygen_redox import OxygenRedox
from solver.case.fracture import Fracture
from solver.case.grains import Grains
from solver.case.fitted import FittedParameter
from solver.case.protocol_steps import check_step_voltages, read_steps
from solver.case.electrochemistry import (ChargeTransferCoefficient, ExchangeCurrentDensity,
                                          LithiumDiffusivityFactor, OpenCircuitVoltage, VolumeChange)
from solver.case.units import (  # noqa: F401  (the quantity kinds of case files)
    Quantity,
    dump_quantity,
    quantity,
    Length,
    PositiveLength,
    Time,
    PositiveTime,
    Diffusivity,
    Modulus,
    PoissonRatio,
    MolarVolume,
    Concentration,
    PositiveConcentration,
    Density,
    SpecificCurrent,
    Temperature,
    Fraction,
    OpenFraction,
    PositiveNumber,
    CRate,
    AssignmentChecked,
)

# a case or member name becomes a folder name: a plain file name, no path, no leading dot
PLAIN_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"


class Strict(AssignmentChecked):
    """Unknown keys refused; no coercion (a boolean is not a number, "5" is not an int);
    inf and NaN refused. Assignment is validated too (`case.protocol.c_rate = "2C"`)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True,
                              allow_inf_nan=False, validate_assignment=True)


class Geometry(Strict):
    """Spherical primary particle with concentric regions (docs/model.md §2), or a
    faceted, ellipsoidal or imported one (docs/shapes.md): its size parameters below,
    its `radius` derived as 3 V / A, the Li-deficient layer graded by depth."""

    shape: Literal["radial", "octant", "sphere", "secondary", "ellipsoid", "platelet",
                   "truncated_octahedron", "imported"] = "octant"
    radius: PositiveLength
    layer_thickness: Length = "0 nm"
    coating_thickness: Length = "0 nm"
    semi_axes: Optional[list[PositiveLength]] = Field(
        None, min_length=3, max_length=3, description="ellipsoid: semi-axes a, b, c along x, y, z")
    width: Optional[PositiveLength] = Field(None, description="platelet: hexagon across flats")
    thickness: Optional[PositiveLength] = Field(None, description="platelet: along z")
    edge_length: Optional[PositiveLength] = Field(None, description="truncated_octahedron: edge a")
    file: Optional[str] = Field(None, description="imported: a .step/.stp, .stl or .msh file")
    file_unit: Optional[PositiveLength] = Field(None, description="imported: one file unit (default 1 m)")

    @model_validator(mode="before")
    @classmethod
    def _derive_radius(cls, data):
        """Non-spherical shapes: radius = 3 V / A of the shape (docs/shapes.md)."""
        from solver.case.shape_geometry import derived_radius_entry

        return derived_radius_entry(data)

    @model_validator(mode="after")
    def _shape_parameters_fit(self):
        from solver.case.shape_geometry import check_shape_parameters

        check_shape_parameters(self)
        return self

    @model_validator(mode="after")
    def _shells_fit(self):
        if self.radius.si > 1.0:
            raise ValueError(f"geometry.radius must be <= 1 m (a particle); got {self.radius.short()}")
        shells = self.layer_thickness.si + self.coating_thickness.si
        if shells >= self.radius.si:
            raise ValueError(
                "geometry.layer_thickness + geometry.coating_thickness must be < "
                f"geometry.radius; got {self.layer_thickness.short()} + "
                f"{self.coating_thickness.short()} >= {self.radius.short()}"
            )
        return self


class RadialLayers(Strict):
    """A radially layered outer shell (octant, sphere): `count` element layers across the
    outer `depth` of the particle, under triangles of mesh.surface (meshes/particle.py;
    docs/meshes.md)."""

    count: int = Field(description="element layers across the shell (prisms split into tets)")
    depth: PositiveLength = Field(description="shell depth below the surface; covers the layer "
                                  "and the coating and reaches into the core")


class MeshSizes(Strict):
    """Target element sizes; the builder grades from `surface` to `bulk`. A size left
    out takes the default of the geometry's shape (meshes/particle.py `default_sizes`:
    1D sizes are far finer than 3D ones); docs/meshes.md."""

    surface: Optional[PositiveLength] = None
    bulk: Optional[PositiveLength] = None
    interface: Optional[PositiveLength] = None
    radial_layers: Optional[RadialLayers] = None

    @model_validator(mode="after")
    def _surface_not_coarser(self):
        if self.surface is not None and self.bulk is not None and self.surface.si > self.bulk.si:
            raise ValueError(
                f"mesh.surface must be <= mesh.bulk; got {self.surface.short()} > "
                f"{self.bulk.short()}"
            )
        return self


class CoreMaterial(Strict):
    """Bulk LRMO, or another cathode: `parameter_set` fills every value not given here
    from a published set (solver/case/parameter_sets.py, docs/parameter-sets.md)."""

    parameter_set: Optional[str] = Field(
        None, description="a published parameter set (lrmo_sun2025, nmc811_okane2022, "
        "lco_ai2020); explicit values override it")
    density: Density
    lithium_diffusivity: Diffusivity
    lithium_site_concentration: PositiveConcentration = Field(
        description="Li sites per volume (c_max); c = c_max * site fraction"
    )
    youngs_modulus: Modulus
    poisson_ratio: PoissonRatio
    partial_molar_volume: MolarVolume
    # electrochemistry (solver/case/electrochemistry.py); each may be `from_set`
    open_circuit_voltage: Optional[OpenCircuitVoltage] = Field(
        None, description="U(theta) vs Li/Li+: a table or an expression in x; used by voltage steps")
    exchange_current_density: Optional[ExchangeCurrentDensity] = Field(
        None, description="Butler-Volmer i0 at site fraction 0.5, i0(theta) = i0 2 sqrt(theta (1 - theta))")
    charge_transfer_coefficient: ChargeTransferCoefficient = "0.5"
    lithium_diffusivity_factor: Optional[LithiumDiffusivityFactor] = Field(
        None, description="D(theta) = lithium_diffusivity * factor(theta); left out: constant D")
    volume_change: Optional[VolumeChange] = Field(
        None, description="lattice dV/V against the site fraction (for a later mechanics use)")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_parameter_set(cls, data):
        from solver.case.parameter_sets import fill_core

        return fill_core(data)


class LayerMaterial(Strict):
    """Li-deficient surface layer: fewer Li sites, graded over its thickness; any
    property left out equals the core's."""

    site_deficiency_at_surface: OpenFraction = Field(
        "0", description="1 - c_max(R)/c_max(core)"
    )
    profile: Literal["step", "linear", "erfc", "erfc_continuous"] = Field(
        "linear", description="deficiency shape over the layer (docs/model.md §2): "
        "erfc_continuous is erfc shifted to reach 0 at the inner edge (no jump in c_max)")
    lithium_diffusivity: Optional[Diffusivity] = None
    lithium_diffusivity_profile: Literal["uniform", "graded"] = Field(
        "uniform", description="uniform: the layer's D throughout the layer; graded: log D "
        "follows the site deficiency, the core's D where it is 0, the layer's D where it is "
        "site_deficiency_at_surface")
    youngs_modulus: Optional[Modulus] = None
    poisson_ratio: Optional[PoissonRatio] = None
    partial_molar_volume: Optional[MolarVolume] = None


class CoatingMaterial(Strict):
    """RuO2 shell (mechanics only: it holds no Li)."""

    youngs_modulus: Modulus
    poisson_ratio: PoissonRatio


class Materials(Strict):
    core: CoreMaterial
    layer: LayerMaterial = LayerMaterial()
    coating: Optional[CoatingMaterial] = None


class Lithium(Strict):
    """Li site fractions: start at rest, extract down to the floor."""

    initial_site_fraction: Fraction = "1"
    min_site_fraction: Fraction = "0"

    @model_validator(mode="after")
    def _floor_below_start(self):
        if self.min_site_fraction.si >= self.initial_site_fraction.si:
            raise ValueError(
                "lithium.min_site_fraction must be < lithium.initial_site_fraction; got "
                f"{self.min_site_fraction.si:g} >= {self.initial_site_fraction.si:g}"
            )
        return self


class Mechanics(Strict):
    stress_assisted_diffusion: bool = False
    temperature: Temperature = "298.15 K"
    stress_every_steps: Optional[int] = Field(
        None, ge=1, le=100000,
        description="solve the stress every N accepted steps (always at output times and "
        "at the switch to the hold) and track the peak over the solved steps. Unset: "
        "one-way coupling finds the peak over all steps from the stored site fraction "
        "with few solves (docs/performance.md); two-way coupling solves every step",
    )
    peak_over_time: bool = Field(
        True, description="false: solve the stress only at the output times and at the "
        "switch to the hold (no peak search, no stored site fraction), and report the "
        "peak over those times only; for runs that need the stress at the output times, "
        "e.g. sweeps and fits (one-way coupling without stress_every_steps)",
    )


class Protocol(Strict):
    """The cycling protocol, in one of two forms (docs/case-files.md, "Protocol of steps"):

    - steps in words, as PyBaMM's experiments: `steps: ["Charge at 1C until 4.8 V",
      "Rest for 1 hour"]`, with `{repeat: N, steps: [...]}` blocks and `cycles: N`
      (solver/case/protocol_steps.py reads them);
    - the first charge `kind: galvanostatic_charge` (the default without steps):
      galvanostatic extraction at c_rate, then a hold at the composition floor (docs/model.md
      §3); the whole surface switches to the hold when its lowest site fraction reaches it.

    The solver takes either as steps: `solver.case.protocol_steps.protocol_of(case)`."""

    kind: Optional[Literal["galvanostatic_charge"]] = Field(
        None, description="the first-charge form (the default when there are no steps)")
    c_rate: Optional[CRate] = Field(
        None, description="first-charge form: multiples of the 1C current: 2C, 2, C/3 or 0.5C")
    current_1C: Optional[SpecificCurrent] = Field(
        None, description="mass-specific current of 1C (needed by C-rates)")
    end_time: Optional[PositiveTime] = Field(
        None, description="the protocol ends here at the latest; required in the first-charge "
        "form, optional with steps (they then end with the last step)")
    hold_at_floor: Optional[bool] = Field(
        None, description="first-charge form: hold at lithium.min_site_fraction (default true)")
    steps: Optional[list[Any]] = Field(
        None, max_length=1000, description="step strings ('Charge at 1C until 4.8 V') and "
        "{repeat: N, steps: [...]} blocks")
    cycles: Optional[int] = Field(None, ge=1, le=10000, description="the steps repeat this many times")

    @model_validator(mode="before")
    @classmethod
    def _first_charge_defaults(cls, data):
        if isinstance(data, dict) and data.get("steps") is None:
            defaults = {"kind": "galvanostatic_charge", "hold_at_floor": True}
            return {**data, **{k: v for k, v in defaults.items() if data.get(k) is None}}
        return data

    @model_validator(mode="after")
    def _one_form(self):
        if self.steps is None:
            for key in ("c_rate", "current_1C", "end_time"):
                if getattr(self, key) is None:
                    raise ValueError(
                        f"protocol.{key}: required key is missing (kind: galvanostatic_charge needs "
                        "c_rate, current_1C and end_time; a protocol of steps needs steps: [...])")
            if self.cycles is not None:
                raise ValueError("protocol.cycles: repeats protocol.steps; not with kind: galvanostatic_charge")
            return self
        for key in ("kind", "c_rate", "hold_at_floor"):
            if getattr(self, key) is not None:
                raise ValueError(
                    f"protocol.{key}: belongs to the first charge (kind: galvanostatic_charge), not "
                    "to protocol.steps; write it as steps, e.g. ['Charge at 1C until site fraction "
                    "0.2', 'Hold at site fraction 0.2 for 1 hour']")
        read_steps(self.steps, None if self.current_1C is None else self.current_1C.si, self.cycles)
        return self


class TimeStepping(Strict):
    """BDF2 with a backward-Euler start; the step adapts to the change per step."""

    initial_step: PositiveTime = "0.1 s"
    max_step: PositiveTime = "30 s"
    min_step: PositiveTime = "1e-6 s"
    max_change_per_step: quantity("", gt=0, le=1) = Field(
        "0.01", description="largest site-fraction change allowed in one step"
    )
    max_steps: int = Field(100000, ge=1, description="a run needing more steps fails")

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.min_step.si <= self.initial_step.si <= self.max_step.si):
            raise ValueError(
                "time_stepping: need min_step <= initial_step <= max_step; got "
                f"{self.min_step.short()}, {self.initial_step.short()}, "
                f"{self.max_step.short()}"
            )
        return self


class Solvers(Strict):
    """Extra PETSc options applied to the iterative solvers (3D), e.g.
    {ksp_max_it: 500, ksp_monitor: ""}; the built-in choices are in solver/numerics/linalg.py."""

    petsc_options: dict[str, Any] = Field({}, description="solver/case/petsc_options.py: allowed keys")

    @field_validator("petsc_options")
    @classmethod
    def _allowed(cls, options: dict) -> dict:
        from solver.case.petsc_options import check_petsc_options

        return check_petsc_options(options)


class OutputTimes(Strict):
    values: list[float] = Field(max_length=10000)
    unit: str = "s"

    @field_validator("unit")
    @classmethod
    def _a_time_unit(cls, unit: str) -> str:
        from solver.case.units import check_unit_of

        return check_unit_of(unit, "s", "time, e.g. s or min")


class CheckpointEvery(Strict):
    """How often a run writes a checkpoint for `lrmo run --restart`: every `simulated`
    time or every `wall` (wall-clock) time; exactly one (docs/batch-jobs.md)."""

    simulated: Optional[PositiveTime] = None
    wall: Optional[PositiveTime] = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.simulated is None) == (self.wall is None):
            raise ValueError("give exactly one of simulated or wall, e.g. {wall: 15 min}")
        return self


class Output(Strict):
    times: Optional[OutputTimes] = Field(
        None, description="output times; default: 11 evenly spaced up to end_time"
    )
    count: int = Field(11, ge=2, le=10000)
    interval: Optional[PositiveTime] = Field(
        None, description="output every interval (instead of count); default 60 s for a "
        "protocol of steps without end_time, whose end is not known in advance")
    profile_points: int = Field(101, ge=2, le=100000)
    fields: bool = True
    length_unit: Literal["m", "nm"] = Field(
        "nm", description="unit of the coordinates and lengths in the field files (ParaView; docs/paraview.md)")
    checkpoint_every: Optional[CheckpointEvery] = Field(
        None, description="periodic checkpoints (always one on SIGTERM/SIGINT)")
    dense: bool = Field(
        False, description="dense output: the Li steps set by accuracy and events only, each output "
        "row interpolated within the accepted step that crosses it (BDF2's quadratic) and its stress "
        "solved there, instead of a step landing on every output time (docs/performance.md)")

    @model_validator(mode="after")
    def _times_increasing(self):
        if self.times is not None:
            v = self.times.values
            if not v:
                raise ValueError("output.times.values must not be empty")
            if any(b <= a for a, b in zip(v, v[1:])) or v[0] < 0:
                raise ValueError(
                    f"output.times.values must be >= 0 and strictly increasing; got {clip_repr(v)}"
                )
            if self.interval is not None:
                raise ValueError("output.interval: give output.times or output.interval, not both")
        return self


class Case(Strict):
    name: str = Field(pattern=PLAIN_NAME, description="a plain file name (the default output folder)")
    description: str = ""
    physics: list[Literal["lithium", "mechanics", "oxygen", "oxygen_redox", "fracture"]] = Field(
        ["lithium", "mechanics"], min_length=1)
    geometry: Geometry
    mesh: MeshSizes = MeshSizes()
    materials: Optional[Materials] = Field(None, description="required when physics includes 'lithium'")
    lithium: Lithium = Lithium()
    mechanics: Mechanics = Mechanics()
    protocol: Optional[Protocol] = Field(None, description="required when physics includes 'lithium'")
    oxygen: Optional[Oxygen] = Field(None, description="required when physics includes 'oxygen'")
    oxygen_redox: Optional[OxygenRedox] = Field(
        None, description="required when physics includes 'oxygen_redox' (with lithium and oxygen)")
    fracture: Optional[Fracture] = Field(
        None, description="required when physics includes 'fracture' (AT1 phase field; with lithium and mechanics)")
    grains: Optional[Grains] = Field(None, description="grain orientations, anisotropic lattice strain, secondary particles")
    time_stepping: TimeStepping = TimeStepping()
    solvers: Solvers = Solvers()
    output: Output = Output()
    fitted: dict[str, FittedParameter] = Field(
        default_factory=dict,
        description="fitted parameters: case key path -> target, bracket, fitted value",
    )

    @model_validator(mode="after")
    def _consistent(self):
        if "mechanics" in self.physics and "lithium" not in self.physics:
            raise ValueError("physics: 'mechanics' needs 'lithium' (it is driven by c_Li)")
        if len(set(self.physics)) != len(self.physics):
            raise ValueError(f"physics: entries must be unique; got {self.physics}")
        for section in ("materials", "protocol"):
            if "lithium" in self.physics and getattr(self, section) is None:
                raise ValueError(f"{section}: required key is missing (physics includes 'lithium')")
        self._check_oxygen()
        self._check_oxygen_redox()
        self._check_fracture()
        if (self.geometry.coating_thickness.si > 0 and self.materials is not None
                and self.materials.coating is None):
            raise ValueError(
                "materials.coating is required when geometry.coating_thickness > 0"
            )
        if "lithium" in self.physics and self.geometry.coating_thickness.si > 0:
            raise ValueError(
                "geometry.coating_thickness must be 0 when physics includes 'lithium' "
                "(Li transport through a RuO2 shell is not modelled)"
            )
        if (self.oxygen is not None and self.protocol is not None and self.protocol.end_time is None
                and "oxygen_redox" not in self.physics):
            raise ValueError("protocol.end_time: required when physics includes 'oxygen' (the O2 "
                             "run follows the Li run up to a known end time)")
        self._check_output_end()
        self._check_dense_output()
        self._check_mesh()
        self._check_fitted()
        self._check_step_voltages()
        if self.grains is not None and self.grains.lattice_strain is not None:
            self.grains.lattice_strain.check_window(self.lithium.min_site_fraction.si,
                                                    self.lithium.initial_site_fraction.si)
        return self

    def _check_step_voltages(self) -> None:
        """A voltage in protocol.steps needs the core's open-circuit voltage and kinetics,
        and must lie within the potentials they can reach (protocol_steps.check_step_voltages)."""
        p = self.protocol
        if p is None or p.steps is None or "lithium" not in self.physics:
            return
        core = self.materials.core
        missing = [k for k in ("open_circuit_voltage", "exchange_current_density") if getattr(core, k) is None]
        check_step_voltages(p.steps, None if p.current_1C is None else p.current_1C.si,
                            core.open_circuit_voltage, missing)

    def _check_output_end(self) -> None:
        """Listed output times end by the end time, when the case has one; an output
        interval gives at most MAX_OUTPUTS times up to it."""
        end_s = self.end_time_s()
        if end_s is None:
            return
        interval = self.output.interval
        if self.output.times is None and interval is not None and end_s / interval.si > MAX_OUTPUTS:
            raise ValueError(f"output.interval: {interval.short()} gives more than {MAX_OUTPUTS} "
                             f"outputs up to the end time ({end_s:g} s)")
        if self.output.times is not None and self.output.times.values:
            last_s = self.output_times_s()[-1]
            end_key = "protocol.end_time" if self.protocol is not None else "oxygen.end_time"
            if not last_s <= end_s * (1 + 1e-12):
                raise ValueError(
                    f"output.times.values must not exceed {end_key}; got "
                    f"{self.output.times.values[-1]:g} {self.output.times.unit} > "
                    f"{end_s:g} s"
                )

    def _check_mesh(self) -> None:
        """The mesh builder's rules (meshes/sizes.py `check_inputs`: sizes in
        (0, radius], surface and interface <= bulk, shells at least one element thick),
        applied to the resolved sizes now, so that the message names the case keys."""
        from meshes.sizes import checked_inputs

        g, m = self.geometry, self.mesh
        sizes = {f"size_{k}_m": (None if getattr(m, k, None) is None else getattr(m, k).si)
                 for k in ("bulk", "surface", "interface")}
        if m.radial_layers is not None:
            if m.interface is not None:
                raise ValueError("mesh.interface: not used with mesh.radial_layers (the "
                                 "interfaces lie in the layered shell); remove it")
            sizes["radial_layers"] = {"count": m.radial_layers.count, "depth_m": m.radial_layers.depth.si}
        try:
            resolved = checked_inputs(g.radius.si, g.layer_thickness.si,
                                      g.coating_thickness.si, shape=g.shape, **sizes)
        except ValueError as exc:
            text = str(exc)
            for arg, key in _MESH_ARGUMENT_KEYS:
                text = text.replace(arg, key)
            raise ValueError(text) from None
        finest = min(("surface", "interface", "bulk"), key=lambda k: resolved[f"size_{k}_m"])
        if g.radius.si > MAX_ELEMENTS_ACROSS_RADIUS * resolved[f"size_{finest}_m"]:
            raise ValueError(
                f"mesh.{finest} = {resolved[f'size_{finest}_m']:.3g} m is finer than "
                f"geometry.radius / {MAX_ELEMENTS_ACROSS_RADIUS:g} (radius "
                f"{g.radius.short()}): check the units")

    def _check_fitted(self) -> None:
        """Each `fitted:` key is the key path of a quantity in this case; its bracket is
        positive and ordered (the fit searches log10 of the value)."""
        for key, entry in self.fitted.items():
            node = self
            for part in key.split("."):
                node = getattr(node, part, None) if isinstance(node, BaseModel) else None
            if not isinstance(node, Quantity):
                raise ValueError(f"fitted.{clip(key, 80)}: not the key path of a quantity in "
                                 "this case (e.g. materials.layer.lithium_diffusivity)")
            lo, hi = entry.bracket
            if not 0 < lo < hi:
                raise ValueError(f"fitted.{clip(key, 80)}.bracket: need 0 < low < high; got "
                                 f"[{lo:g}, {hi:g}]")

    def _check_dense_output(self) -> None:
        """output.dense interpolates the Li state only: not with submodels stepped alongside
        (O2), nor with a stress that feeds the next step (stress-assisted diffusion), nor
        with 3D field files (untested)."""
        if not self.output.dense:
            return
        if "lithium" not in self.physics:
            raise ValueError("output.dense: needs 'lithium' in physics (it interpolates the Li steps)")
        for other in ("oxygen", "oxygen_redox"):
            if other in self.physics:
                raise ValueError(f"output.dense: not with {other!r} in physics (its state at the "
                                 "output times is not interpolated); remove output.dense")
        if "mechanics" in self.physics and self.mechanics.stress_assisted_diffusion:
            raise ValueError("output.dense: not with mechanics.stress_assisted_diffusion (the stress "
                             "solved at an output would drive the next step); remove output.dense")
        if self.output.fields and self.geometry.shape != "radial":
            raise ValueError("output.dense: not with output.fields on a 3D geometry.shape; set "
                             "output.fields: false or remove output.dense")

    def _physics_section(self, name: str, needs: tuple[str, ...]) -> bool:
        """Whether the section `name` is given; it must be exactly when physics includes
        `name`, and then with the physics it `needs`."""
        if (name in self.physics) != (getattr(self, name) is not None):
            raise ValueError(f"{name}: required when physics includes {name!r}, and only then")
        for needed in needs if getattr(self, name) is not None else ():
            if needed not in self.physics:
                raise ValueError(f"physics: {name!r} needs {needed!r} as well")
        return getattr(self, name) is not None

    def _check_fracture(self) -> None:
        """fracture: the phase field loaded by the mechanics' eigenstrain, on the octant
        (its symmetry planes), the 1D radial model (a spherical damage shell: the onset,
        not the crack pattern; solver/simulation/fracture_submodel.py) or a whole 3D
        particle (rigid-body pins), with grains (their tensor eigenstrain; a reduced
        toughness on a secondary particle's boundaries), resolving l at the surface."""
        if not self._physics_section("fracture", needs=("lithium", "mechanics")):
            return
        if self.mechanics.stress_assisted_diffusion:
            raise ValueError("physics: 'fracture' is not supported with "
                             "mechanics.stress_assisted_diffusion yet")
        if self.fracture.grain_boundary_toughness_factor.si != 1.0 and self.geometry.shape != "secondary":
            raise ValueError("fracture.grain_boundary_toughness_factor: only on geometry.shape: secondary "
                             f"(its tagged grain boundaries; got {self.geometry.shape!r}); remove the key or set it to 1")
        from meshes.sizes import checked_inputs

        g, m = self.geometry, self.mesh
        try:
            sizes = checked_inputs(g.radius.si, g.layer_thickness.si, g.coating_thickness.si, shape=g.shape,
                                   size_bulk_m=m.bulk and m.bulk.si, size_surface_m=m.surface and m.surface.si)
        except ValueError:
            return  # _check_mesh refuses it, naming the case keys
        self.fracture.check_resolution(self.materials.core.youngs_modulus.si, sizes["size_surface_m"])

    def _check_oxygen_redox(self) -> None:
        """oxygen_redox needs the Li run with a voltage (its onsets are local potentials
        U(theta)) and the O2 transport (it feeds the mobile O2); its onsets lie in the
        open-circuit voltage's window."""
        if not self._physics_section("oxygen_redox", needs=("lithium", "oxygen")):
            return
        ocv = self.materials.core.open_circuit_voltage
        if ocv is None:
            raise ValueError("oxygen_redox: needs materials.core.open_circuit_voltage (its onsets are "
                             "voltages of the local equilibrium potential U(theta))")
        low, high, basis = ocv.reachable_V()
        for key, volts in self.oxygen_redox.onsets().items():
            if not low <= volts <= high:
                raise ValueError(f"{key}: {volts:g} V is outside the open-circuit voltage's range "
                                 f"({basis}); give an onset within it")
        for v in self.oxygen_redox.report.voltages.si():
            if not low <= v <= high:
                raise ValueError(f"oxygen_redox.report.voltages: {v:g} V is outside the open-circuit "
                                 f"voltage's range ({basis})")

    def _check_oxygen(self) -> None:
        """The oxygen section's checks that need the rest of the case."""
        if ("oxygen" in self.physics) != (self.oxygen is not None):
            raise ValueError("oxygen: required when physics includes 'oxygen', and only then")
        if self.oxygen is None:
            return
        if self.geometry.coating_thickness.si > 0:
            raise ValueError(
                "geometry.coating_thickness must be 0 when physics includes 'oxygen' "
                "(RuO2 is a capture condition on the surface: oxygen.surfaces)"
            )
        src = self.oxygen.source
        if src is not None and src.start_at_mean_site_fraction is not None:
            if "lithium" not in self.physics:
                raise ValueError("oxygen.source.start_at_mean_site_fraction: needs 'lithium' in "
                                 "physics (the Li run gives the state of charge)")
            if src.start.si != 0:
                raise ValueError("oxygen.source: give start or start_at_mean_site_fraction, not both")
        if self.oxygen.islands is not None and self.geometry.shape == "radial":
            raise ValueError("oxygen.islands: needs a 3D geometry.shape (octant or sphere), not radial")

    # -- derived values ---------------------------------------------------------------
    def end_time_s(self) -> float | None:
        """The last simulated time: protocol.end_time, or oxygen.end_time (the later of
        the two when both physics run); None when a protocol of steps has no end_time
        (it ends with its last step, a time not known in advance)."""
        ends = [s.end_time for s in (self.protocol, self.oxygen) if s is not None]
        return None if any(end is None for end in ends) else max(end.si for end in ends)

    def output_interval_s(self) -> float | None:
        """The spacing of the outputs when they are not listed: output.interval, or
        DEFAULT_OUTPUT_INTERVAL_S when the case has no end time and no output.times;
        None otherwise (output_times_s() lists them)."""
        if self.output.interval is not None:
            return self.output.interval.si
        if self.output.times is None and self.end_time_s() is None:
            return DEFAULT_OUTPUT_INTERVAL_S
        return None

    def output_times_s(self) -> list[float] | None:
        """The output times in s: output.times; else every output.interval up to the end
        time (and the end itself), or output.count evenly spaced to it. None when the end
        is not known in advance (the run writes every output_interval_s())."""
        from solver.case.units import ureg

        if self.output.times is None:
            end = self.end_time_s()
            if end is None:
                return None
            if self.output.interval is not None:
                step = self.output.interval.si
                times = [i * step for i in range(int(end / step * (1 + 1e-12)) + 1)]
                return times if end - times[-1] <= 1e-12 * end else times + [end]
            n = self.output.count
            return [end * i / (n - 1) for i in range(n)]
        unit = self.output.times.unit
        return [float(ureg.Quantity(v, unit).to("s").magnitude) for v in self.output.times.values]


# output spacing of a protocol of steps without an end time, when output.interval is not given
DEFAULT_OUTPUT_INTERVAL_S = 60.0
MAX_OUTPUTS = 10000

# elements across the radius beyond which a case is a unit mistake (1D paper meshes: ~300;
# 3D meshes are bounded far lower by the pre-flight memory estimate)
MAX_ELEMENTS_ACROSS_RADIUS = 1e5

# mesh-builder argument -> case key path, longest first (for the builder's messages)
_MESH_ARGUMENT_KEYS = (
    ("radial_layers.depth_m", "mesh.radial_layers.depth"),
    ("radial_layers.count", "mesh.radial_layers.count"),
    ("radial_layers:", "mesh.radial_layers:"),
    ("layer_thickness_m", "geometry.layer_thickness"),
    ("coating_thickness_m", "geometry.coating_thickness"),
    ("size_interface_m", "mesh.interface"),
    ("size_surface_m", "mesh.surface"),
    ("size_bulk_m", "mesh.bulk"),
    ("radius_m", "geometry.radius"),
)

# ---------------------------------------------------------------------------------------
# Loading, overrides, errors
# ---------------------------------------------------------------------------------------
MAX_MESSAGE_LINES = 5


def _field_names(model_cls, loc: tuple) -> list[str] | None:
    """Allowed keys of the model at `loc` (for 'unknown key' messages)."""
    cls = model_cls
    for part in loc:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return None
        field = cls.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        candidates = [ann] + args
        cls = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return [f for f in cls.model_fields if f not in ("si", "si_unit")]
    return None


def _key_text(part) -> str:
    """A key in a key path: as written, or quoted when blank, spaced or dotted."""
    text = str(part)
    return clip(repr(text) if not text or re.search(r"[\s.:'\"]", text) else text, 60)


def format_validation_error(exc: ValidationError, model_cls=None) -> str:
    """One line per problem: `key.path: what is wrong (allowed ...)`."""
    model_cls = model_cls or Case
    lines = []
    errors = exc.errors()
    for err in errors[:MAX_MESSAGE_LINES]:
        loc = tuple(p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-"))
        path = clip(".".join(_key_text(p) for p in loc), 200) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _field_names(model_cls, loc[:-1])
            msg = "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "literal_error":
            msg = f"{msg}; got {clip_repr(err.get('input'))}"
        elif kind not in ("value_error",) and "input" in err:
            msg = f"{msg}; got {clip_repr(err['input'])}"
        named = not loc or msg.startswith(f"{path}.") or msg.startswith(f"{path} ")
        lines.append(clip(msg if named else f"{path}: {msg}", 400))  # checks that name their keys
    if len(errors) > MAX_MESSAGE_LINES:
        lines.append(f"... and {len(errors) - MAX_MESSAGE_LINES} more problems")
    return "\n".join(lines)


def assignment_error(model_cls, exc: ValidationError) -> CaseError:
    """A refused assignment to a section of a case, its lines starting with the full key
    path (`protocol.c_rate: must be > 0; got 0`)."""
    prefix = _section_paths().get(model_cls)
    lines = format_validation_error(exc, model_cls).splitlines()
    for i, err in enumerate(exc.errors()[: len(lines)]):
        if prefix and err["loc"]:
            lines[i] = f"{prefix}.{lines[i]}"
    return CaseError("\n".join(lines))


@functools.lru_cache(maxsize=1)
def _section_paths() -> dict:
    """Section model class -> its key path in a case (`Protocol` -> 'protocol')."""
    paths: dict = {}

    def classes(ann):
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return [ann]
        return [c for arg in typing.get_args(ann) for c in classes(arg)]

    def walk(cls, prefix):
        for name, field in cls.model_fields.items():
            ann = field.annotation
            key = f"{prefix}{name}" + (".<name>" if typing.get_origin(ann) is dict else "")
            for sub in classes(ann):
                if sub not in paths and sub is not Quantity:
                    paths[sub] = key
                    walk(sub, f"{key}.")

    walk(Case, "")
    return paths


def parse_override(text: str) -> tuple[list[str], object]:
    """`key.path=value` -> (['key', 'path'], value parsed as YAML)."""
    if "=" not in text:
        raise CaseError(f"--set {clip_repr(text)}: expected key.path=value")
    key, _, raw = text.partition("=")
    path = [p for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in path):
        raise CaseError(f"--set {clip_repr(text)}: empty key path")
    value = parse_yaml(raw, f"--set {clip(key, 100)}") if raw.strip() else ""
    return path, value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    data = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = {}
                node[part] = nxt
            elif not isinstance(nxt, dict):
                prefix = clip(".".join(path[: i + 1]), 200)
                if isinstance(nxt, str) and path[i + 1] in ("value", "unit", "source"):
                    # "150 nm" written as a string: expand so .value / .unit can be set
                    try:
                        nxt = dict(Quantity.model_validate(_expand(nxt)).model_dump(
                            include={"value", "unit"}))
                    except ValueError as exc:  # pydantic's ValidationError included
                        message = str(exc).splitlines()[-1 if isinstance(exc, ValidationError) else 0]
                        raise CaseError(f"{prefix}: {clip(message, 300)}") from None
                    node[part] = nxt
                else:
                    raise CaseError(f"--set {clip('.'.join(path), 200)}: {prefix} is not a mapping")
            node = nxt
        if not isinstance(node, dict):
            raise CaseError(f"--set {clip('.'.join(path), 200)}: cannot set a key inside a value")
        node[path[-1]] = value
    return data


def _expand(text: str) -> dict:
    from solver.case.units import _parse

    return _parse(text)


def load_case_data(path: str | Path, overrides: list[str] = ()) -> dict:
    """The case file's data with the overrides applied (bounded reading:
    solver/case/loading.py)."""
    raw = read_yaml_file(path, "case")
    if not isinstance(raw, dict):
        raise CaseError(f"{clip(str(path), 200)}: a case file must be a mapping of sections")
    return apply_overrides(raw, list(overrides))


def validate_case(data: dict) -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        raise CaseError(format_validation_error(exc)) from None


def load_case(path: str | Path, overrides: list[str] = ()) -> Case:
    """Read, override and validate a case file; raises CaseError with key paths."""
    return validate_case(load_case_data(path, overrides))


def resolved_case_dict(case: Case) -> dict:
    """The case with every default filled in, in the same form as the input file."""

    def clean(obj):
        if isinstance(obj, Quantity):
            return dump_quantity(obj)
        if isinstance(obj, BaseModel):
            return {k: clean(getattr(obj, k)) for k in type(obj).model_fields}
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    return clean(case)


def dump_case_yaml(case: Case) -> str:
    return yaml.safe_dump(resolved_case_dict(case), sort_keys=False, allow_unicode=True)
