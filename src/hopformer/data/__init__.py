"""On-disk data: Arrow schemas declared once (:mod:`hopformer.data.schema`) and validated shard
I/O (:mod:`hopformer.data.shards`). Carries no model and runs no MD."""
