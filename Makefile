# lrmo: the two commands a newcomer needs are `make reproduce` and `make test`.
# Both install what they need first (`make install`, idempotent).

SYSTEM_PYTHON ?= /usr/bin/python3
VENV          ?= .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.lrmo-installed
NP            ?= 2

# Open MPI refuses to run as root without these; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export VTK_DEFAULT_OPENGL_WINDOW := vtkEGLRenderWindow

.PHONY: install test test-all reproduce fit verify demo benchmark clean

install: $(STAMP)

$(STAMP): pyproject.toml tools/install-system-deps tools/constraints-from-system
	tools/install-system-deps
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(SYSTEM_PYTHON) tools/constraints-from-system > $(VENV)/constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check -c $(VENV)/constraints.txt -e '.[test,plots]'
	$(PY) -m lrmo version
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

# Longer checks (finer meshes, more ranks) that are not part of the default run.
test-all: install
	$(PY) -m pytest -q --runslow tests

verify: install
	$(VENV)/bin/lrmo verify

# The main job: the paper's headline cases and results/report.md; prints the time it took.
# The 3D cases run under `mpirun -n $(NP)` (at most the cores available), with progress lines.
reproduce: install
	$(VENV)/bin/lrmo reproduce --out results --np $(NP)

# Re-fit the declared fitted parameters (prints the values): the core D to the pristine
# 567 MPa (the headline's only fit), and mechanism D's Ru-1 core D to 418 MPa; the
# same pristine D under two-way coupling (docs/fidelity.md).
fit: install
	$(VENV)/bin/lrmo fit cases/pristine_stress.yaml
	$(VENV)/bin/lrmo fit cases/variants/ru1_faster_diffusion.yaml
	$(VENV)/bin/lrmo fit cases/variants/pristine_stress_two_way.yaml

demo: install
	$(VENV)/bin/lrmo run cases/demo.yaml --out results/demo

clean:
	rm -rf results out .pytest_cache

# Speed (prints figures, asserts nothing): every stage for 1D, the verification octant
# and a >= 1M-dof octant, 1 and 2 ranks, each beside a bare DOLFINx loop (~10 min);
# then a checkpoint's write and read at ~1M and ~4M P1 dofs on 1 and 2 ranks, with each
# rank's peak memory (~2 min); then the phase-field octant (cases/pristine_fracture_octant.yaml)
# on 2 ranks beside the same case without the phase field, their ratio and the 30-min
# target (~6.5 min at a load average of 9 on 2 cores).
benchmark: install
	$(PY) benchmarks/record.py
	$(PY) benchmarks/checkpoint_io.py
	$(PY) benchmarks/fracture_octant_speed.py
