# hopformer campaign workflow. `make run` runs it locally with the default config;
# `snakemake --profile profiles/slurm` on a cluster. Logic lives in the `hopformer` package.
from snakemake.utils import min_version, validate

import hopformer.config

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")
# Checks that span keys (d_model vs heads, split fractions, cluster size vs max_atoms): here,
# before the first job, not after hours of MD.
hopformer.config.check(config, workflow.basedir)


report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/reference.smk"
include: "rules/splice.smk"
include: "rules/dataset.smk"
include: "rules/train.smk"
include: "rules/validate.smk"
include: "rules/kinetics.smk"
include: "rules/trajectory.smk"
include: "rules/mlip.smk"


rule all:
    default_target: True
    input:
        reference_outputs(),
        splice_outputs(),
        transformer_outputs(),
        validation_outputs(),
        kinetics_outputs(),
        trajectory_outputs(),
        mlip_outputs(),
