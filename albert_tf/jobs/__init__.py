"""Fine-tuning jobs on one runner: `runner` owns the run (checks, strategy, build, train, evaluation
every N steps, best checkpoint, seeds, export, the output lock); a task family (`classifier`,
`squad`) supplies only its data, head, loss, metrics and outputs. Every setting is declared once in
`settings`, which makes both the dataclass field and the absl flag.

This package sits above `finetuning`, `squad` and `export`: it imports them, none of them imports it.
"""
