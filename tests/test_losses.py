"""Each objective of hf_gan.losses, exactly, on known logits: its value against the formula it implements, written
with D(x) = sigmoid(l), and the direction its gradient moves the logits. The 1-D GAN test only sees the objectives
through a stochastic game; these tests pin each sign and term."""

import math

import pytest
import torch

from hf_gan.losses import (
    OBJECTIVES,
    discriminator_loss,
    generator_loss,
    pix2pix_discriminator_loss,
    pix2pix_generator_loss,
    r1_penalty,
)


REAL = torch.tensor([2.0, -1.0, 0.5, 3.0], dtype=torch.float64)
FAKE = torch.tensor([-2.5, 0.3, 1.0, -0.7], dtype=torch.float64)


def sigmoid(logits):
    return [1 / (1 + math.exp(-value)) for value in logits.tolist()]


def mean(values):
    return sum(values) / len(values)


def closed_form_discriminator_loss(objective, real, fake):
    """What D minimises, from the paper's formulas with D = sigmoid(l)."""
    if objective == "hinge":
        return mean([max(0.0, 1 - v) for v in real.tolist()]) + mean([max(0.0, 1 + v) for v in fake.tolist()])
    # -(E log D(x) + E log(1 - D(G(z))))
    return -mean([math.log(d) for d in sigmoid(real)]) - mean([math.log(1 - d) for d in sigmoid(fake)])


def closed_form_generator_loss(objective, fake):
    if objective == "minimax":
        return mean([math.log(1 - d) for d in sigmoid(fake)])  # G descends E log(1 - D(G(z)))
    if objective == "non_saturating":
        return -mean([math.log(d) for d in sigmoid(fake)])  # G ascends E log D(G(z))
    return -mean(fake.tolist())  # hinge: G ascends E l(G(z))


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_discriminator_loss_is_the_closed_form(objective):
    loss = discriminator_loss(objective, REAL, FAKE)
    assert loss.item() == pytest.approx(closed_form_discriminator_loss(objective, REAL, FAKE), rel=1e-12)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_generator_loss_is_the_closed_form(objective):
    assert generator_loss(objective, FAKE).item() == pytest.approx(
        closed_form_generator_loss(objective, FAKE), rel=1e-12
    )


def test_minimax_value_at_the_equilibrium_is_minus_log_4():
    # D = 1/2 everywhere: V(D, G) = log 1/2 + log 1/2 = -log 4 (the paper's Theorem 1)
    zeros = torch.zeros(8, dtype=torch.float64)
    assert discriminator_loss("minimax", zeros, zeros).item() == pytest.approx(math.log(4), rel=1e-12)
    assert generator_loss("minimax", zeros).item() == pytest.approx(-math.log(2), rel=1e-12)


def gradients(loss_fn, *logits):
    logits = [value.clone().requires_grad_(True) for value in logits]
    loss_fn(*logits).backward()
    return [value.grad for value in logits]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_discriminator_descends_by_raising_real_logits_and_lowering_fake_ones(objective):
    # logits inside the hinge's margin, where its gradient is not zero
    real, fake = (
        torch.tensor([-0.5, 0.2, 0.9], dtype=torch.float64),
        torch.tensor([-0.8, 0.1, 0.6], dtype=torch.float64),
    )
    real_grad, fake_grad = gradients(lambda r, f: discriminator_loss(objective, r, f), real, fake)
    assert (real_grad < 0).all() and (fake_grad > 0).all()
    if objective != "hinge":  # d/dl of softplus(-l) = -(1 - D), of softplus(l) = D, averaged over the batch
        torch.testing.assert_close(real_grad, -(1 - torch.sigmoid(real)) / 3, rtol=1e-12, atol=0)
        torch.testing.assert_close(fake_grad, torch.sigmoid(fake) / 3, rtol=1e-12, atol=0)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_generator_descends_by_raising_fake_logits(objective):
    (fake_grad,) = gradients(lambda f: generator_loss(objective, f), FAKE)
    assert (fake_grad < 0).all()
    expected = {
        "minimax": -torch.sigmoid(FAKE) / 4,  # d/dl log(1 - sigmoid(l)) = -D: weak where D(G(z)) is near 0
        "non_saturating": -(1 - torch.sigmoid(FAKE)) / 4,  # d/dl -log sigmoid(l) = -(1 - D): strong there
        "hinge": torch.full_like(FAKE, -1 / 4),
    }[objective]
    torch.testing.assert_close(fake_grad, expected, rtol=1e-12, atol=0)


def test_minimax_generator_saturates_where_d_rejects_its_samples_and_non_saturating_does_not():
    rejected = torch.tensor([-10.0], dtype=torch.float64)  # D(G(z)) = 4.5e-5
    (minimax,) = gradients(lambda f: generator_loss("minimax", f), rejected)
    (non_saturating,) = gradients(lambda f: generator_loss("non_saturating", f), rejected)
    assert abs(minimax.item()) < 1e-4 and abs(non_saturating.item()) > 0.99


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_large_logits_give_finite_losses_and_gradients_in_float32(objective):
    # sigmoid(±100) is 1 or 0 in float32, so log(sigmoid(l)) written directly would be -inf; softplus is exact.
    real, fake = torch.tensor([-100.0, 100.0]), torch.tensor([100.0, -100.0])
    d_loss = discriminator_loss(objective, real, fake)
    g_loss = generator_loss(objective, fake)
    expected_d = {"hinge": (101 + 0) / 2 + (101 + 0) / 2}.get(objective, 100 / 2 + 100 / 2)  # softplus(100) = 100
    expected_g = {"minimax": -100 / 2, "non_saturating": 100 / 2, "hinge": 0.0}[objective]
    assert d_loss.item() == pytest.approx(expected_d, rel=1e-6)
    assert g_loss.item() == pytest.approx(expected_g, abs=1e-6)
    for grad in gradients(lambda r, f: discriminator_loss(objective, r, f) + generator_loss(objective, f), real, fake):
        assert torch.isfinite(grad).all()


def test_r1_penalty_is_the_squared_gradient_norm_of_the_real_logits():
    # l(x) = sum_i w_i x_i^2 per sample: grad = 2 w x, so R1 = mean over samples of sum_i (2 w_i x_i)^2
    weights = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    images = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], dtype=torch.float64, requires_grad=True)
    logits = (weights * images.pow(2)).sum(1)
    expected = mean([sum((2 * w * x) ** 2 for w, x in zip(weights.tolist(), row)) for row in images.tolist()])
    penalty = r1_penalty(logits, images)
    assert penalty.item() == pytest.approx(expected, rel=1e-12)
    # differentiable (create_graph), so D's update can descend it: d/dw of the penalty exists and is finite
    weights.requires_grad_(True)
    r1_penalty((weights * images.pow(2)).sum(1), images).backward()
    assert weights.grad is not None and torch.isfinite(weights.grad).all() and weights.grad.abs().sum() > 0


def test_unknown_objective_names_the_choices():
    with pytest.raises(ValueError, match="objective='wasserstein' is not one of"):
        discriminator_loss("wasserstein", REAL, FAKE)
    with pytest.raises(ValueError, match="objective='wasserstein' is not one of"):
        generator_loss("wasserstein", FAKE)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_pix2pix_objective_is_the_cgan_loss_plus_lambda_l1(objective):
    """Isola et al. 2017, eq. 4: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), L_L1 = E ||y - G(x, z)||_1 (per
    pixel, as their code's mean); D's objective is halved (section 3.3)."""
    fake = torch.tensor([[0.5, -1.0], [0.25, 1.0]], dtype=torch.float64)
    target = torch.tensor([[0.0, -0.5], [1.0, 1.0]], dtype=torch.float64)
    l1 = (0.5 + 0.5 + 0.75 + 0.0) / 4
    for weight in (100.0, 3.0):
        loss = pix2pix_generator_loss(objective, FAKE, fake, target, weight)
        assert loss.item() == pytest.approx(closed_form_generator_loss(objective, FAKE) + weight * l1, rel=1e-12)
    assert pix2pix_generator_loss(objective, FAKE, fake, target).item() == pytest.approx(
        closed_form_generator_loss(objective, FAKE) + 100 * l1, rel=1e-12
    )
    assert pix2pix_discriminator_loss(objective, REAL, FAKE).item() == pytest.approx(
        closed_form_discriminator_loss(objective, REAL, FAKE) / 2, rel=1e-12
    )
