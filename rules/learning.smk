# The transformer's learning curve (docs/design.md §6, "Learning curve"); off unless
# learning_curve.enabled. Each point is the campaign's model and steps trained on a nested
# seeded share of the train split's states (learning_subset, learning_train) and judged on the
# same test subset (judge_transformer); learning_curve pools the points over seeds.

wildcard_constraints:
    fraction=r"[0-9.]+",
    replica=r"\d+",


rule learning_subset:
    input:
        train=dataset_files()["train"],
    output:
        train=result("learning/f{fraction}-s{replica}/train.parquet"),
    params:
        args=flags("learning-subset"),
    log:
        log_of("learning/f{fraction}-s{replica}/learning_subset"),
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer learning-subset {params.args} --train {input.train}"
        " --fraction {wildcards.fraction} --replica {wildcards.replica}"
        " --out {output.train} > {log} 2>&1"


# train_transformer itself (the same command, model, steps and resources) on the point's
# share, with the point's seed (the trailing --seed overrides the campaign seed in the flags).
use rule train_transformer as learning_train with:
    input:
        train=rules.learning_subset.output.train,
        val=dataset_files()["val"],
    output:
        model=result("learning/f{fraction}-s{replica}/transformer.pt"),
        losses=result("learning/f{fraction}-s{replica}/loss.csv"),
        summary=result("learning/f{fraction}-s{replica}/training.json"),
    params:
        args=lambda wc: f"{flags('train-transformer')} --seed {learning_seed(wc.replica)}",
        checkpoints=lambda wc: f"{learning_dir(wc)}/checkpoints",
    log:
        log_of("learning/f{fraction}-s{replica}/learning_train"),
    benchmark:
        benchmark_of("learning/f{fraction}-s{replica}/learning_train")


rule judge_transformer:
    input:
        model=rules.learning_train.output.model,
        training=rules.learning_train.output.summary,
        train=rules.learning_subset.output.train,
        test=dataset_files()["test"],
        potential=rules.make_potential.output.potential,
    output:
        point=result("learning/f{fraction}-s{replica}/point.json"),
    params:
        args=flags("judge-transformer"),
    threads: 1
    log:
        log_of("learning/f{fraction}-s{replica}/judge_transformer"),
    benchmark:
        benchmark_of("learning/f{fraction}-s{replica}/judge_transformer")
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer judge-transformer {params.args} --threads {threads}"
        " --model {input.model} --training {input.training} --train {input.train}"
        " --test {input.test} --potential {input.potential}"
        " --fraction {wildcards.fraction} --replica {wildcards.replica}"
        " --out {output.point} > {log} 2>&1"


rule learning_curve:
    input:
        points=learning_points(),
    output:
        table=result("learning/points.csv"),
        csv=report(
            result("learning/curve.csv"),
            caption="report/learning.rst",
            category="Transformer",
            labels={"table": "learning curve"},
        ),
        summary=result("learning/curve.json"),
        plot=report(
            result("learning/curve.png"),
            caption="report/learning.rst",
            category="Transformer",
            labels={"figure": "learning curve"},
        ),
    log:
        log_of("learning/learning_curve"),
    conda:
        "../envs/hopformer.yaml"
    shell:
        "hopformer learning-curve --points {input.points} --table {output.table}"
        " --csv {output.csv} --summary {output.summary} --plot {output.plot} > {log} 2>&1"
