"""What the machine computes fast: the CPU's matrix-instruction flags and the visible accelerators, and the
compute precision `--mixed_precision=auto` picks from them.

bfloat16 pays on a CPU only where TensorFlow's oneDNN kernels have bf16 matrix instructions to run on:
AMX (`amx_bf16`, Intel Sapphire Rapids and later, 3-4x float32 matmul throughput) or AVX-512 BF16
(`avx512_bf16`, AMD Zen 4 and later, Intel Cooper Lake, about 2x). Elsewhere bf16 is emulated and
slower than float32. The flags come from /proc/cpuinfo; off Linux none are known and auto stays float32.
"""

import dataclasses
from typing import FrozenSet, Optional, Sequence, Tuple

CPUINFO = "/proc/cpuinfo"
# The flags the choice (and its log line) looks at, best first.
BF16_MATRIX_FLAGS = ("amx_bf16", "avx512_bf16")
REPORTED_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
# --mixed_precision: the choices and their help, shared by every training command.
PRECISION_CHOICES = ["auto", "bf16", "fp16", "off"]
PRECISION_HELP = (
    "Compute dtype; variables, LayerNorm, the attention softmax, logits and losses stay float32. auto: bf16 on a "
    "CPU with bf16 matrix instructions (AMX amx_bf16 or AVX-512 avx512_bf16; oneDNN kernels), on TPUs and on GPUs "
    "of compute capability 8.0 or later, float32 elsewhere (the choice and its reason are logged). bf16 | fp16 "
    "(dynamic loss scaling) | off (float32) force one.")
# Compute capability from which NVIDIA GPUs have bf16 tensor cores (Ampere: A100, RTX 30xx, and later).
GPU_BF16_CAPABILITY = (8, 0)


def cpu_flags_from_text(cpuinfo_text: str) -> FrozenSet[str]:
    """The flags of /proc/cpuinfo text (x86 `flags`, ARM `Features`); those of the first processor."""
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_flags(path: str = CPUINFO) -> FrozenSet[str]:
    """This machine's CPU flags; empty where /proc/cpuinfo does not exist or cannot be read (macOS, Windows)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:  # a local system file, never a user path
            return cpu_flags_from_text(f.read())
    except OSError:
        return frozenset()


@dataclasses.dataclass(frozen=True)
class Machine:
    """What the precision choice depends on: the CPU flags and the accelerators TensorFlow sees."""

    cpu_flags: FrozenSet[str] = frozenset()
    tpus: int = 0
    gpu_capabilities: Tuple[Tuple[int, int], ...] = ()  # one (major, minor) per visible GPU

    @property
    def bf16_matrix_flag(self) -> Optional[str]:
        return next((flag for flag in BF16_MATRIX_FLAGS if flag in self.cpu_flags), None)


def auto_precision(machine: Machine, strategy: Optional[str] = None) -> Tuple[str, str]:
    """`--mixed_precision=auto`: ("bf16" | "off", the reason in words for the log line).

    TPU (a TPU strategy, or TPU devices): bf16, the MXU's native input type. GPUs: bf16 when every GPU
    has bf16 tensor cores (compute capability 8.0 or later), else float32 (fp16 with loss scaling stays a
    deliberate --mixed_precision=fp16). CPU: bf16 with AMX or AVX-512 BF16, else float32.
    """
    if strategy == "tpu" or machine.tpus:
        return "bf16", "TPU: computing in bfloat16 (the MXU's input type); --mixed_precision=off to force float32"
    if machine.gpu_capabilities:
        oldest = min(machine.gpu_capabilities)
        if oldest >= GPU_BF16_CAPABILITY:
            return "bf16", (f"GPU compute capability {oldest[0]}.{oldest[1]} has bf16 tensor cores: computing in "
                            "bfloat16; --mixed_precision=off to force float32")
        return "off", (f"GPU compute capability {oldest[0]}.{oldest[1]} has no bf16 tensor cores: computing in "
                       "float32; --mixed_precision=fp16 for half precision")
    flag = machine.bf16_matrix_flag
    if flag:
        return "bf16", f"CPU has {flag}: computing in bfloat16; --mixed_precision=off to force float32"
    known = [f for f in REPORTED_FLAGS if f in machine.cpu_flags]
    return "off", (f"CPU has no bf16 matrix instructions (flags: {', '.join(known) or 'none known'}): computing in "
                   "float32; --mixed_precision=bf16 to force bfloat16")


def serving_precision(requested: str, flags: FrozenSet[str]) -> Tuple[str, str]:
    """`--precision` of a served model (albert-export, albert-predict): ("fp32" | "bf16", reason); `auto` is
    bf16 on a CPU with bf16 matrix instructions (export on the kind of machine that serves)."""
    if requested not in ("fp32", "bf16", "auto"):
        raise ValueError(f"--precision={requested}: must be fp32, bf16 or auto")
    if requested != "auto":
        return requested, f"--precision={requested}"
    flag = Machine(frozenset(flags)).bf16_matrix_flag
    if flag:
        return "bf16", f"--precision=auto: CPU has {flag}: serving in bfloat16; --precision=fp32 for float32"
    return "fp32", "--precision=auto: CPU has no bf16 matrix instructions (amx_bf16, avx512_bf16): serving in float32"


def describe_cpu(flags: Sequence[str]) -> str:
    """The reported flags present, for benchmark records: e.g. 'avx2 avx512f avx512_bf16'."""
    return " ".join(f for f in REPORTED_FLAGS if f in flags) or "none known"
