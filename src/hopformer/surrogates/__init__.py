"""Trajectory surrogates: the direct trajectory predictor, the GNN displacement
integrator, and the metrics that judge both against reference MD."""
