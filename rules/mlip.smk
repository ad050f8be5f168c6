# The attention ML interatomic potential (issue 8): labelled configurations, training (GPU in
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
        args=cli_args(MLIP["data"], MLIP_DATA_KEYS),
        bulk=mlip_bulk_args(),
        temperature=config["splicing"]["temperature"],
        seed=config["seed"],
    threads: 1
    log:
        log_of("mlip/make_mlip_data"),
    benchmark:
        benchmark_of("mlip/make_mlip_data")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer make-mlip-data {params.args} {params.bulk} --temperature {params.temperature}"
        " --seed {params.seed} --potential {input.potential} --cluster {input.cluster}"
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
        model=cli_args(MLIP["model"], MLIP_MODEL_KEYS),
        train=cli_args(MLIP["training"], MLIP_TRAIN_KEYS),
        float64="--float64" if MLIP["training"]["float64"] else "",
        checkpoints=result("mlip/checkpoints"),
        seed=config["seed"],
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
        "hopformer train-mlip {params.model} {params.train} {params.float64} --seed {params.seed}"
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
        barriers=MLIP["evaluation"]["barriers"],
        md_ps=MLIP["evaluation"]["md_ps"],
        images=VALIDATION["images"],
        neb_fmax=VALIDATION["neb_fmax"],
        bulk=mlip_bulk_args(),
        temperature=config["splicing"]["temperature"],
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
        " --validation {input.validation} {params.bulk} --barriers {params.barriers}"
        " --images {params.images} --neb-fmax {params.neb_fmax}"
        " --temperature {params.temperature} --md-ps {params.md_ps} --threads {threads}"
        " --out {output.summary} --barriers-csv {output.barriers} > {log} 2>&1"
