"""Time loops and runs: chemo-mechanics and O2 simulations, checkpoints, the pre-flight
size estimate, and `run_case`, the one place that connects physics and files."""
