"""Direct use at full scale against transformers, computed live: an ALBERT-base-shaped random model with
the real English vocabulary on 200 SST-2 dev sentences and the real Chinese vocabulary on 200 LCQMC
sentences, one word (character) masked each. Needs the oracle extra and ../shared/realdata, and runs
only when oracle tests are selected (`make parity`, i.e. `pytest -m oracle`).
"""

import random
import shutil

import numpy as np
import pytest

pytest.importorskip("torch", reason="the oracle extra (torch==2.13.0) is not installed; run `make parity`")
pytest.importorskip("transformers", reason="the oracle extra (transformers<5) is not installed; run `make parity`")

import torch  # noqa: E402
import transformers  # noqa: E402

from albert_tf import inference  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer, save_tokenizer_assets  # noqa: E402
from albert_tf.tokenization import io as tok_io  # noqa: E402

from conftest import REALDATA  # noqa: E402

pytestmark = [pytest.mark.oracle, pytest.mark.realdata]

BASE_SHAPE = dict(embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072, max_position_embeddings=512, hidden_act="gelu_new", hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)


def _real(relative):
    path = REALDATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path} (set ALBERT_TF_REALDATA)")
    return path


def _random_base(vocab_size, pad_id, seed):
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(vocab_size=vocab_size, pad_token_id=pad_id, **BASE_SHAPE)
    config._attn_implementation = "eager"
    model = transformers.AlbertForPreTraining(config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            param.copy_(1.0 + 0.1 * noise if name.endswith("LayerNorm.weight") else
                        (0.02 if param.ndim == 1 else 0.05) * noise)
    return model.eval()


def _mask_one(texts, seed, chinese):
    rng = random.Random(seed)
    out = []
    for text in texts:
        if chinese:
            spots = [i for i, c in enumerate(text) if "\u4e00" <= c <= "\u9fff"]
            i = rng.choice(spots)
            out.append(text[:i] + "[MASK]" + text[i + 1:])
        else:
            words = text.split(" ")
            words[rng.randrange(len(words))] = "[MASK]"
            out.append(" ".join(words))
    return out


@pytest.fixture(scope="module", params=["en", "zh"])
def case(request, tmp_path_factory):
    if "oracle" not in (request.config.option.markexpr or ""):
        # About 8 minutes on 2 CPUs: kept out of the default run even where the oracle extra is installed.
        pytest.skip("full-scale live oracle check: run `make parity` (pytest -m oracle)")
    directory = tmp_path_factory.mktemp(f"base_{request.param}")
    if request.param == "en":
        model_file = _real("assets/albert_en_spm/30k-clean.model")
        rows = tok_io.read_lines(_real("glue/SST-2/dev.tsv"))[1:201]
        texts = [r.split("\t")[0].strip() for r in rows]
        shutil.copy(model_file, directory / "30k-clean.model")
        # transformers' AlbertTokenizer rewrites `` and '' to a double quote: record the same setting.
        ours = SentencePieceTokenizer(str(directory / "30k-clean.model"), replace_quotes=True)
        oracle = transformers.AlbertTokenizer(str(model_file))
    else:
        vocab = _real("assets/albert_zh/vocab.txt")
        rows = tok_io.read_lines(_real("lcqmc/dev.txt"))
        texts = [r.split("\t")[0] for r in rows if any("\u4e00" <= c <= "\u9fff" for c in r.split("\t")[0])][:200]
        shutil.copy(vocab, directory / "vocab.txt")
        ours = WordPieceTokenizer(str(directory / "vocab.txt"))
        oracle = transformers.BertTokenizer(str(vocab), do_lower_case=True)
    save_tokenizer_assets(ours, directory)
    model = _random_base(len(oracle), oracle.pad_token_id, seed=7)
    model.save_pretrained(directory, safe_serialization=True)
    albert = inference.PretrainedAlbert.load(str(directory), batch_size=64)
    return {"albert": albert, "model": model, "oracle": oracle, "texts": texts,
            "masked": _mask_one(texts, 11, request.param == "zh"), "directory": directory}


def test_fill_mask_top5_matches_the_pipeline(case):
    mlm = transformers.AlbertForMaskedLM.from_pretrained(case["directory"], attn_implementation="eager").eval()
    fill = transformers.pipeline("fill-mask", model=mlm, tokenizer=case["oracle"], device="cpu")
    ours = case["albert"].fill_mask(case["masked"], top_k=5)
    for text, per_mask in zip(case["masked"], ours):
        want = fill(text, top_k=5)
        assert [c.token_id for c in per_mask[0]] == [w["token"] for w in want], text
        np.testing.assert_allclose([c.score for c in per_mask[0]], [w["score"] for w in want], atol=1e-5, rtol=0)


def test_cls_and_mean_vectors_match_albert_model_in_any_batch(case):
    texts = case["texts"][:64]
    cls_many, mean_many = (case["albert"].embed(texts, pooling=p) for p in ("cls", "mean"))
    cls_one = np.concatenate([case["albert"].embed([t], pooling="cls") for t in texts])
    np.testing.assert_allclose(cls_many, cls_one, atol=1e-5, rtol=0)
    with torch.no_grad():
        for i, text in enumerate(texts):
            enc = case["oracle"](text, return_tensors="pt")
            hidden = case["model"].albert(**enc).last_hidden_state[0].numpy()
            np.testing.assert_allclose(cls_many[i], hidden[0], atol=1e-5, rtol=0)
            np.testing.assert_allclose(mean_many[i], hidden.mean(0), atol=1e-5, rtol=0)


def test_fill_mask_of_a_model_pretrained_here_matches_the_pipeline(request, tmp_path):
    # The project's own pretrained tiny model (make direct-use-acceptance), converted to the Hugging Face
    # layout by albert-convert: learned weights, not random ones, must give the same top 5.
    import os
    from pathlib import Path

    from albert_tf.cli.convert import convert

    if "oracle" not in (request.config.option.markexpr or ""):
        pytest.skip("live oracle check: run `make parity` (pytest -m oracle)")
    source = Path(os.environ.get("ALBERT_TF_PRETRAINED_DIR",
                                 "/tmp/albert_tf_direct_use_acceptance/en/model/pretrained"))
    if not (source / "albert_config.json").exists():
        pytest.skip(f"no model pretrained by run_pretraining.py at {source}: run `make direct-use-acceptance` "
                    "or set ALBERT_TF_PRETRAINED_DIR")
    convert(str(source), str(tmp_path / "hf"), output_format="hf")
    rows = tok_io.read_lines(_real("glue/SST-2/dev.tsv"))[1:]
    # The recorded tokenizer keeps `` and '' (replace_quotes=false); transformers' rewrites them.
    texts = [r.split("\t")[0].strip() for r in rows if "``" not in r and "''" not in r][:200]
    masked = _mask_one(texts, 11, chinese=False)
    albert = inference.PretrainedAlbert.load(str(source), batch_size=64)
    mlm = transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "hf", attn_implementation="eager").eval()
    oracle = transformers.AlbertTokenizer(str(source / "30k-clean.model"))
    fill = transformers.pipeline("fill-mask", model=mlm, tokenizer=oracle, device="cpu")
    for text, per_mask in zip(masked, albert.fill_mask(masked, top_k=5)):
        want = fill(text, top_k=5)
        assert [c.token_id for c in per_mask[0]] == [w["token"] for w in want], text
        np.testing.assert_allclose([c.score for c in per_mask[0]], [w["score"] for w in want], atol=1e-5, rtol=0)
