"""Studies built on runs: fitting, parameter sweeps, verification against closed forms,
and `lrmo reproduce` (the paper's cases, the report and its figures)."""
