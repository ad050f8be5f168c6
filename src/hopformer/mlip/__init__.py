"""The attention ML interatomic potential (issue 8): model, data, training, ASE calculator."""
