"""Runs the modeling layers under the Keras backend named by KERAS_BACKEND (jax, torch), with no
TensorFlow, and writes what tests/test_backends.py compares against the TensorFlow backend.

    KERAS_BACKEND=jax python tests/backend_worker.py WORKDIR

WORKDIR holds `inputs.npz` and the `.weights.h5` files the TensorFlow side wrote; this writes
`WORKDIR/<backend>.npz` (outputs) and `WORKDIR/<backend>.json` (what was imported, errors seen).
It is a script rather than a test so that pytest's conftest (which configures TensorFlow) stays
out of the process. TensorFlow is made unimportable here, as on a machine without it: Keras itself
probes for it (`set_random_seed`, serialization) and carries on without it; an attempt from this
project's code is recorded, and the test fails on it.
"""

import importlib.abc
import importlib.machinery
import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = str(ROOT / "albert_tf")


class BlockTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: `import tensorflow` fails, and who asked is remembered.

    `find_spec` answers (torch probes with `importlib.util.find_spec` and expects an answer);
    executing the module is what fails.
    """

    def __init__(self):
        self.callers = []

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" and not name.startswith("tensorflow."):
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        frames = [f for f in traceback.extract_stack()[:-1]
                  if "importlib" not in f.filename and not f.filename.startswith("<frozen")]
        self.callers.append(f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?")
        raise ImportError(f"{module.__name__} is blocked: the modeling path must run without TensorFlow")


BLOCKER = BlockTensorFlow()
sys.path.insert(0, str(ROOT))
PARITY = ROOT / "tests" / "fixtures" / "parity"
HF_CASES = ("shared_g1_k1", "groups_g2_k2", "relu")
PRETRAINER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions")
ENCODER_INPUTS = PRETRAINER_INPUTS[:3]


def tiny_config():
    from albert_tf.config import AlbertConfig

    return AlbertConfig(vocab_size=64, embedding_size=8, hidden_size=16, num_hidden_layers=3,
                        num_attention_heads=2, intermediate_size=24, max_position_embeddings=32)


def parity_outputs(case):
    """Encoder and pretrainer outputs of a parity fixture, its safetensors loaded by the checkpoints code."""
    from albert_tf.checkpoints import load_config_for, load_weights
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer

    golden = np.load(PARITY / case / "golden.npz")
    model = AlbertPretrainer(AlbertEncoder(load_config_for(str(PARITY / case))))
    report = load_weights(model, str(PARITY / case), verbose=False)
    inputs = {name: golden[name] for name in PRETRAINER_INPUTS}
    outputs = model(inputs)
    encoded = model.encoder({name: inputs[name] for name in ENCODER_INPUTS})
    result = {"sequence_output": encoded["sequence_output"], "pooled_output": encoded["pooled_output"],
              "mlm_logits": outputs["mlm_logits"], "sop_logits": outputs["sop_logits"]}
    for i, layer in enumerate(encoded["encoder_outputs"]):
        result[f"encoder_output_{i}"] = layer
    return result, report.clean and not report.newly_initialized


def task_models(config, num_choices, choice_length):
    """The task models with task heads, built the same way on every backend.

    No `keras.utils.set_random_seed` here: it imports TensorFlow whenever it is installed (to
    seed it too), and the weights come from the TensorFlow side's files anyway.
    """
    from albert_tf.finetuning.modeling import MultipleChoiceScorer
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.squad.modeling import build_squad_model

    multiple_choice = MultipleChoiceScorer(AlbertClassifier(AlbertEncoder(config), 1), num_choices, choice_length)
    multiple_choice({name: np.zeros((1, num_choices * choice_length), np.int32) for name in ENCODER_INPUTS})
    return {"classifier": AlbertClassifier(AlbertEncoder(config), 3),
            "squad_span": build_squad_model(config, "span"),
            "squad_xlnet": build_squad_model(config, "xlnet"),
            "multiple_choice": multiple_choice}


def task_outputs(models, inputs):
    """{model/output: array} for the inputs of `inputs.npz`."""
    out = {}
    out["classifier/logits"] = models["classifier"]({k: inputs[k] for k in ENCODER_INPUTS})
    squad_inputs = {k: inputs[k] for k in ENCODER_INPUTS + ("p_mask",)}
    for name, value in models["squad_span"](squad_inputs).items():
        out[f"squad_span/{name}"] = value
    for name, value in models["squad_xlnet"](squad_inputs).items():
        out[f"squad_xlnet/{name}"] = value
    out["multiple_choice/logits"] = models["multiple_choice"]({k: inputs[f"mc_{k}"] for k in ENCODER_INPUTS})
    return out


def train_step_loss(inputs):
    """One compiled Keras training step of a classifier: the backend computes gradients and updates."""
    import keras

    from albert_tf.modeling import AlbertClassifier, AlbertEncoder

    model = AlbertClassifier(AlbertEncoder(tiny_config()), 3, dropout_rate=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = {k: inputs[k] for k in ENCODER_INPUTS}
    before = model.evaluate(x, inputs["labels"], verbose=0)
    for _ in range(3):
        model.train_on_batch(x, inputs["labels"])
    return float(before), float(model.evaluate(x, inputs["labels"], verbose=0))


def too_long_error(config):
    """The message for an input longer than max_position_embeddings."""
    from albert_tf.modeling import AlbertEncoder

    encoder = AlbertEncoder(config)
    length = config.max_position_embeddings + 1
    try:
        encoder({name: np.ones((1, length), np.int32) for name in ENCODER_INPUTS})
    except ValueError as err:
        return str(err)
    return None


def tensorflow_modules():
    return sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))


def main(workdir):
    import keras

    from albert_tf.checkpoints import load_weights

    backend = keras.backend.backend()
    inputs = dict(np.load(workdir / "inputs.npz"))
    arrays, status = {}, {"backend": backend}
    for case in HF_CASES:
        outputs, clean = parity_outputs(case)
        status[f"{case}/clean"] = bool(clean)
        arrays.update({f"{case}/{k}": keras.ops.convert_to_numpy(v) for k, v in outputs.items()})

    models = task_models(tiny_config(), int(inputs["num_choices"]), int(inputs["choice_length"]))
    # The classifier goes through the checkpoints code (mapped names, a report); the others are
    # Keras' own `.weights.h5` reading, which is what their jobs save.
    report = load_weights(models["classifier"], str(workdir / "classifier.weights.h5"), verbose=False)
    status["classifier/clean"] = bool(report.clean and not report.newly_initialized)
    for name in ("squad_span", "squad_xlnet", "multiple_choice"):
        models[name].load_weights(str(workdir / f"{name}.weights.h5"))
    arrays.update({k: keras.ops.convert_to_numpy(v) for k, v in task_outputs(models, inputs).items()})

    status["too_long_error"] = too_long_error(tiny_config())
    status["train_loss_before"], status["train_loss_after"] = train_step_loss(inputs)
    status["tensorflow_modules"] = tensorflow_modules()
    status["tensorflow_imports_from_project"] = [c for c in BLOCKER.callers if c.startswith(PACKAGE)]
    np.savez(workdir / f"{backend}.npz", **arrays)
    (workdir / f"{backend}.json").write_text(json.dumps(status, indent=1))


if __name__ == "__main__":
    if os.environ.get("KERAS_BACKEND") in (None, "", "tensorflow"):
        sys.exit("set KERAS_BACKEND=jax or KERAS_BACKEND=torch")
    sys.meta_path.insert(0, BLOCKER)
    main(Path(sys.argv[1]))
