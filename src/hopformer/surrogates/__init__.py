"""Trajectory surrogates (issue 7): the direct trajectory predictor, the GNN displacement
integrator, and the metrics that judge both against reference MD."""
