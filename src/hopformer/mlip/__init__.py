"""The attention ML interatomic potential: model, data, training, ASE calculator."""
