"""The kinetics stage: adaptive kinetic Monte Carlo with learned and model-free event finders."""
