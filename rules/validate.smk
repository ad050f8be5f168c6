# Prediction + validation (docs/design.md §7): S shard jobs generate candidates for the held-out
# states, relax them and validate each distinct transition with NEB and harmonic TST; one
# job collects the rate/energy tables, plots and extxyz paths (report() outputs).


rule validate_shard:
    input:
        model=rules.train_transformer.output.model,
        train=dataset_files()["train"],
        val=dataset_files()["val"],
        test=dataset_files()["test"],
        potential=rules.make_potential.output.potential,
    output:
        table=result("validation/shards/shard-{shard}.parquet"),
        summary=result("validation/shards/shard-{shard}.json"),
    params:
        args=flags("validate-shard"),
    wildcard_constraints:
        shard=r"\d{3}",
    threads: 1
    resources:
        runtime=lambda wc, attempt: 120 * attempt,
    log:
        log_of("validation/validate_shard-{shard}"),
    benchmark:
        benchmark_of("validation/validate_shard-{shard}")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer validate-shard {params.args}"
        " --threads {threads} --shard {wildcards.shard}"
        " --model {input.model} --train {input.train} --val {input.val} --test {input.test}"
        " --potential {input.potential} --out {output.table} --summary {output.summary}"
        " > {log} 2>&1"


rule collect_tables:
    input:
        shards=shard_files("parquet"),
        summaries=shard_files("json"),
        md_rates=result("md/rates.parquet"),
        accuracy=rules.evaluate_transformer.output.accuracy,
    output:
        rates=result("validation/rates.parquet"),
        csv=report(
            result("validation/rates.csv"),
            caption="report/rates.rst",
            category="Validation",
            labels={"table": "rate/energy table"},
        ),
        top=report(
            result("validation/top_transitions.csv"),
            caption="report/top.rst",
            category="Validation",
            labels={"table": "most common transitions"},
        ),
        compare=report(
            result("validation/md_vs_htst.csv"),
            caption="report/compare.rst",
            category="Validation",
            labels={"table": "MD vs hTST rates"},
        ),
        summary=result("validation/summary.json"),
        paths=directory(result("validation/paths")),
        mep_plot=report(
            result("validation/mep.png"),
            caption="report/mep.rst",
            category="Validation",
            labels={"figure": "minimum-energy paths"},
        ),
        rate_plot=report(
            result("validation/md_vs_htst.png"),
            caption="report/rate_plot.rst",
            category="Validation",
            labels={"figure": "hTST vs MD rates"},
        ),
    params:
        args=flags("collect-tables"),
    threads: 1
    log:
        log_of("validation/collect_tables"),
    benchmark:
        benchmark_of("validation/collect_tables")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer collect-tables {params.args}"
        " --shards {input.shards} --summaries {input.summaries} --md-rates {input.md_rates}"
        " --accuracy {input.accuracy}"
        " --rates {output.rates} --csv {output.csv} --top-table {output.top}"
        " --compare {output.compare} --summary {output.summary} --paths {output.paths}"
        " --mep-plot {output.mep_plot} --rate-plot {output.rate_plot} > {log} 2>&1"
