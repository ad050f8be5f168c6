# hopformer campaign workflow. `make run` runs it locally with the default config;
# `snakemake --profile profiles/slurm` on a cluster. Logic lives in the `hopformer` package.
import os
import sys

from snakemake.utils import min_version

import hopformer.config

min_version("9.0")

# The default config is read here first, so that a YAML syntax error names its file and line.
try:
    if os.path.exists("config/config.yaml"):
        hopformer.config.read_yaml("config/config.yaml")
except hopformer.config.ConfigError as exc:
    sys.exit(str(exc))


configfile: "config/config.yaml"


# Every key against config/schema.yaml, the defaults filled in, the checks that span keys and
# the user's files: here, before the first job, not after hours of MD (docs/design.md,
# "When something goes wrong"). A bad config is one message and no job.
try:
    hopformer.config.prepare(config, workflow.basedir)
except hopformer.config.ConfigError as exc:
    sys.exit(str(exc))


report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/reference.smk"
include: "rules/splice.smk"
include: "rules/dataset.smk"
include: "rules/train.smk"
include: "rules/learning.smk"
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
        learning_outputs(),
        validation_outputs(),
        kinetics_outputs(),
        trajectory_outputs(),
        mlip_outputs(),
