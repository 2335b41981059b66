"""Counters gathered while generating, merged across work units, reported at the end."""

import collections
import dataclasses
from typing import Dict


@dataclasses.dataclass
class GenerationStats:
    input_bytes: int = 0
    lines: int = 0
    documents: int = 0
    tokens: int = 0
    skipped_long_lines: int = 0
    skipped_invalid_lines: int = 0
    skipped_empty_documents: int = 0
    instances: int = 0
    real_tokens: int = 0            # [CLS]/[SEP] included, padding excluded
    truncated_instances: int = 0
    label_one: int = 0              # SOP swapped / NSP random next
    b_from_other_document: int = 0  # single-segment chunks (and NSP negatives)
    predictions: int = 0
    replaced_with_mask: int = 0
    kept_original: int = 0
    replaced_random: int = 0
    ngram_drawn: Dict[int, int] = dataclasses.field(default_factory=collections.Counter)
    ngram_used: Dict[int, int] = dataclasses.field(default_factory=collections.Counter)

    def merge(self, other: "GenerationStats") -> "GenerationStats":
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, dict):
                merged = collections.Counter(mine)
                merged.update(theirs)
                setattr(self, field.name, merged)
            else:
                setattr(self, field.name, mine + theirs)
        return self

    def summary(self) -> dict:
        """Counts plus the derived rates; JSON-ready (written into dataset_meta.json)."""
        def ratio(a, b):
            return round(a / b, 6) if b else 0.0

        def histogram(counter):
            total = sum(counter.values())
            return {str(n): ratio(counter[n], total) for n in sorted(counter)}

        counts = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if not isinstance(getattr(self, f.name), dict)}
        counts.update({
            "masked_fraction": ratio(self.predictions, self.real_tokens),
            "label_one_fraction": ratio(self.label_one, self.instances),
            "b_from_other_document_fraction": ratio(self.b_from_other_document, self.instances),
            "truncation_rate": ratio(self.truncated_instances, self.instances),
            "average_length": ratio(self.real_tokens, self.instances),
            "mask_token_fraction": ratio(self.replaced_with_mask, self.predictions),
            "kept_fraction": ratio(self.kept_original, self.predictions),
            "random_token_fraction": ratio(self.replaced_random, self.predictions),
            "ngram_drawn_histogram": histogram(self.ngram_drawn),
            "ngram_used_histogram": histogram(self.ngram_used),
        })
        return counts

    def report_lines(self, label_name: str):
        s = self.summary()
        yield (f"{s['instances']:,} instances from {s['documents']:,} documents "
               f"({s['tokens']:,} tokens, {s['input_bytes'] / 1e6:.1f} MB of text)")
        if s["instances"]:
            yield (f"masked fraction {s['masked_fraction']:.4f} of real tokens "
                   f"(mask/keep/random {s['mask_token_fraction']:.3f}/{s['kept_fraction']:.3f}/"
                   f"{s['random_token_fraction']:.3f}); {label_name} label 1 for {s['label_one_fraction']:.3f}")
            yield (f"average length {s['average_length']:.1f} tokens; truncated {s['truncation_rate']:.3f}; "
                   f"n-gram spans drawn {s['ngram_drawn_histogram']} used {s['ngram_used_histogram']}")
        if label_name == "SOP" and s["b_from_other_document_fraction"] > 0.25:
            yield (f"warning: {s['b_from_other_document_fraction']:.0%} of pairs took B from another document "
                   "because their chunk was a single line; SOP wants one sentence per line (is the input "
                   "one paragraph per line?)")
        skipped = {k: s[k] for k in ("skipped_long_lines", "skipped_invalid_lines", "skipped_empty_documents")
                   if s[k]}
        if skipped:
            yield f"skipped: {skipped}"
