# Reference physics: the potential file and the relaxed starting cluster.


rule make_potential:
    output:
        potential=POTENTIAL_FILE,
    params:
        args=cli_args(config["potential"], ["source", "element", "nr", "nrho", "cutoff"]),
    log:
        log_of("reference/make_potential"),
    benchmark:
        benchmark_of("reference/make_potential")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer make-potential {params.args} --out {output.potential} > {log} 2>&1"


rule relax_cluster:
    input:
        potential=rules.make_potential.output.potential,
    output:
        structure=result("reference/cluster.extxyz"),
        summary=result("reference/cluster.json"),
    params:
        args=cli_args(
            config["cluster"]
            | {"element": config["potential"]["element"], "seed": config["seed"]},
            ["element", "shape", "shells", "p", "q", "r", "length", "cutoff", "file",
             "vacuum", "fmax", "melt_temperature", "melt_ps", "seed"],
        ),
    log:
        log_of("reference/relax_cluster"),
    benchmark:
        benchmark_of("reference/relax_cluster")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer relax-cluster {params.args} --potential {input.potential}"
        " --out {output.structure} --summary {output.summary} > {log} 2>&1"
