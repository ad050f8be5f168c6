# The two commands of the README: `make run` (default campaign, locally) and `make test`.
# Both build .venv on first use; the stamp is rebuilt whenever pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.hopformer-installed
CORES  ?= 2

.PHONY: run test dry-run lint bench clean-results slurm-profile

# The campaign named in config/config.yaml; its HTML report is written beside its results.
CAMPAIGN := $(shell sed -n 's/^campaign: *//p' config/config.yaml)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --profile profiles/local
	$(BIN)/snakemake --cores $(CORES) --profile profiles/local --report results/$(CAMPAIGN)/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q

dry-run: $(STAMP)
	$(BIN)/snakemake -n --cores $(CORES) --profile profiles/local

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/snakemake --lint --cores 1

bench: $(STAMP)
	$(BIN)/python bench/md_throughput.py
	$(BIN)/python bench/splice_scaling.py
	$(BIN)/python bench/generate_speed.py
	$(BIN)/python bench/validate_cost.py
	$(BIN)/python bench/surrogate_speed.py
	# Event finders side by side (the transformer too once `make run` has trained one).
	$(BIN)/python bench/event_search.py $(if $(wildcard results/default/model/transformer.pt),--model results/default/model/transformer.pt)
	$(BIN)/python bench/kmc_vs_md.py
	# Round aggregation and the dataset build at 10³–10⁵ transitions (from `make run`'s shards).
	$(if $(wildcard results/default/transitions/round-000.parquet),$(BIN)/python bench/aggregation_scale.py)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel of 2.13.0; an unpinned torch pulls a CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

clean-results:
	rm -rf results/default .snakemake

# `snakemake --profile slurm` looks the name up in ~/.config/snakemake (not in profiles/):
# link this repository's profile there, refusing to replace a different one.
SNAKEMAKE_PROFILES := $(HOME)/.config/snakemake
slurm-profile:
	@dest="$(SNAKEMAKE_PROFILES)/slurm"; src="$(CURDIR)/profiles/slurm"; \
	if [ -L "$$dest" ] && [ "$$(readlink -f "$$dest")" = "$$(readlink -f "$$src")" ]; then \
		echo "$$dest already links $$src"; \
	elif [ -e "$$dest" ] || [ -L "$$dest" ]; then \
		echo "refusing to replace $$dest: it is a different profile; remove it, or run" \
		     "snakemake --profile profiles/slurm" >&2; exit 1; \
	else \
		mkdir -p "$(SNAKEMAKE_PROFILES)" && ln -s "$$src" "$$dest" && echo "linked $$dest -> $$src"; \
	fi
