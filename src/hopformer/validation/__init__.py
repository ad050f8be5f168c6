"""Validation of generated transitions on the reference potential: NEB, harmonic TST."""
