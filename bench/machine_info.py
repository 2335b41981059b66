"""Machine facts every benchmark report states next to its figures: CPU model, the instruction-set
flags that decide which kernels run (AVX2, AVX-512, bf16, VNNI, AMX), cores and memory."""

import os
import platform

from albert_tf.training import cpu_features

# The flags that change which matmul kernels oneDNN, XLA and PyTorch pick: AVX2/FMA (the baseline),
# AVX-512 (wider fp32), AVX-512 bf16 and VNNI (bf16 / int8 dot products), AMX (bf16 tile matmuls).
FLAGS_THAT_MATTER = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16")


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def flags_from_cpuinfo(text: str) -> dict:
    """{flag: present} for FLAGS_THAT_MATTER, read from /proc/cpuinfo text the way
    `--mixed_precision=auto` reads it (`training.cpu_features`); None for every flag when the text
    lists no flags (not Linux)."""
    present = cpu_features.cpu_flags_from_text(text)
    if not present:
        return {flag: None for flag in FLAGS_THAT_MATTER}
    return {flag: flag in present for flag in FLAGS_THAT_MATTER}


def cpu_flags() -> dict:
    return flags_from_cpuinfo(_cpuinfo())


def describe_flags(flags: dict) -> str:
    """'avx2 fma avx512f avx512_bf16 ...; no amx_tile amx_bf16' (or 'unknown' off Linux)."""
    if all(value is None for value in flags.values()):
        return "CPU flags unknown"
    have = [f for f, v in flags.items() if v]
    lack = [f for f, v in flags.items() if not v]
    return "CPU flags: " + (" ".join(have) or "none of " + " ".join(FLAGS_THAT_MATTER)) + (
        "; no " + " ".join(lack) if lack else "")


def mem_total_gib() -> float:
    """Physical memory in GiB (nan when it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024 / 2**30
    except OSError:
        pass
    return float("nan")


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def describe() -> str:
    """One line for a report: model, usable cores, memory and the flags that matter."""
    return (f"{cpu_model()}, {cpu_count()} CPUs, {mem_total_gib():.0f} GiB; {describe_flags(cpu_flags())}")


if __name__ == "__main__":
    print(describe())
