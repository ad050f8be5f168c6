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
