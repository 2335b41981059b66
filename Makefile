# Everything runs inside a project-local virtualenv so a fresh machine needs only Python.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
ORACLE_STAMP := $(VENV)/.oracle-$(shell cat setup.cfg | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: venv test demo parity fixtures bench-tokenizers tokenizer-agreement bench-pretraining-data \
	bench-pretraining-step pretrain-acceptance classifier-parity bench-finetuning squad-roundtrip bench-squad clean \
	direct-use-acceptance ner-learning-acceptance keras-hub-round-trip \
	flag-docs docs-check bench-serving bench-ner fault-injection test-backends notebook-check hf-acceptance \
	bf16-acceptance

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/demo.py --workdir demo_output

# The oracle extra (transformers 4.x + torch CPU) is only needed to regenerate golden
# fixtures and to re-run the live comparison against Hugging Face.
$(ORACLE_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[test,oracle]"
	rm -f $(VENV)/.oracle-*
	touch $@

fixtures: $(ORACLE_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/make_parity_fixtures.py --out tests/fixtures/parity
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/make_direct_use_fixtures.py --out tests/fixtures/direct_use
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/make_hf_head_fixtures.py --out tests/fixtures/hf_heads
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/make_hf_activation_fixtures.py --out tests/fixtures/hf_activations.json

parity: $(ORACLE_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -m oracle tests/test_parity_live.py tests/test_inference_oracle_live.py tests/test_hf_heads.py \
		tests/test_checkpoint_edge_cases.py

# Converted Hugging Face directories as transformers loads them: AutoTokenizer ids against ours on 1,000
# SST-2 and 1,000 LCQMC lines of ../shared/realdata, and the fill-mask, question-answering and
# token-classification pipelines (report in hf_acceptance_output/report.json).
hf-acceptance: $(ORACLE_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/hf_acceptance.py --out hf_acceptance_output

# The model layers under Keras' JAX (and, with the oracle extra, PyTorch) backend, each in a
# process without TensorFlow, against the TensorFlow backend's outputs. Not part of `make test`.
BACKENDS_STAMP := $(VENV)/.backends-$(shell cat setup.cfg | cksum | cut -d' ' -f1)
$(BACKENDS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[test,backends]"
	rm -f $(VENV)/.backends-*
	touch $@

test-backends: $(BACKENDS_STAMP)
	ALBERT_TF_BACKEND_TESTS=1 TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q tests/test_backends.py tests/test_accelerator_step.py

# Benchmarks need the peers of the `bench` extra; they are never part of `make test`.
BENCH_STAMP := $(VENV)/.bench-$(shell cat setup.cfg | cksum | cut -d' ' -f1)
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[test,bench]"
	rm -f $(VENV)/.bench-*
	touch $@

bench-tokenizers: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/bench_tokenizers.py

# The Model Garden peer needs its own venv (TF 2.20 + tf_keras): bench/peers/setup_modelgarden.sh
bench-pretraining-data: $(BENCH_STAMP)
	test -x .venv-modelgarden/bin/python || bash bench/peers/setup_modelgarden.sh
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/bench_pretraining_data.py

bench-pretraining-step: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/bench_pretraining_step.py

# Tiny ALBERT on real English text on CPU: held-out MLM/SOP accuracy vs baselines.
pretrain-acceptance: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/pretrain_acceptance.py

# Two tiny ALBERTs (English, Chinese) pretrained on CPU, used directly: fill-mask vs the unigram top-5,
# sentence order, mean-pooled cosine on STS-B dev / LCQMC test vs bag-of-words (about 15 minutes).
direct-use-acceptance: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/direct_use_acceptance.py

# NER learning for real: the tiny ALBERTs of direct-use-acceptance fine-tuned with run_ner.py on the full
# CLUENER and CoNLL-2003 train files; dev entity F1 curves (pretrained and random init) against the
# train-lexicon baseline (about 20 minutes on 2 CPU cores; --pretrain_steps=N pretrains new models first).
ner-learning-acceptance: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/ner_learning_acceptance.py --random_init

# bf16 against float32 on SST-2, paired over seeds: a tiny random-init ALBERT fine-tuned 1,000 steps in each
# precision with the same seed, dev accuracy per seed, mean and spread, the mean paired difference against the
# 0.5-point target; then the bf16 export's labels against the fp32 export's (about 25 minutes on 2 CPU cores;
# report in /tmp/albert_tf_bf16_acceptance/bf16_acceptance.json). Not part of `make test`.
BF16_SEEDS ?= 8
bf16-acceptance: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/bf16_acceptance.py --workdir /tmp/albert_tf_bf16_acceptance --seeds $(BF16_SEEDS)

tokenizer-agreement: $(ORACLE_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/tokenizer_agreement.py --oracle

clean:
	rm -rf $(VENV) demo_output .pytest_cache

# 20 AdamW steps against Hugging Face PyTorch AlbertForSequenceClassification (per-step losses).
classifier-parity: $(ORACLE_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/classifier_parity.py

# Fine-tuning steps interleaved: albert-tf fp32 and bf16 vs Hugging Face on the same length buckets (fp32, bf16
# autocast) and with its default dynamic padding (4,000 SST-2 sentences; rounds stop after 14 minutes).
bench-finetuning: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/bench_finetuning.py --time_limit 840

# Gold-span round trip on the real SQuAD v1.1 dev set (EM/F1 lost only to token boundaries).
squad-roundtrip: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/squad_roundtrip.py --squad ../shared/realdata/squad/dev-v1.1.json \
		--spm ../shared/realdata/assets/albert_en_spm/30k-clean.model

# keras-hub presets both ways on SST-2 dev: token-id agreement and max |diff| (needs keras-hub: the bench extra).
keras-hub-round-trip: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/keras_hub_round_trip.py --tsv ../shared/realdata/glue/SST-2/dev.tsv \
		--spm ../shared/realdata/assets/albert_en_spm/30k-clean.model

bench-squad: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/bench_squad.py

# Raw-text serving interleaved: the exported classifier (and bf16 in process) vs Hugging Face with the same
# sort-and-chunk batching (fp32, bf16 autocast) and its pipeline (SST-2 dev).
bench-serving: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/bench_serving.py

# NER interleaved: fine-tuning on the first 4,000 CoNLL-2003 train sentences (run_ner.py's windows and buckets vs
# HF AlbertForTokenClassification with dynamic padding and with the same buckets), then raw-text serving of CoNLL
# dev sentences (the NER export vs the HF token-classification pipeline and direct batched calls).
bench-ner: $(BENCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) bench/ner_speed.py --steps 40 --time_limit 360

# notebooks/albert_tf_quickstart.ipynb in a Jupyter kernel (nbclient, ipykernel: the test extra), CPU, tiny
# settings, no network. Not part of `make test`.
notebook-check: $(STAMP)
	ALBERT_TF_NOTEBOOK_TESTS=1 TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q tests/test_notebook.py

# docs/flags.md is generated from the flag definitions of the scripts and console commands.
flag-docs: $(STAMP)
	$(PY) tools/make_flag_docs.py

# Runs every shell command shown in README.md and docs/*.md with tiny settings in a scratch directory.
docs-check: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/docs_check.py

# kill -9 at random moments, ENOSPC in the atomic-write helper, two runs on one directory: nothing
# partial under a final name, no orphan process, every rerun completes. Not part of `make test`.
fault-injection: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) tools/fault_injection.py --workdir /tmp/albert_fault_injection
