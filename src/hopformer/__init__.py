"""hopformer: splicing MD of metal nano-clusters and a transformer that generates transitions."""

__version__ = "0.1.0"
