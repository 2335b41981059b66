"""The direct-use API: fill-mask, sentence order and embeddings from a saved pretrained model."""

import json

import numpy as np
import pytest
import tensorflow as tf

import cli_testlib
import tokenization_testlib as testlib

from albert_tf import checkpoints, inference  # noqa: E402
from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.modeling.encoder import AlbertEncoder  # noqa: E402
from albert_tf.modeling.models import AlbertPretrainer  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, save_tokenizer_assets  # noqa: E402

SENTENCES = ["the cat sat on the mat .", "a", "numbers like 1,000, and 12, are here", "中文 句子 在 这里",
             "a much longer sentence that goes on and on with many words in it to be the longest row",
             "short one", "", "the end"]
MASKED = ["the [MASK] sat on the mat .", "[MASK] and [MASK] again", "a [MASK]", "中[MASK]句子",
          "a much longer sentence that goes on and on with [MASK] words in it to be the longest row"]


def _config(vocab_size):
    return AlbertConfig(vocab_size=vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=24, max_position_embeddings=128)


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A pretraining checkpoint with both heads (TF1 layout) and an encoder-only HF save, same tokenizer."""
    root = tmp_path_factory.mktemp("direct")
    (root / "spm").mkdir()
    tok = SentencePieceTokenizer(testlib.build_spm_model(root / "spm"))
    model = AlbertPretrainer(AlbertEncoder(_config(tok.vocab_size)))
    model(dict(model.encoder.dummy_inputs(), masked_lm_positions=tf.zeros([1, 1], tf.int32)))
    _randomize(model, 3)
    full, bare = root / "full", root / "encoder_only"
    full.mkdir()
    checkpoints.save_tf1(model, str(full / "model.ckpt"))
    save_tokenizer_assets(tok, full)
    checkpoints.save_hf(model.encoder, str(bare))
    save_tokenizer_assets(tok, bare)
    return {"full": full, "bare": bare, "model": model, "tok": tok}


@pytest.fixture(scope="module")
def albert(saved):
    return inference.PretrainedAlbert.load(str(saved["full"]), batch_size=3)


def test_fill_mask_scores_come_from_the_pretraining_head(saved, albert):
    results = albert.fill_mask(MASKED, top_k=4)
    assert [len(r) for r in results] == [t.count("[MASK]") for t in MASKED]
    tok, model = albert.tokenizer, saved["model"]
    for text, per_mask in zip(MASKED, results):
        packed = tok.pack(text, max_seq_length=128)
        positions = [p for p, i in enumerate(packed.input_ids) if i == tok.mask_id]
        logits = model({"input_word_ids": np.array([packed.input_ids]), "input_mask": np.array([packed.input_mask]),
                        "input_type_ids": np.array([packed.segment_ids]),
                        "masked_lm_positions": np.array([positions])})["mlm_logits"][0].numpy()
        probs = tf.nn.softmax(logits).numpy()
        for m, candidates in enumerate(per_mask):
            assert [c.token_id for c in candidates] == list(np.argsort(-probs[m], kind="stable")[:4])
            np.testing.assert_allclose([c.score for c in candidates], np.sort(probs[m])[::-1][:4], atol=1e-5)
            best = candidates[0]
            assert best.token == tok.convert_ids_to_tokens([best.token_id])[0]
            assert best.sequence.count("[MASK]") == text.count("[MASK]") - 1


def test_batch_of_one_matches_batch_of_many(albert):
    for pooling in ("pooled", "cls", "mean", "max"):
        many = albert.embed(SENTENCES, pooling=pooling)
        one = np.concatenate([albert.embed([s], pooling=pooling) for s in SENTENCES])
        np.testing.assert_allclose(many, one, atol=1e-5)
    many = albert.fill_mask(MASKED)
    one = [albert.fill_mask([t])[0] for t in MASKED]
    for a, b in zip(many, one):
        for ca, cb in zip(a, b):
            assert [c.token_id for c in ca] == [c.token_id for c in cb]
            np.testing.assert_allclose([c.score for c in ca], [c.score for c in cb], atol=1e-5)
    pairs = (SENTENCES, SENTENCES[::-1])
    np.testing.assert_allclose(albert.sentence_order(*pairs),
                               [albert.sentence_order([a], [b])[0] for a, b in zip(*pairs)], atol=1e-5)


def test_embeddings_pool_the_encoder_outputs(saved, albert):
    tok, encoder = saved["tok"], saved["model"].encoder
    packed = tok.pack(SENTENCES[0], max_seq_length=128)
    n = sum(packed.input_mask)
    out = encoder({"input_word_ids": np.array([packed.input_ids[:n]]), "input_mask": np.ones((1, n), np.int32),
                   "input_type_ids": np.zeros((1, n), np.int32)})
    first = out["encoder_outputs"][0][0].numpy()
    np.testing.assert_allclose(albert.embed(SENTENCES[:1], pooling="mean", layer=0)[0], first.mean(0), atol=1e-5)
    np.testing.assert_allclose(albert.embed(SENTENCES[:1], pooling="max", layer=-2)[0], first.max(0), atol=1e-5)
    np.testing.assert_allclose(albert.embed(SENTENCES[:1], pooling="cls")[0], out["sequence_output"][0, 0], atol=1e-5)
    np.testing.assert_allclose(albert.embed(SENTENCES[:1])[0], out["pooled_output"][0], atol=1e-5)
    unit = albert.embed(SENTENCES, pooling="mean", normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)


def test_sentence_order_is_the_in_order_probability(saved, albert):
    tok, model = saved["tok"], saved["model"]
    packed = tok.pack("first part", "second part", max_seq_length=128)
    logits = model({"input_word_ids": np.array([packed.input_ids]), "input_mask": np.array([packed.input_mask]),
                    "input_type_ids": np.array([packed.segment_ids]),
                    "masked_lm_positions": np.zeros((1, 1), np.int32)})["sop_logits"]
    np.testing.assert_allclose(albert.sentence_order(["first part"], ["second part"]),
                               tf.nn.softmax(logits)[:, 0], atol=1e-6)


def test_bad_calls_are_refused_clearly(albert):
    with pytest.raises(ValueError, match=r"text 1: no \[MASK\]"):
        albert.fill_mask(["a [MASK]", "no mask here"])
    with pytest.raises(ValueError, match=r"text 0: 1 of its 1 \[MASK\] fall past max_seq_length=128"):
        albert.fill_mask(["word " * 200 + "[MASK]"])
    with pytest.raises(ValueError, match="pooling must be one of"):
        albert.embed(["x"], pooling="sum")
    with pytest.raises(ValueError, match="'pooled' reads the last layer only"):
        albert.embed(["x"], layer=0)
    with pytest.raises(ValueError, match="layer must be in -2..1"):
        albert.embed(["x"], pooling="cls", layer=2)
    with pytest.raises(TypeError, match="not one string"):
        albert.embed("x")
    with pytest.raises(ValueError, match="got 2 first texts but 1 second texts"):
        albert.sentence_order(["a", "b"], ["c"])


def test_heads_missing_from_the_checkpoint_are_refused(saved):
    bare = inference.PretrainedAlbert.load(str(saved["bare"]))
    assert bare.missing_heads == {"mlm", "sop"}
    with pytest.raises(inference.MissingHeadError, match="sentence_order: .* no sentence-order head"):
        bare.sentence_order(["a"], ["b"])
    with pytest.raises(inference.MissingHeadError, match="fill_mask: .* no masked-LM head"):
        bare.fill_mask(["a [MASK]"])
    assert bare.embed(["still embeds"], pooling="mean").shape == (1, 16)


def test_albert_predict_tasks_write_jsonl_and_npy(saved, albert, tmp_path):
    predict = cli_testlib.command("predict")  # beside the other commands' modules (flags of the same name)
    masked = tmp_path / "masked.tsv"
    masked.write_text("text\n" + "\n".join(MASKED) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "filled.jsonl"
    assert predict.predict_file(str(saved["full"]), str(masked), str(out), task="fill-mask", top_k=3,
                                batch_size=2, log_every=2) == len(MASKED)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == list(range(2, 2 + len(MASKED)))  # line numbers
    expected = albert.fill_mask(MASKED, top_k=3)
    assert [[[c["token_id"] for c in m] for m in r["masks"]] for r in records] == \
        [[[c.token_id for c in m] for m in per_text] for per_text in expected]

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"key": f"p{i}", "text_a": a, "text_b": b}) + "\n"
                             for i, (a, b) in enumerate(zip(SENTENCES, SENTENCES[1:]))), encoding="utf-8")
    out = tmp_path / "order.jsonl"
    predict.predict_file(str(saved["full"]), str(pairs), str(out), task="sentence-order", id_spec="key")
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["id"] == "p0"
    np.testing.assert_allclose([r["in_order"] for r in records],
                               albert.sentence_order(SENTENCES[:-1], SENTENCES[1:]), atol=1e-6)

    texts = tmp_path / "texts.tsv"
    texts.write_text("text\n" + "\n".join(s for s in SENTENCES if s) + "\n", encoding="utf-8")
    out = tmp_path / "vectors.jsonl"
    predict.predict_file(str(saved["full"]), str(texts), str(out), task="embed", pooling="mean", normalize=True)
    vectors = np.load(tmp_path / "vectors.npy")
    rows = [json.loads(line)["row"] for line in out.read_text(encoding="utf-8").splitlines()]
    np.testing.assert_allclose(vectors[rows], albert.embed([s for s in SENTENCES if s], pooling="mean",
                                                            normalize=True), atol=1e-6)


def test_albert_predict_tasks_refuse_bad_input_before_loading(saved, tmp_path):
    predict = cli_testlib.command("predict")  # beside the other commands' modules (flags of the same name)
    texts = tmp_path / "texts.tsv"
    texts.write_text("text\nthe [MASK] sat\nno mask\n", encoding="utf-8")
    with pytest.raises(predict.InputError, match=r"texts.tsv: row 3 has no \[MASK\]"):
        predict.predict_file(str(saved["full"]), str(texts), str(tmp_path / "o.jsonl"), task="fill-mask")
    with pytest.raises(ValueError, match=r"--task=embed writes .jsonl"):
        predict.predict_file(str(saved["full"]), str(texts), str(tmp_path / "o.tsv"), task="embed")
    wide = tmp_path / "wide.tsv"
    wide.write_text("a\tb\tc\nx\ty\tz\n", encoding="utf-8")
    with pytest.raises(predict.InputError, match=r"wide.tsv:1: header .* does not name the model's text inputs"):
        predict.predict_file(str(saved["full"]), str(wide), str(tmp_path / "o.jsonl"), task="sentence-order")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["texts.tsv", "wide.tsv"]


def test_encoder_export_serves_direct_use_from_raw_text(saved, albert, tmp_path):
    from albert_tf import export
    from albert_tf.export import direct_check
    info = export.export_encoder(saved["model"], saved["tok"], str(tmp_path / "exp"), max_seq_length=64)
    assert {"embed": ["text"], "fill_mask": ["text"], "sentence_order": ["text_a", "text_b"]}.items() <= \
        info["signatures"].items()
    assert info["max_abs_difference"] < 1e-5  # the fresh-process check ran the direct-use signatures too
    loaded = tf.saved_model.load(str(tmp_path / "exp" / "encoder"))
    out = loaded.signatures["fill_mask"](text=tf.constant(["no mask", "a [MASK] b [MASK]"]))
    assert out["num_masks"].numpy().tolist() == [0, 2]
    expected = albert.fill_mask(["a [MASK] b [MASK]"], top_k=5)[0]
    assert out["top_ids"].numpy()[1].tolist() == [[c.token_id for c in m] for m in expected]
    assert [t.decode() for t in out["top_tokens"].numpy()[1, 0]] == [c.token for c in expected[0]]
    assert out["mask_positions"].numpy()[0].tolist() == [-1, -1]
    vectors = loaded.signatures["embed"](text=tf.constant(list(direct_check.EMBED_SAMPLES)))
    np.testing.assert_allclose(vectors["mean"], albert.embed(list(direct_check.EMBED_SAMPLES), pooling="mean"),
                               atol=1e-5)

    # albert-predict --task over the export (given as its parent directory) writes what the checkpoint gives.
    predict = cli_testlib.command("predict")  # beside the other commands' modules (flags of the same name)
    masked = tmp_path / "masked.tsv"
    masked.write_text("text\n" + "\n".join(MASKED) + "\n", encoding="utf-8")
    for model in (tmp_path / "exp", saved["full"]):
        predict.predict_file(str(model), str(masked), str(tmp_path / f"{model.name}.jsonl"), task="fill-mask",
                             top_k=3, batch_size=2, max_seq_length=64)
    assert (tmp_path / "exp.jsonl").read_text(encoding="utf-8").count('"token_id"') == 3 * 6
    from_export, from_checkpoint = [[json.loads(line) for line in (tmp_path / f"{name}.jsonl").open(encoding="utf-8")]
                                    for name in ("exp", "full")]
    for a, b in zip(from_export, from_checkpoint):
        assert [[c["token_id"] for c in m] for m in a["masks"]] == [[c["token_id"] for c in m] for m in b["masks"]]
        assert [[c["sequence"] for c in m] for m in a["masks"]] == [[c["sequence"] for c in m] for m in b["masks"]]
    with pytest.raises(ValueError, match=r"--top_k=9: the export serves 5 candidates per mask"):
        predict.predict_file(str(tmp_path / "exp"), str(masked), str(tmp_path / "o.jsonl"), task="fill-mask", top_k=9)
    with pytest.raises(ValueError, match=r"--layer=0: an export's embed signature pools the last layer only"):
        predict.predict_file(str(tmp_path / "exp"), str(masked), str(tmp_path / "o.jsonl"), task="embed", layer=0)


def test_encoder_export_without_heads_has_embed_only(saved, tmp_path):
    from albert_tf import export
    info = export.export_encoder(saved["model"].encoder, saved["tok"], str(tmp_path / "exp"), max_seq_length=64,
                                 check=False)
    assert "embed" in info["signatures"] and not {"fill_mask", "sentence_order"} & set(info["signatures"])
    assert (info["mlm"], info["sop"]) == (False, False)
    predict = cli_testlib.command("predict")  # beside the other commands' modules (flags of the same name)
    texts = tmp_path / "t.tsv"
    texts.write_text("text\na [MASK]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"the export has no fill_mask signature"):
        predict.predict_file(str(tmp_path / "exp"), str(texts), str(tmp_path / "o.jsonl"), task="fill-mask")
