# The transformer's dataset: every round's transitions, deduplicated, split by initial state.


rule make_dataset:
    input:
        transitions=[result(f"transitions/round-{r:03d}.parquet") for r in ROUNDS],
    output:
        **dataset_files(),
        manifest=result("dataset/manifest.json"),
    params:
        args=flags("make-dataset"),
        out_dir=lambda wc, output: folder_of(output, "manifest"),
    log:
        log_of("dataset/make_dataset"),
    benchmark:
        benchmark_of("dataset/make_dataset")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer make-dataset {params.args}"
        " --transitions {input.transitions} --out-dir {params.out_dir}"
        " --manifest {output.manifest} > {log} 2>&1"
