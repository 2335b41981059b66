"""Direct use against Hugging Face transformers on the same weights (golden values from
tools/make_direct_use_fixtures.py): fill-mask pipeline, AlbertModel CLS / mean vectors, SOP."""

import json

import numpy as np
import pytest

from albert_tf import inference

from conftest import FIXTURES


@pytest.fixture(scope="module", params=["en", "zh"])
def case(request):
    directory = FIXTURES / "direct_use" / request.param
    with open(directory / "golden.json", encoding="utf-8") as handle:
        golden = json.load(handle)
    return inference.PretrainedAlbert.load(str(directory), batch_size=7), golden


def test_token_ids_match_the_oracle_tokenizer(case):
    albert, golden = case
    tok = albert.tokenizer
    ours = [tok.pack(t, max_seq_length=64) for t in golden["texts"]]
    assert [p.input_ids[:sum(p.input_mask)] for p in ours] == golden["oracle_token_ids"]


def test_fill_mask_matches_the_pipeline(case):
    albert, golden = case
    results = albert.fill_mask(golden["texts"], top_k=5)
    assert sum(len(r) for r in results) > len(golden["texts"])  # some texts hold two masks
    for text, per_mask, ids, scores in zip(golden["texts"], results, golden["fill_mask_ids"],
                                           golden["fill_mask_scores"]):
        assert [[c.token_id for c in m] for m in per_mask] == ids, text
        np.testing.assert_allclose([[c.score for c in m] for m in per_mask], scores, atol=1e-5, rtol=0)


def test_cls_and_mean_vectors_match_albert_model(case):
    albert, golden = case
    np.testing.assert_allclose(albert.embed(golden["embed_texts"], pooling="cls"), golden["cls"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(albert.embed(golden["embed_texts"], pooling="mean"), golden["mean"], atol=1e-5,
                               rtol=0)


def test_sentence_order_matches_the_sop_head(case):
    albert, golden = case
    a, b = zip(*golden["sop_pairs"])
    np.testing.assert_allclose(albert.sentence_order(a, b), golden["sop_in_order"], atol=1e-5, rtol=0)
