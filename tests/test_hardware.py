"""What the machine can do: precision and attention-kernel choices."""
import pytest
import torch

from trainer.training import hardware


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU choice")
def test_hardware_auto_attention_is_eager_on_cpu():
    assert hardware.resolve_attention("auto") == "eager"


def test_hardware_explicit_attention_is_kept():
    assert hardware.resolve_attention("sdpa") == "sdpa"
    assert hardware.resolve_attention("eager") == "eager"


def test_hardware_fp32_request_is_kept():
    assert hardware.resolve_precision("fp32") == "fp32"
