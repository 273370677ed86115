"""What the machine can do: bf16 support, usable cores, a description for meta.json."""
from __future__ import annotations

import os
import platform
import sys
from functools import lru_cache
from pathlib import Path

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")   # without these, CPU bf16 is emulated and slower than fp32


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def cpu_supports_bf16() -> bool:
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def gpu_name() -> str | None:
    """The first GPU's name; None without one, or when torch was never imported (a run that needs no torch
    does not pay for importing it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def default_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def bf16_available() -> bool:
    """bf16 pays off here: a GPU that supports it, or a CPU with native bf16 instructions."""
    import torch
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_supports_bf16()


def resolve_precision(requested: str) -> str:
    if requested == "auto":
        return "bf16" if bf16_available() else "fp32"
    return requested


def resolve_attention(requested: str) -> str:
    """auto: the fused SDPA kernel on GPU; eager on CPU, where SDPA's backward pass is the slower one."""
    if requested == "auto":
        import torch
        return "sdpa" if torch.cuda.is_available() else "eager"
    return requested


def thread_count(requested: int | None, local_world_size: int = 1) -> int:
    """Torch threads per process: the configured count, or the cores shared among local processes."""
    if requested is not None:
        return requested
    return max(1, cores_available() // max(1, local_world_size))


def describe() -> dict:
    return {"cpu_model": cpu_model(), "cores_available": cores_available(), "cpu_count": os.cpu_count(),
            "cpu_bf16": cpu_supports_bf16(), "gpu": gpu_name(), "platform": platform.platform()}
