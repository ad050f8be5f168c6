# Reference physics: the potential file and the relaxed starting cluster.


rule make_potential:
    input:
        source=user_file("potential.source"),
    output:
        potential=POTENTIAL_FILE,
    params:
        args=flags("make-potential"),
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
        file=user_file("cluster.file"),
    output:
        structure=result("reference/cluster.extxyz"),
        summary=result("reference/cluster.json"),
    params:
        args=flags("relax-cluster"),
    log:
        log_of("reference/relax_cluster"),
    benchmark:
        benchmark_of("reference/relax_cluster")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer relax-cluster {params.args} --potential {input.potential}"
        " --out {output.structure} --summary {output.summary} > {log} 2>&1"


rule start_trajectory:
    """The start of a further trajectory spliced side by side: the reference cluster's build,
    melted under the trajectory's own seed, then quenched."""
    input:
        potential=rules.make_potential.output.potential,
        file=user_file("cluster.file"),
    output:
        structure=result("reference/start-{trajectory}.extxyz"),
        summary=result("reference/start-{trajectory}.json"),
    params:
        args=flags("relax-cluster"),
    wildcard_constraints:
        trajectory=r"\d{3}",
    log:
        log_of("reference/start_trajectory-{trajectory}"),
    benchmark:
        benchmark_of("reference/start_trajectory-{trajectory}")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer relax-cluster {params.args} --potential {input.potential}"
        " --trajectory {wildcards.trajectory}"
        " --out {output.structure} --summary {output.summary} > {log} 2>&1"
