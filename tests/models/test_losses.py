import math

import pytest
import torch

from models.losses import bce_tanimoto, clip_infonce, contrastive_margin, report_eq3

Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
R = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # q.r = [[1, 0.6], [0, 0.8]]
S = torch.tensor([[1.0, 0.5], [0.5, 1.0]])


def test_clip_infonce_by_hand():
    scale = torch.tensor(10.0)
    # row 0: logits [10, 6]; row 1: [0, 8]; columns: [10, 0] and [6, 8]
    rows = -math.log(math.exp(10) / (math.exp(10) + math.exp(6))) - math.log(
        math.exp(8) / (1 + math.exp(8))
    )
    cols = -math.log(math.exp(10) / (math.exp(10) + 1)) - math.log(
        math.exp(8) / (math.exp(6) + math.exp(8))
    )
    expected = (rows / 2 + cols / 2) / 2
    assert clip_infonce(Q, R, scale).item() == pytest.approx(expected, rel=1e-5)


def test_clip_prefers_matching_pairs():
    assert clip_infonce(Q, Q, torch.tensor(10.0)) < clip_infonce(Q, Q.flip(0), torch.tensor(10.0))


def test_report_eq3_by_hand():
    # |q.r - S| = [[0, 0.1], [0.5, 0.2]]
    expected = -(1 - math.log(math.exp(0) + math.exp(0.1))) - (
        0.8 - math.log(math.exp(0.5) + math.exp(0.2))
    )
    assert report_eq3(Q, R, S).item() == pytest.approx(expected, abs=1e-6)


def test_bce_tanimoto_by_hand():
    prob = torch.tensor([[1.0, 0.8], [0.5, 0.9]]).clamp(1e-6, 1 - 1e-6)
    labels = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
    terms = -(labels * prob.log() + (1 - labels) * (1 - prob).log())
    assert bce_tanimoto(Q, R, S).item() == pytest.approx(terms.mean().item(), rel=1e-5)


def test_margin_by_hand():
    # positives 1 and 0.8 against 0.9: (0)^2 and (0.1)^2; negatives 0.6 and 0 against 0.3
    loss = contrastive_margin(Q, R, positive=0.9, negative=0.3)
    assert loss.item() == pytest.approx((0 + 0.01) / 2 + (0.09 + 0) / 2, rel=1e-5)


def test_every_loss_has_gradients():
    q = torch.nn.functional.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    r = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    s = torch.rand(4, 4)
    for loss in (
        clip_infonce(q, r, torch.tensor(5.0)),
        report_eq3(q, r, s),
        bce_tanimoto(q, r, s),
        contrastive_margin(q, r),
    ):
        (grad,) = torch.autograd.grad(loss, q)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
