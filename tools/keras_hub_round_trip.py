"""keras-hub round trip both ways on real sentences (SST-2 dev with ALBERT's English SentencePiece model).

  python tools/keras_hub_round_trip.py --tsv ../shared/realdata/glue/SST-2/dev.tsv \
      --spm ../shared/realdata/assets/albert_en_spm/30k-clean.model

1. ours → keras-hub: a randomly initialized ALBERT classifier (vocabulary of the real model) saved as a model
   directory, converted by `albert-convert --output_format keras_hub`, loaded by keras-hub's
   `AlbertTextClassifier.from_preset` WITH its own preprocessor on the raw sentences, against our tokenizer +
   model: token-id agreement (sentences whose packed ids are identical) and max |logit diff|, and the
   backbone's sequence/pooled outputs on our ids.
2. keras-hub → ours: a randomly initialized keras-hub `AlbertTextClassifier` saved with `save_to_preset`,
   converted by `albert-convert --input <preset>` to a model directory, run by our tokenizer + model on the
   raw sentences against keras-hub's own `predict`.

Random weights are perturbed away from keras' initial zeros and ones, so every variable matters.
Needs keras-hub (`pip install 'albert-tf[kerashub]'`). Prints one line per check; exits 1 when a
difference exceeds --tolerance or a token id differs.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf import model_directory  # noqa: E402
from albert_tf.cli import convert  # noqa: E402
from albert_tf.config import AlbertConfig, preset  # noqa: E402
from albert_tf.modeling import AlbertClassifier, AlbertEncoder  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, load_tokenizer  # noqa: E402


def read_sentences(path, limit):
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        column = header.index("sentence")
        rows = [line.rstrip("\n").split("\t")[column] for line in handle if line.strip()]
    return rows[:limit] if limit else rows


def perturb(model, seed):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(variable.numpy() + rng.normal(0, 0.02, variable.shape).astype(np.float32))


def ours_inputs(tokenizer, sentences, length):
    packed = [tokenizer.pack(text, max_seq_length=length) for text in sentences]
    return {"input_word_ids": np.asarray([p.input_ids for p in packed], np.int32),
            "input_mask": np.asarray([p.input_mask for p in packed], np.int32),
            "input_type_ids": np.asarray([p.segment_ids for p in packed], np.int32)}


def hub_ids(preprocessor, sentences, batch=128):
    out = {"token_ids": [], "padding_mask": [], "segment_ids": []}
    for start in range(0, len(sentences), batch):
        packed = preprocessor(np.asarray(sentences[start:start + batch]))
        for key in out:
            out[key].append(np.asarray(packed[key]))
    return {key: np.concatenate(value) for key, value in out.items()}


def agreement(ours, theirs):
    same = np.all(ours["input_word_ids"] == theirs["token_ids"], axis=1)
    return int(same.sum()), len(same)


def masked_max(a, b, mask):
    return float((np.abs(np.asarray(a) - np.asarray(b)) * mask[..., None]).max())


def ours_to_keras_hub(config, tokenizer, sentences, length, work):
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    model = AlbertClassifier(AlbertEncoder(config), 2)
    inputs = ours_inputs(tokenizer, sentences, length)
    model(ours_inputs(tokenizer, sentences[:2], length))
    perturb(model, 1)
    directory = os.path.join(work, "ours")
    task = {"kind": "classification", "task_name": "sst-2", "labels": ["0", "1"], "max_seq_length": length}
    model_directory.save_model_directory(directory, model, tokenizer, task)
    preset_dir = os.path.join(work, "ours_preset")
    convert.convert(directory, preset_dir, "keras_hub")

    classifier = keras_hub.models.AlbertTextClassifier.from_preset(preset_dir)
    theirs = hub_ids(classifier.preprocessor, sentences)
    same, total = agreement(inputs, theirs)
    logits_theirs = classifier.predict(np.asarray(sentences), batch_size=64, verbose=0)
    logits_ours = model.predict(inputs, batch_size=64, verbose=0)
    backbone = classifier.backbone
    hub_inputs = {"token_ids": inputs["input_word_ids"], "segment_ids": inputs["input_type_ids"],
                  "padding_mask": inputs["input_mask"]}
    out_theirs = backbone.predict(hub_inputs, batch_size=64, verbose=0)
    out_ours = model.encoder.predict(inputs, batch_size=64, verbose=0)
    return {"token ids identical": f"{same}/{total}",
            "max |logit diff| (raw text, each side's tokenizer)": float(np.abs(logits_theirs - logits_ours).max()),
            "max |sequence_output diff| (our ids)": masked_max(out_theirs["sequence_output"],
                                                               out_ours["sequence_output"], inputs["input_mask"]),
            "max |pooled_output diff| (our ids)": float(np.abs(out_theirs["pooled_output"]
                                                               - out_ours["pooled_output"]).max())}


def keras_hub_to_ours(config, spm_path, sentences, length, work):
    import keras
    import keras_hub

    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
        embedding_dim=config.embedding_size, hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        num_groups=config.num_hidden_groups, num_inner_repetitions=config.inner_group_num,
        max_sequence_length=config.max_position_embeddings)
    tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_path)
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer, sequence_length=length)
    classifier = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    perturb(classifier, 3)
    preset_dir = os.path.join(work, "hub_preset")
    classifier.save_to_preset(preset_dir)
    directory = os.path.join(work, "from_hub")
    convert.convert(preset_dir, directory, "model_dir")

    saved = model_directory.read_model_directory(directory)
    ours = model_directory.build_model(saved.config, saved.task)
    model_directory.load_model_weights(ours, saved)
    our_tokenizer = load_tokenizer(directory)
    inputs = ours_inputs(our_tokenizer, sentences, length)
    theirs = hub_ids(preprocessor, sentences)
    same, total = agreement(inputs, theirs)
    logits_theirs = classifier.predict(np.asarray(sentences), batch_size=64, verbose=0)
    logits_ours = ours.predict(inputs, batch_size=64, verbose=0)
    return {"token ids identical": f"{same}/{total}",
            "max |logit diff| (raw text, each side's tokenizer)": float(np.abs(logits_theirs - logits_ours).max())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tsv", required=True, help="GLUE tsv with a 'sentence' column (SST-2 dev)")
    parser.add_argument("--spm", required=True, help="ALBERT English SentencePiece .model")
    parser.add_argument("--preset", default=None, help="model shape from a released config (e.g. albert_base_v2); "
                                                       "default: a small 4-layer shape with the real vocabulary")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all)")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    for path in (args.tsv, args.spm):
        if not os.path.exists(path):
            parser.error(f"{path}: not found")
    try:
        import keras_hub  # noqa: F401
    except ImportError:
        parser.error("keras-hub is not installed: pip install 'albert-tf[kerashub]'")

    tokenizer = SentencePieceTokenizer(args.spm)
    sentences = read_sentences(args.tsv, args.limit)
    if args.preset:
        config = preset(args.preset)
    else:
        config = AlbertConfig(vocab_size=tokenizer.vocab_size, embedding_size=128, hidden_size=256,
                              num_hidden_layers=4, num_hidden_groups=2, inner_group_num=1, num_attention_heads=4,
                              intermediate_size=1024, max_position_embeddings=512)
    print(f"{len(sentences)} sentences from {args.tsv}; model: {args.preset or 'small'} "
          f"(L={config.num_hidden_layers}, H={config.hidden_size}, E={config.embedding_size}, "
          f"G={config.num_hidden_groups}); max_seq_length {args.max_seq_length}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="keras-hub-round-trip-") as work:
        for title, run in (("ours -> keras-hub", lambda: ours_to_keras_hub(config, tokenizer, sentences,
                                                                             args.max_seq_length, work)),
                           ("keras-hub -> ours", lambda: keras_hub_to_ours(config, args.spm, sentences,
                                                                             args.max_seq_length, work))):
            for name, value in run().items():
                print(f"{title}: {name}: {value if isinstance(value, str) else f'{value:.3g}'}")
                if isinstance(value, float):
                    failed |= value > args.tolerance
                else:
                    same, total = value.split("/")
                    failed |= same != total
    print("FAILED" if failed else f"OK: within {args.tolerance:g}, token ids identical")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
