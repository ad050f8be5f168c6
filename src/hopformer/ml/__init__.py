"""The machinery every learned model of hopformer shares: one training loop with seeded
batches, schedule, fingerprinted checkpoints and resume (:mod:`.loop`), one model-file format
and its safe loader (:mod:`.modelfile`), the choice of device (:mod:`.devices`), and the
layers the graph networks share (:mod:`.layers`)."""
