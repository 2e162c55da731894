"""Training losses: agreement with the metrics module, masking, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affect_perception.evaluation import metrics
from affect_perception.train.losses import (
    MultiTaskLoss,
    bce_loss,
    ccc_loss,
    mse_loss,
    pearson_loss,
)

RNG = np.random.default_rng(0)


def _pair(n: int = 50, d: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    label = RNG.uniform(-1, 1, (n, d))
    pred = 0.6 * label + RNG.normal(0, 0.3, (n, d)) + 0.1
    return torch.tensor(pred, requires_grad=True), torch.tensor(label)


def test_ccc_loss_is_one_minus_the_metric():
    pred, label = _pair()
    loss = ccc_loss(pred, label, torch.ones(len(pred), dtype=torch.bool))
    want = np.mean(
        [1 - metrics.ccc(pred.detach()[:, i].numpy(), label[:, i].numpy()) for i in range(2)]
    )
    assert float(loss.detach()) == pytest.approx(want, abs=1e-6)


def test_pearson_loss_is_one_minus_the_metric():
    pred, label = _pair(d=6)
    loss = pearson_loss(pred, label, torch.ones(len(pred), dtype=torch.bool))
    want = np.mean(
        [1 - metrics.pearson(pred.detach()[:, i].numpy(), label[:, i].numpy()) for i in range(6)]
    )
    assert float(loss.detach()) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("loss_fn", [ccc_loss, pearson_loss, mse_loss, bce_loss])
def test_masked_rows_change_nothing_and_get_no_gradient(loss_fn):
    pred, label = _pair()
    label = (label > 0).double() if loss_fn is bce_loss else label
    mask = torch.ones(len(pred), dtype=torch.bool)
    mask[::3] = False
    garbage = label.clone()
    garbage[~mask] = -5.0  # the missing marker must not leak into the loss
    loss = loss_fn(pred, garbage, mask)
    loss.backward()
    assert (pred.grad[~mask] == 0).all() and (pred.grad[mask] != 0).any()
    kept = loss_fn(pred.detach()[mask], label[mask], torch.ones(int(mask.sum()), dtype=bool))
    assert float(loss.detach()) == pytest.approx(float(kept), abs=1e-9)


def test_per_entry_mask_for_aus():
    logits, label = torch.zeros(4, 12, requires_grad=True), torch.ones(4, 12)
    mask = torch.zeros(4, 12, dtype=torch.bool)
    mask[0, 0] = True
    bce_loss(logits, label, mask).backward()
    assert logits.grad[0, 0] != 0 and (logits.grad.flatten()[1:] == 0).all()


def test_pos_weight_and_focal_change_the_bce():
    logits, label = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 1.0]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    plain = bce_loss(logits, label, mask)
    assert bce_loss(logits, label, mask, pos_weight=torch.tensor([3.0, 3.0])) == pytest.approx(
        3 * float(plain)
    )
    assert bce_loss(logits, label, mask, gamma=2.0) < plain


def test_a_task_without_labels_adds_zero_but_stays_in_the_graph():
    outputs = {
        "va": torch.zeros(3, 2, requires_grad=True),
        "ah": torch.zeros(3, 1, requires_grad=True),
    }
    labels = {"va": torch.rand(3, 2), "ah": torch.ones(3, 1)}
    masks = {"va": torch.ones(3, dtype=torch.bool), "ah": torch.zeros(3, dtype=torch.bool)}
    total, parts = MultiTaskLoss(("va", "ah"))(outputs, labels, masks)
    assert parts["ah"] == 0.0
    total.backward()
    assert outputs["ah"].grad is not None and (outputs["ah"].grad == 0).all()


def test_task_weights_scale_the_total():
    outputs = {"va": torch.zeros(3, 2)}
    labels, masks = {"va": torch.rand(3, 2)}, {"va": torch.ones(3, dtype=torch.bool)}
    one, _ = MultiTaskLoss(("va",))(outputs, labels, masks)
    two, _ = MultiTaskLoss(("va",), {"va": 2.0})(outputs, labels, masks)
    assert float(two) == pytest.approx(2 * float(one))
