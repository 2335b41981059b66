"""What a checkpoint load did: matched, missing, unused, mismatched, newly initialized."""

from __future__ import annotations

import dataclasses
from typing import List, Tuple


class CheckpointFormatError(ValueError):
    """A file that is not a readable checkpoint of a supported layout."""


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model; the message lists what and which config field."""


_MAX_LISTED = 12


def _capped(label, names):
    lines = [f"  {label}: {n}" for n in names[:_MAX_LISTED]]
    if len(names) > _MAX_LISTED:
        lines.append(f"  ... and {len(names) - _MAX_LISTED} more {label} entries")
    return lines


@dataclasses.dataclass
class LoadReport:
    source: str
    layout: str
    matched: List[str] = dataclasses.field(default_factory=list)
    missing: List[str] = dataclasses.field(default_factory=list)
    newly_initialized: List[str] = dataclasses.field(default_factory=list)
    unused: List[str] = dataclasses.field(default_factory=list)
    skipped: List[str] = dataclasses.field(default_factory=list)
    # (name, checkpoint shape, model shape, config field at fault)
    shape_mismatches: List[Tuple[str, tuple, tuple, str]] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.shape_mismatches or self.unused_encoder)

    @property
    def unused_encoder(self) -> List[str]:
        # Encoder weights left over (an extra group, a second layer set) mean the config
        # describes a different model than the checkpoint holds.
        return [n for n in self.unused if n.startswith("bert/")]

    def summary(self) -> str:
        lines = [f"checkpoint {self.source} (layout: {self.layout}): {len(self.matched)} matched, "
                 f"{len(self.missing)} missing, {len(self.shape_mismatches)} shape mismatches, "
                 f"{len(self.unused)} unused, {len(self.newly_initialized)} newly initialized, "
                 f"{len(self.skipped)} optimizer/bookkeeping/alias variables skipped"]
        for name, have, want, field in self.shape_mismatches:
            lines.append(f"  shape mismatch: {name}: checkpoint {list(have)} vs model {list(want)} "
                         f"(check config field '{field}')")
        lines += _capped("missing from checkpoint", self.missing)
        lines += _capped("unused checkpoint variable", self.unused)
        lines += _capped("newly initialized (task head)", self.newly_initialized)
        return "\n".join(lines)

    __str__ = summary

    def raise_if_incomplete(self, allow_partial: bool = False) -> "LoadReport":
        if self.clean or allow_partial:
            return self
        hint = ""
        if self.missing and all("group_" in n for n in self.missing):
            hint = ("\nthe checkpoint has fewer weight groups than the config: check config fields "
                    "'num_hidden_groups' and 'inner_group_num'")
        elif self.unused_encoder and any("group_" in n for n in self.unused_encoder):
            hint = ("\nthe checkpoint has more weight groups than the config: check config fields "
                    "'num_hidden_groups' and 'inner_group_num'")
        elif any("embedding_hidden_mapping_in" in n for n in self.unused_encoder + self.missing):
            hint = "\ncheck config fields 'embedding_size' and 'hidden_size' (the E→H mapping exists only if E≠H)"
        raise CheckpointMismatchError(
            f"checkpoint does not fit the model; pass allow_partial=True only if that is intended.\n"
            f"{self.summary()}{hint}")
