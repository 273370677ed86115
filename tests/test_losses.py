"""model.loss: the long-tail multi-label losses (distribution-balanced, asymmetric) against hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tiny_run_tree
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError
from trainer.models.transformer.losses import (ASL_CLIP, DB_ALPHA, DB_BETA, DB_MU, DB_NEG_SCALE, LongTailLoss,
                                               asymmetric_loss)

COUNTS, N = [3000, 300, 30, 3], 7000


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_losses_bce_is_plain_binary_cross_entropy():
    logits, labels = torch.tensor([[1.0, -2.0, 0.5, -7.0]]), torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    assert LongTailLoss("bce", COUNTS, N)(logits, labels).item() == pytest.approx(expected.item())


def test_losses_rebalance_weights_hand_computed():
    loss = LongTailLoss("distribution_balanced", COUNTS, N)
    labels = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    w = loss.rebalance_weights(labels)
    # document 2 has labels 1 (300) and 3 (3): its sampling rate is 1/300 + 1/3
    rate = 1 / 300 + 1 / 3
    for j, c in enumerate(COUNTS):
        assert w[1, j].item() == pytest.approx(_sigmoid(DB_BETA * ((1 / c) / rate - DB_MU)) + DB_ALPHA, rel=1e-5)
    # in a document of a rare label, its frequent co-label weighs ~alpha: rare documents are not drowned
    assert w[1, 1].item() == pytest.approx(DB_ALPHA, abs=0.01) and w[1, 3].item() > 0.7
    assert torch.all(w[2] == 1.0)      # no label: weight 1


def test_losses_distribution_balanced_tolerates_negatives_of_rare_labels():
    """A rare label's negative already below zero is pushed far less than by BCE."""
    logits = torch.tensor([[0.0, 0.0, 0.0, -3.0]], requires_grad=True)
    labels = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    grads = {}
    for kind in ("bce", "distribution_balanced"):
        logits.grad = None
        LongTailLoss(kind, COUNTS, N)(logits, labels).backward()
        grads[kind] = logits.grad[0, 3].item()
    assert 0 < grads["distribution_balanced"] < grads["bce"] / 10


def test_losses_distribution_balanced_value_hand_computed():
    logits, labels = torch.tensor([[0.5, -1.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    loss = LongTailLoss("distribution_balanced", COUNTS, N)
    w = loss.rebalance_weights(labels)[0]
    total = 0.0
    for j, (z, y, c) in enumerate(zip(logits[0].tolist(), labels[0].tolist(), COUNTS)):
        z = z + 0.05 * math.log(c / (N - c))
        weight = w[j].item()
        if not y:
            z, weight = z * DB_NEG_SCALE, weight / DB_NEG_SCALE
        bce = -math.log(_sigmoid(z)) if y else -math.log(1 - _sigmoid(z))
        total += 0.5 * (1 - math.exp(-bce)) ** 2 * bce * weight
    assert loss(logits, labels).item() == pytest.approx(total / 4, rel=1e-5)


def test_losses_asymmetric_ignores_easy_negatives_and_keeps_positives():
    logits = torch.tensor([[math.log(0.04 / 0.96), 2.0]], requires_grad=True)   # p = 0.04 < clip; a positive
    labels = torch.tensor([[0.0, 1.0]])
    asymmetric_loss(logits, labels).backward()
    assert 0.04 < ASL_CLIP and logits.grad[0, 0].item() == 0.0
    bce_grad = (_sigmoid(2.0) - 1) / 2
    assert logits.grad[0, 1].item() == pytest.approx(bce_grad, rel=1e-5)   # gamma+ = 0: BCE for positives


def test_losses_config_refuses_two_reweightings(tiny_dataset_dir, tmp_path):
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path)
    tree["model"]["loss"] = "distribution_balanced"
    tree["train"]["class_weights"] = "balanced"
    with pytest.raises(ConfigError, match="weights labels itself"):
        load_config(None, RunConfig, tree=tree)
    tree["model"]["loss"] = "focal"
    with pytest.raises(ConfigError, match="model.loss"):
        load_config(None, RunConfig, tree=tree)


def test_losses_the_network_trains_with_the_configured_loss(tiny_dataset_dir, tmp_path):
    from trainer.models.transformer.fitting import Prepared, build_network
    from trainer.training.data import load_fit_data
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path)
    tree["model"]["loss"] = "distribution_balanced"
    cfg = load_config(None, RunConfig, tree=tree)
    space = load_fit_data(cfg).spaces[0]
    from trainer.models.transformer.pretrained import resolve_model_path
    network = build_network(cfg, Prepared(None, None, [space], resolve_model_path("minilm-l6")))
    logits, labels = torch.tensor([[0.3, -1.0, 0.2, -4.0]]), torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    expected = LongTailLoss("distribution_balanced", space.counts, space.n_train)(logits, labels)
    assert network.loss(logits, labels).item() == pytest.approx(expected.item())
    assert "long_tail_loss" not in "".join(network.state_dict())      # nothing of it is saved with the model
