# Adaptive kinetic Monte Carlo (docs/design.md §9): `kinetics.rounds` rounds of
# `kinetics.searches` event-search jobs and one aggregation each; with retrain_every M, a
# fine-tuning job after every M rounds gives the next rounds a new model. The job count comes
# from the config alone, so dry runs show every job.

wildcard_constraints:
    kround=r"\d{3}",
    job=r"\d{3}",
    generation=r"\d{2}",


rule kinetics_start:
    input:
        cluster=rules.relax_cluster.output.structure,
        potential=rules.make_potential.output.potential,
    output:
        **kinetics_tables(-1),
    params:
        args=flags("kinetics-start"),
        out_dir=lambda wc, output: folder_of(output, "states"),
    log:
        log_of("kinetics/kinetics_start"),
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer kinetics-start {params.args} --cluster {input.cluster}"
        " --potential {input.potential} --out-dir {params.out_dir} > {log} 2>&1"


rule kinetics_search:
    input:
        unpack(search_inputs),
    output:
        events=result("kinetics/round-{kround}/search-{job}.events.parquet"),
        stats=result("kinetics/round-{kround}/search-{job}.stats.parquet"),
    params:
        args=flags("kinetics-search"),
        previous=lambda wc, input: folder_of(input, "states"),
        model=lambda wc, input: f"--model {input.model}" if "model" in input.keys() else "",
        generation=lambda wc: model_generation(wc.kround),
    threads: 1
    resources:
        runtime=lambda wc, attempt: 60 * attempt,
    log:
        log_of("kinetics/round-{kround}/kinetics_search-{job}"),
    benchmark:
        benchmark_of("kinetics/round-{kround}/kinetics_search-{job}")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer kinetics-search {params.args} --threads {threads}"
        " --round {wildcards.kround} --job {wildcards.job} --previous {params.previous}"
        " {params.model} --model-generation {params.generation} --potential {input.potential}"
        " --events {output.events} --stats {output.stats} > {log} 2>&1"


rule kinetics_round:
    input:
        previous=lambda wc: kinetics_tables(int(wc.kround) - 1).values(),
        events=lambda wc: search_shards(wc.kround, "events"),
        stats=lambda wc: search_shards(wc.kround, "stats"),
    output:
        **{k: result(f"kinetics/round-{{kround}}/{k}.parquet") for k in KINETIC_TABLES},
        summary=result("kinetics/round-{kround}/summary.json"),
        search_stats=result("kinetics/round-{kround}/search_stats.csv"),
    params:
        args=flags("kinetics-round"),
        previous=lambda wc: kinetics_dir(int(wc.kround) - 1),
        out_dir=lambda wc, output: folder_of(output, "states"),
    log:
        log_of("kinetics/round-{kround}/kinetics_round"),
    benchmark:
        benchmark_of("kinetics/round-{kround}/kinetics_round")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer kinetics-round {params.args} --round {wildcards.kround}"
        " --previous {params.previous} --events {input.events} --stats {input.stats}"
        " --out-dir {params.out_dir} --summary {output.summary}"
        " --search-stats {output.search_stats} > {log} 2>&1"


rule finetune_transformer:
    input:
        init=lambda wc: model_of(int(wc.generation) - 1),
        train=dataset_files()["train"],
        val=dataset_files()["val"],
        tables=lambda wc: kinetics_tables(int(wc.generation) * KINETICS["retrain_every"] - 1).values(),
    output:
        model=result("kinetics/model-g{generation}/transformer.pt"),
        losses=result("kinetics/model-g{generation}/loss.csv"),
        summary=result("kinetics/model-g{generation}/training.json"),
    params:
        args=flags("finetune-transformer"),
        tables=lambda wc: kinetics_dir(int(wc.generation) * KINETICS["retrain_every"] - 1),
        # Not an output, as for the first training: a killed job resumes from it.
        checkpoints=lambda wc: result(f"kinetics/model-g{wc.generation}/checkpoints"),
    threads: 2
    resources:
        runtime=lambda wc, attempt: 60 * attempt,
        mem_mb=lambda wc, attempt: 8000 * attempt,
    log:
        log_of("kinetics/finetune_transformer-g{generation}"),
    benchmark:
        benchmark_of("kinetics/finetune_transformer-g{generation}")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer finetune-transformer {params.args} --threads {threads}"
        " --init {input.init} --train {input.train} --val {input.val} --tables {params.tables}"
        " --out {output.model} --loss-log {output.losses} --summary {output.summary}"
        " --checkpoint-dir {params.checkpoints} > {log} 2>&1"


rule kinetics_report:
    input:
        final=list(kinetics_tables(KINETICS["rounds"] - 1).values()),
        stats=[s for r in range(KINETICS["rounds"]) for s in search_shards(r, "stats")],
        md=[s for r in ROUNDS for s in worker_shards(r, "segments")],
    output:
        plot=report(
            result("kinetics/kinetics.png"),
            caption="report/kinetics.rst",
            category="Kinetics",
            labels={"figure": "KMC and event finders"},
        ),
        finders=report(
            result("kinetics/finders.csv"),
            caption="report/kinetics.rst",
            category="Kinetics",
            labels={"table": "events per force call"},
        ),
        summary=result("kinetics/summary.json"),
    params:
        final=lambda wc, input: os.path.dirname(input.final[0]),
    log:
        log_of("kinetics/kinetics_report"),
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer kinetics-report --final {params.final} --stats {input.stats}"
        " --md-segments {input.md} --plot {output.plot} --finders {output.finders}"
        " --summary {output.summary} > {log} 2>&1"
