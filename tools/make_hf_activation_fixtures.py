"""Regenerate tests/fixtures/hf_activations.json: transformers' ACT2FN over a grid of inputs.

For every activation name this project maps to or from transformers (`albert_tf.config.HF_ACTIVATION_OF`,
`ACTIVATION_OF_HF`), the values transformers' own function gives, so the default suite can check that each
name means the same function on both sides without importing torch. Needs the oracle extra:

    python tools/make_hf_activation_fixtures.py --out tests/fixtures/hf_activations.json
"""

import argparse
import json

import numpy as np

GRID = [float(x) for x in np.linspace(-6.0, 6.0, 49)]


def hf_values() -> dict:
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel
    from transformers.activations import ACT2FN  # pylint: disable=import-outside-toplevel

    from albert_tf.config import ACTIVATION_OF_HF, HF_ACTIVATION_OF  # pylint: disable=import-outside-toplevel

    names = sorted(set(HF_ACTIVATION_OF.values()) | set(ACTIVATION_OF_HF))
    x = torch.tensor(GRID, dtype=torch.float64)
    return {"transformers_version": transformers.__version__, "x": GRID, "act2fn_names": sorted(ACT2FN),
            "values": {name: ACT2FN[name](x).tolist() for name in names}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/hf_activations.json")
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(hf_values(), handle, indent=1, sort_keys=True)
        handle.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
