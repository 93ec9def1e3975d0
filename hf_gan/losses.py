"""GAN objectives, written on discriminator logits l, with D(x) = sigmoid(l).

Goodfellow et al. (2014): min_G max_D E[log D(x)] + E[log(1 - D(G(z)))]. With log sigmoid(l) = -softplus(-l) and
log(1 - sigmoid(l)) = -softplus(l), every loss below is a quantity to *minimise*:

- "minimax": D minimises softplus(-l_real) + softplus(l_fake) (= ascends log D(x) + log(1 - D(G(z)))), and G
  minimises -softplus(l_fake) (= descends log(1 - D(G(z))), the seed's formulation, which saturates early on).
- "non_saturating": same D loss; G minimises softplus(-l_fake) (= maximises log D(G(z))), the paper's practical fix.
- "hinge": D minimises relu(1 - l_real) + relu(1 + l_fake); G minimises -l_fake (Lim & Ye 2017, Miyato et al. 2018).
"""

import torch
import torch.nn.functional as F


OBJECTIVES = ("minimax", "non_saturating", "hinge")


def _check(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r} is not one of {OBJECTIVES}.")


def discriminator_loss(objective: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    _check(objective)
    if objective == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(objective: str, fake_logits: torch.Tensor) -> torch.Tensor:
    _check(objective)
    if objective == "minimax":
        return -F.softplus(fake_logits).mean()
    if objective == "non_saturating":
        return F.softplus(-fake_logits).mean()
    return -fake_logits.mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """E ||grad_x l(x)||^2 on real data (Mescheder et al. 2018); `real_images` must require grad."""
    (gradients,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return gradients.pow(2).flatten(1).sum(1).mean()


def pix2pix_generator_loss(
    objective: str, fake_logits: torch.Tensor, fake: torch.Tensor, target: torch.Tensor, l1_weight: float = 100.0
) -> torch.Tensor:
    """pix2pix's G objective (Isola et al. 2017, eq. 4): the cGAN loss on D's patch logits of (x, G(x, z)) plus
    lambda E ||y - G(x, z)||_1, the mean absolute error per pixel (lambda = 100 in the paper)."""
    return generator_loss(objective, fake_logits) + l1_weight * (target - fake).abs().mean()


def pix2pix_discriminator_loss(objective: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """pix2pix's D objective: the cGAN loss on (x, y) and (x, G(x, z)), divided by 2, "which slows down the rate at
    which D learns relative to G" (Isola et al. 2017, section 3.3)."""
    return discriminator_loss(objective, real_logits, fake_logits) / 2
