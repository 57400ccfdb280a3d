"""Files and messages: the output-folder contract (atomic, MPI-coordinated writes),
fields for ParaView, probes and profiles, mesh files and their cache, progress logs
and provenance."""
