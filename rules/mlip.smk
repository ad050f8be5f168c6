# The attention ML interatomic potential : labelled configurations, training (GPU in
# the slurm profile), evaluation against the reference. Only when `mlip.enabled`.


rule make_mlip_data:
    input:
        potential=rules.make_potential.output.potential,
        cluster=rules.relax_cluster.output.structure,
        dataset=expand(result("dataset/{split}.parquet"), split=["train", "val", "test"]),
        validation=shard_files("parquet"),
        bulk=mlip_bulk_inputs(),
    output:
        data=result("mlip/data.parquet"),
    params:
        args=flags("make-mlip-data"),
        bulk=mlip_bulk_args(),
    threads: 1
    log:
        log_of("mlip/make_mlip_data"),
    benchmark:
        benchmark_of("mlip/make_mlip_data")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer make-mlip-data {params.args} {params.bulk}"
        " --potential {input.potential} --cluster {input.cluster}"
        " --dataset {input.dataset} --validation {input.validation} --out {output.data}"
        " > {log} 2>&1"


rule train_mlip:
    input:
        data=rules.make_mlip_data.output.data,
    output:
        model=result("mlip/model.pt"),
        losses=result("mlip/loss.csv"),
        summary=result("mlip/training.json"),
    params:
        args=flags("train-mlip"),
        checkpoints=result("mlip/checkpoints"),
    threads: 2
    resources:
        runtime=lambda wc, attempt: 240 * attempt,
    log:
        log_of("mlip/train_mlip"),
    benchmark:
        benchmark_of("mlip/train_mlip")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer train-mlip {params.args}"
        " --threads {threads} --data {input.data} --out {output.model}"
        " --loss-log {output.losses} --summary {output.summary}"
        " --checkpoint-dir {params.checkpoints} > {log} 2>&1"


rule evaluate_mlip:
    input:
        model=rules.train_mlip.output.model,
        data=rules.make_mlip_data.output.data,
        potential=rules.make_potential.output.potential,
        cluster=rules.relax_cluster.output.structure,
        validation=shard_files("parquet"),
        bulk=mlip_bulk_inputs(),
    output:
        summary=result("mlip/evaluation.json"),
        barriers=report(
            result("mlip/barriers.csv"),
            caption="report/mlip.rst",
            category="ML interatomic potential",
            labels={"table": "NEB barriers: MLIP vs EAM"},
        ),
    params:
        args=flags("evaluate-mlip"),
        bulk=mlip_bulk_args(),
    threads: 1
    log:
        log_of("mlip/evaluate_mlip"),
    benchmark:
        benchmark_of("mlip/evaluate_mlip")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer evaluate-mlip --model {input.model} --data {input.data}"
        " --potential {input.potential} --cluster {input.cluster}"
        " --validation {input.validation} {params.bulk} {params.args} --threads {threads}"
        " --out {output.summary} --barriers-csv {output.barriers} > {log} 2>&1"


rule mlip_peers:
    input:
        evaluation=rules.evaluate_mlip.output.summary,
        training=rules.train_mlip.output.summary,
        # bench/mlip_vs_mace.py's summary, once it has run on this campaign (docs/design.md §12)
        bench=lambda wc: [MLIP_BENCH] if os.path.exists(MLIP_BENCH) else [],
    output:
        table=report(
            result("mlip/peers.csv"),
            caption="report/mlip_peers.rst",
            category="ML interatomic potential",
            labels={"table": "MLIP beside MACE"},
        ),
    params:
        bench=lambda wc, input: f"--bench {input.bench}" if input.bench else "",
    threads: 1
    log:
        log_of("mlip/mlip_peers"),
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer mlip-peers --evaluation {input.evaluation} --training {input.training}"
        " {params.bench} --out {output.table} > {log} 2>&1"
