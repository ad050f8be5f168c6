# Parallel trajectory splicing (docs/design.md §4): R rounds × W segment workers, one aggregation
# per round, then the MD-observed rate table. The job count comes from the config alone.

wildcard_constraints:
    round=r"\d{3}",
    worker=r"\d{3}",


rule run_segments:
    input:
        potential=rules.make_potential.output.potential,
        start=segment_start,
    output:
        segments=result("splice/round-{round}/worker-{worker}/segments.parquet"),
        transitions=result("splice/round-{round}/worker-{worker}/transitions.parquet"),
    params:
        args=flags("run-segments"),
    log:
        log_of("splice/round-{round}/run_segments-{worker}"),
    benchmark:
        benchmark_of("splice/round-{round}/run_segments-{worker}")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer run-segments {params.args} --round {wildcards.round} --worker {wildcards.worker}"
        " --potential {input.potential} --start {input.start}"
        " --segments-out {output.segments} --transitions-out {output.transitions} > {log} 2>&1"


rule splice_round:
    input:
        unpack(splice_inputs),
    output:
        states=result("splice/round-{round}/states.parquet"),
        segments=result("splice/round-{round}/segments.parquet"),
        edges=result("splice/round-{round}/edges.parquet"),
        frontier=result("splice/round-{round}/frontier.parquet"),
        summary=result("splice/round-{round}/summary.json"),
        transitions=result("transitions/round-{round}.parquet"),
    params:
        args=flags("splice-round"),
        previous=lambda wc, input: folder_of(input, "previous_states"),
        out_dir=lambda wc, output: folder_of(output, "states"),
    log:
        log_of("splice/round-{round}/splice_round"),
    benchmark:
        benchmark_of("splice/round-{round}/splice_round")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer splice-round {params.args} --round {wildcards.round}"
        " --previous '{params.previous}' --cluster {input.cluster} --starts {input.starts}"
        " --segments {input.segments} --transitions {input.transitions}"
        " --out-dir {params.out_dir} --transitions-out {output.transitions} > {log} 2>&1"


rule tabulate_rates:
    input:
        last_round=f"{round_dir(SPLICING['rounds'] - 1)}/summary.json",
        states=round_files(SPLICING["rounds"] - 1)["states"],
        edges=round_files(SPLICING["rounds"] - 1)["edges"],
    output:
        rates=result("md/rates.parquet"),
        csv=result("md/rates.csv"),
        summary=result("md/summary.json"),
    params:
        args=flags("tabulate-rates"),
        last_round=lambda wc, input: folder_of(input, "states"),
    log:
        log_of("md/tabulate_rates"),
    benchmark:
        benchmark_of("md/tabulate_rates")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer tabulate-rates {params.args}"
        " --last-round {params.last_round} --out {output.rates} --csv {output.csv}"
        " --summary {output.summary} > {log} 2>&1"
