"""Parallel trajectory splicing in jobs (docs/design.md §4): segment workers
(:mod:`~hopformer.splicing.segments`), the round aggregator and scheduler
(:mod:`~hopformer.splicing.splice`) and MD-observed rates (:mod:`~hopformer.splicing.rates`)."""
