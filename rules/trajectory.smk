# Trajectory surrogates : reference MD of the cluster and of periodic bulk, fanned out
# by (system, ensemble, temperature, seed). Only when `trajectory.enabled`.


rule make_bulk_potential:
    output:
        potential=result("trajectory/bulk.eam.alloy"),
    params:
        args=flags("make-potential", "potential", only=["nr", "nrho"]),
        element=TRAJECTORY["bulk"]["element"],
    log:
        log_of("trajectory/make_bulk_potential"),
    benchmark:
        benchmark_of("trajectory/make_bulk_potential")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer make-potential --element {params.element} {params.args}"
        " --out {output.potential} > {log} 2>&1"


rule run_reference_md:
    input:
        unpack(reference_md_inputs),
    output:
        frames=result("trajectory/reference/{system}-{ensemble}-T{temperature}-s{seed}.parquet"),
    params:
        run=flags("run-reference-md", "trajectory"),
        system=lambda wc: reference_md_args(wc),
        seed=reference_md_seed,
    wildcard_constraints:
        system="cluster|bulk",
        ensemble="nve|langevin",
        seed=r"\d+",
    threads: 1
    log:
        log_of("trajectory/reference/{system}-{ensemble}-T{temperature}-s{seed}"),
    benchmark:
        benchmark_of("trajectory/reference/{system}-{ensemble}-T{temperature}-s{seed}")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer run-reference-md --system {wildcards.system} {params.system} {params.run}"
        " --ensemble {wildcards.ensemble} --temperature {wildcards.temperature}"
        " --seed {params.seed} --name {wildcards.system}-{wildcards.ensemble}-T{wildcards.temperature}"
        "-s{wildcards.seed} --potential {input.potential} --out {output.frames} > {log} 2>&1"


rule train_integrator:
    input:
        frames=surrogate_runs("bulk", held_out=False),
    output:
        model=result("trajectory/integrator/model.pt"),
        losses=result("trajectory/integrator/loss.csv"),
        summary=result("trajectory/integrator/training.json"),
    params:
        surrogate="integrator",
        args=flags("train-integrator"),
        checkpoints=result("trajectory/integrator/checkpoints"),
    threads: 2
    resources:
        runtime=lambda wc, attempt: 120 * attempt,
    log:
        log_of("trajectory/integrator/train_integrator"),
    benchmark:
        benchmark_of("trajectory/integrator/train_integrator")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer train-{params.surrogate} {params.args} --threads {threads}"
        " --frames {input.frames} --out {output.model} --loss-log {output.losses}"
        " --summary {output.summary} --checkpoint-dir {params.checkpoints} > {log} 2>&1"


rule evaluate_integrator:
    input:
        model=rules.train_integrator.output.model,
        frames=surrogate_runs("bulk", held_out=True),
        potential=rules.make_bulk_potential.output.potential,
        hold=surrogate_hold("integrator", rules.make_bulk_potential.output.potential),
    output:
        summary=result("trajectory/integrator/evaluation.json"),
        csv=report(
            result("trajectory/integrator/evaluation.csv"),
            caption="report/integrator.rst",
            category="Trajectory surrogates",
            labels={"table": "GNN integrator vs reference MD"},
        ),
        plot=report(
            result("trajectory/integrator/rollout.png"),
            caption="report/integrator.rst",
            category="Trajectory surrogates",
            labels={"figure": "GNN integrator rollout"},
        ),
    params:
        surrogate="integrator",
        length=flags("evaluate-integrator"),
        hold=lambda wc, input: f" --hold-potential {input.hold}" if input.hold else "",
    threads: 1
    log:
        log_of("trajectory/integrator/evaluate_integrator"),
    benchmark:
        benchmark_of("trajectory/integrator/evaluate_integrator")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer evaluate-{params.surrogate} {params.length} --threads {threads}"
        " --model {input.model} --frames {input.frames} --potential {input.potential}{params.hold}"
        " --out {output.summary}"
        " --csv {output.csv} --plot {output.plot} > {log} 2>&1"


use rule train_integrator as train_predictor with:
    input:
        frames=surrogate_runs("cluster", held_out=False),
    output:
        model=result("trajectory/predictor/model.pt"),
        losses=result("trajectory/predictor/loss.csv"),
        summary=result("trajectory/predictor/training.json"),
    params:
        surrogate="predictor",
        args=flags("train-predictor"),
        checkpoints=result("trajectory/predictor/checkpoints"),
    log:
        log_of("trajectory/predictor/train_predictor"),
    benchmark:
        benchmark_of("trajectory/predictor/train_predictor")


use rule evaluate_integrator as evaluate_predictor with:
    input:
        model=rules.train_predictor.output.model,
        frames=surrogate_runs("cluster", held_out=True),
        potential=rules.make_potential.output.potential,
        hold=surrogate_hold("predictor", POTENTIAL_FILE),
    output:
        summary=result("trajectory/predictor/evaluation.json"),
        csv=report(
            result("trajectory/predictor/evaluation.csv"),
            caption="report/predictor.rst",
            category="Trajectory surrogates",
            labels={"table": "direct trajectory predictor vs reference MD"},
        ),
        plot=report(
            result("trajectory/predictor/rollout.png"),
            caption="report/predictor.rst",
            category="Trajectory surrogates",
            labels={"figure": "direct trajectory predictor rollout"},
        ),
    params:
        surrogate="predictor",
        length=flags("evaluate-predictor"),
    log:
        log_of("trajectory/predictor/evaluate_predictor"),
    benchmark:
        benchmark_of("trajectory/predictor/evaluate_predictor")
