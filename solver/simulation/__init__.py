"""The run: one time loop (engine.py) over the Li transport with mechanics
(chemomechanics.py) and the submodels stepped with it (O2, oxygen_simulation.py), one
life cycle (lifecycle.py), checkpoints, the pre-flight size estimate, and `run_case`
(run.py), the one place that connects physics and files."""
