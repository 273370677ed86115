"""What the machine can do: precision and attention-kernel choices."""
import pytest
import torch

from trainer import hardware


def test_hardware_auto_attention_is_eager_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.resolve_attention("auto") == "eager"


def test_hardware_explicit_attention_is_kept():
    assert hardware.resolve_attention("sdpa") == "sdpa"
    assert hardware.resolve_attention("eager") == "eager"


def test_hardware_fp32_request_is_kept():
    assert hardware.resolve_precision("fp32") == "fp32"


@pytest.mark.parametrize("flags,expected", [({"avx512_bf16"}, "bf16"), ({"amx_bf16", "sse"}, "bf16"),
                                            ({"avx512f"}, "fp32")])
def test_hardware_auto_precision_follows_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.resolve_precision("auto") == expected


def test_hardware_threads_share_cores_among_local_processes(monkeypatch):
    monkeypatch.setattr(hardware, "cores_available", lambda: 8)
    assert hardware.thread_count(None, 2) == 4 and hardware.thread_count(3, 2) == 3
