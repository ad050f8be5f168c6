# The transition transformer: training (a GPU job on clusters: `gpu: 1` in profiles/slurm,
# CPU fallback), accuracy(k) on the held-out split, and exploration from hints made without
# knowing the final state.


rule train_transformer:
    input:
        train=dataset_files()["train"],
        val=dataset_files()["val"],
    output:
        model=result("model/transformer.pt"),
        losses=result("model/loss.csv"),
        summary=result("model/training.json"),
    params:
        args=flags("train-transformer"),
        # Not an output: Snakemake would delete it when the job fails, and a killed training
        # must resume from it.
        checkpoints=result("model/checkpoints"),
    threads: 2
    resources:
        runtime=lambda wc, attempt: 120 * attempt,
        mem_mb=lambda wc, attempt: 8000 * attempt,
    log:
        log_of("model/train_transformer"),
    benchmark:
        benchmark_of("model/train_transformer")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer train-transformer {params.args}"
        " --threads {threads} --train {input.train} --val {input.val}"
        " --out {output.model} --loss-log {output.losses} --summary {output.summary}"
        " --checkpoint-dir {params.checkpoints} > {log} 2>&1"


rule evaluate_transformer:
    input:
        model=rules.train_transformer.output.model,
        test=dataset_files()["test"],
        potential=rules.make_potential.output.potential,
    output:
        accuracy=result("evaluation/accuracy.parquet"),
        csv=report(
            result("evaluation/accuracy.csv"),
            caption="report/accuracy.rst",
            category="Transformer",
            labels={"table": "accuracy(k)"},
        ),
        plot=report(
            result("evaluation/accuracy.png"),
            caption="report/accuracy.rst",
            category="Transformer",
            labels={"figure": "accuracy vs hint size"},
        ),
        details=result("evaluation/accuracy_details.parquet"),
    params:
        args=flags("evaluate-transformer"),
    threads: 1
    log:
        log_of("evaluation/evaluate_transformer"),
    benchmark:
        benchmark_of("evaluation/evaluate_transformer")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer evaluate-transformer {params.args}"
        " --threads {threads} --model {input.model} --test {input.test}"
        " --potential {input.potential} --out {output.accuracy} --csv {output.csv}"
        " --details {output.details} --plot {output.plot} > {log} 2>&1"


rule explore_transitions:
    input:
        model=rules.train_transformer.output.model,
        test=dataset_files()["test"],
        potential=rules.make_potential.output.potential,
    output:
        table=result("evaluation/exploration.parquet"),
        csv=result("evaluation/exploration.csv"),
        summary=result("evaluation/exploration.json"),
        methods=report(
            result("evaluation/exploration_methods.csv"),
            caption="report/exploration.rst",
            category="Transformer",
            labels={"table": "exploration: model vs model-free"},
        ),
    params:
        args=flags("explore-transitions"),
    threads: 1
    log:
        log_of("evaluation/explore_transitions"),
    benchmark:
        benchmark_of("evaluation/explore_transitions")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer explore-transitions {params.args}"
        " --threads {threads} --model {input.model} --test {input.test}"
        " --potential {input.potential} --out {output.table} --csv {output.csv}"
        " --summary {output.summary} --methods {output.methods} > {log} 2>&1"
