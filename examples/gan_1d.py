"""Goodfellow et al. (2014), Figure 1, reproduced: a GAN on one-dimensional data.

    python examples/gan_1d.py --data gaussian --objective minimax --out docs/images/gan_1d.png

z is drawn uniformly and mapped by G to x = G(z); D is trained to tell x from data. The four panels show
p_data (black, dotted), p_g (green, solid), D (blue, dashed) and the mapping z -> x (lines from the z line below to
the x line above):
  (a) at the start; (b) after the inner loop has trained D to convergence with G fixed, where
  D*(x) = p_data(x) / (p_data(x) + p_g(x)); (c) after an update of G, which moves G(z) towards where D says "data";
  (d) at the end of training, where p_g = p_data and D = 1/2 everywhere.
D is trained with the R1 penalty during the game (not in (b), which shows D*), so that the game settles.
It uses the same losses (hf_gan.losses) as the image GANs.
"""

import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from hf_gan.losses import discriminator_loss, generator_loss, r1_penalty


GRID = torch.linspace(-2.0, 3.5, 551).unsqueeze(1)


class DataDistribution:
    """A Gaussian (mean 1, std 0.5) or a two-mode mixture, with exact density and sampling."""

    def __init__(self, kind: str = "gaussian"):
        if kind == "gaussian":
            self.means, self.stds, self.weights = [1.0], [0.5], [1.0]
        elif kind == "mixture":
            self.means, self.stds, self.weights = [-0.2, 1.8], [0.3, 0.3], [0.5, 0.5]
        else:
            raise ValueError(f"data={kind!r}: use 'gaussian' or 'mixture'.")

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        component = torch.multinomial(torch.tensor(self.weights), n, replacement=True, generator=generator)
        noise = torch.randn(n, generator=generator)
        return (torch.tensor(self.means)[component] + torch.tensor(self.stds)[component] * noise).unsqueeze(1)

    def density(self, x: torch.Tensor) -> torch.Tensor:
        return sum(
            w * torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
            for m, s, w in zip(self.means, self.stds, self.weights)
        )


def mlp(width: int, activation=nn.LeakyReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, width), activation(), nn.Linear(width, width), activation(), nn.Linear(width, 1))


class Generator1D(nn.Module):
    """x = z + MLP(z): starts near the identity, so p_g starts as U(-1, 1), overlapping p_data as in the figure."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.residual = mlp(width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.residual(z)


def sample_z(n: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ U(-1, 1), as in the paper's figure."""
    return torch.rand(n, 1, generator=generator) * 2 - 1


def kde(samples: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gaussian kernel density estimate of `samples` at `x` (Silverman's bandwidth)."""
    samples = samples.flatten()
    bandwidth = 1.06 * samples.std() * len(samples) ** (-1 / 5)
    return torch.exp(-0.5 * ((x - samples) / bandwidth) ** 2).mean(1, keepdim=True) / (
        bandwidth * math.sqrt(2 * math.pi)
    )


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    points = np.concatenate([a, b])
    return float(
        np.abs(
            np.searchsorted(a, points, side="right") / len(a) - np.searchsorted(b, points, side="right") / len(b)
        ).max()
    )


def train_discriminator(
    discriminator, optimizer, real_sampler, fake_sampler, steps: int, objective: str = "minimax", r1_gamma: float = 0.0
):
    """The inner loop: SGD steps on D alone, ascending log D(x) + log(1 - D(G(z))), minus (r1_gamma / 2) R1."""
    for _ in range(steps):
        real = real_sampler().requires_grad_(r1_gamma > 0)
        real_logits = discriminator(real)
        loss = discriminator_loss(objective, real_logits, discriminator(fake_sampler()))
        if r1_gamma > 0:
            loss = loss + r1_gamma / 2 * r1_penalty(real_logits, real)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    return p_data / (p_data + p_g).clamp_min(1e-12)


def snapshot(title, generator, discriminator, data, rng):
    with torch.no_grad():
        z = torch.linspace(-1, 1, 21).unsqueeze(1)
        samples = generator(sample_z(20_000, rng))
        return {
            "title": title,
            "p_data": data.density(GRID).squeeze(1).numpy(),
            "p_g": kde(samples, GRID).squeeze(1).numpy(),
            "d": torch.sigmoid(discriminator(GRID)).squeeze(1).numpy(),
            "z": z.squeeze(1).numpy(),
            "x": generator(z).squeeze(1).numpy(),
        }


def train_gan(
    data_kind="gaussian",
    objective="minimax",
    steps=3000,
    d_steps=1,
    batch_size=1024,
    lr_g=1e-3,
    lr_d=1e-3,
    r1_gamma=1.0,
    seed=0,
    log=print,
):
    """Trains a 1-D GAN; returns G, D, the four Figure 1 snapshots and the final measurements."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    data = DataDistribution(data_kind)
    generator, discriminator = Generator1D(), mlp(64)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=(0.5, 0.999))
    real = lambda: data.sample(batch_size, rng)  # noqa: E731
    fake = lambda: generator(sample_z(batch_size, rng)).detach()  # noqa: E731
    snapshots = [snapshot("(a) start", generator, discriminator, data, rng)]

    # (b) the inner loop run to convergence with G fixed: D approaches D* = p_data / (p_data + p_g).
    train_discriminator(discriminator, opt_d, real, fake, steps=600, objective=objective)
    snapshots.append(snapshot("(b) D trained, G fixed", generator, discriminator, data, rng))
    with torch.no_grad():
        p_g = kde(generator(sample_z(20_000, rng)), GRID)
        d_star = optimal_discriminator(data.density(GRID), p_g)
        support = (data.density(GRID) + p_g) > 0.05
        inner_error = (torch.sigmoid(discriminator(GRID)) - d_star)[support].abs().max().item()
    log(f"inner step: max |D - D*| = {inner_error:.3f} where p_data + p_g > 0.05")

    # Alternate k D steps and one G step; learning rates decay so the game settles at its equilibrium. The R1 penalty
    # on D (Mescheder et al. 2018) leaves that equilibrium where it is (p_g = p_data, D = 1/2) but makes it attract
    # the game instead of letting it circle round it: without it the end state depended on the seed and on which CPU
    # kernels torch picked (docs/experiments.md).
    schedules = [torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) for opt in (opt_g, opt_d)]
    for step in range(steps):
        train_discriminator(discriminator, opt_d, real, fake, steps=d_steps, objective=objective, r1_gamma=r1_gamma)
        loss_g = generator_loss(objective, discriminator(generator(sample_z(batch_size, rng))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for schedule in schedules:
            schedule.step()
        if step == 19:  # (c): after the first G updates, G(z) has flowed towards where D says "data"
            snapshots.append(snapshot("(c) after G updates", generator, discriminator, data, rng))
    snapshots.append(snapshot("(d) end", generator, discriminator, data, rng))

    with torch.no_grad():
        low, high = (np.quantile(data.sample(100_000, rng).numpy(), q) for q in (0.025, 0.975))
        central = GRID[(GRID >= low) & (GRID <= high)].unsqueeze(1)
        max_gap = (torch.sigmoid(discriminator(central)) - 0.5).abs().max().item()
        ks = ks_distance(generator(sample_z(100_000, rng)).numpy(), data.sample(100_000, rng).numpy())
    log(
        f"end: max |D(x) - 1/2| = {max_gap:.3f} over the central 95 % of p_data; "
        f"KS(p_g, p_data) = {ks:.3f} (100k samples each)"
    )
    return (
        generator,
        discriminator,
        snapshots,
        {"inner_max_error": inner_error, "max_abs_d_minus_half": max_gap, "ks": ks},
    )


def plot_figure(snapshots, path=None):
    """Draws the panels of Figure 1; saves them to `path` if given, and returns the matplotlib figure (open when
    no path is given, so that a notebook shows it)."""
    import matplotlib.pyplot as plt

    x = GRID.squeeze(1).numpy()
    fig, axes = plt.subplots(1, len(snapshots), figsize=(4 * len(snapshots), 3.4), sharey=True)
    for ax, snap in zip(axes, snapshots):
        scale = 0.9 / snap["p_data"].max()  # densities drawn on D's 0..1 scale
        ax.plot(x, snap["p_data"] * scale, "k:", lw=2, label="p_data")
        ax.plot(x, snap["p_g"] * scale, "g-", lw=1.5, label="p_g")
        ax.plot(x, snap["d"], "b--", lw=1.5, label="D")
        # the mapping x = G(z): z on the lower line (scaled onto the x axis), x on the upper one
        z_positions = 0.75 + snap["z"] * 1.5
        for z_pos, x_pos in zip(z_positions, snap["x"]):
            ax.plot([z_pos, x_pos], [-0.45, -0.12], color="0.5", lw=0.7)
        ax.axhline(-0.12, color="k", lw=0.8)
        ax.axhline(-0.45, color="k", lw=0.8)
        ax.text(x[0] + 0.05, -0.42, "z", fontsize=9)
        ax.text(x[0] + 0.05, -0.09, "x", fontsize=9)
        ax.set_title(snap["title"], fontsize=10)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(-0.5, 1.05)
        ax.set_yticks([0, 0.5, 1])
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["gaussian", "mixture"], default="gaussian")
    parser.add_argument("--objective", choices=["minimax", "non_saturating"], default="minimax")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--r1_gamma", type=float, default=1.0, help="R1 weight on D in the game; 0 for the bare game")
    parser.add_argument("--threads", type=int, default=1, help="torch threads: one is fastest for networks this small")
    parser.add_argument("--d_steps", type=int, default=1, help="k: discriminator steps per generator step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="gan_1d.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")  # a script writes a file: no display needed
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    _, _, snapshots, _ = train_gan(
        args.data, args.objective, args.steps, args.d_steps, r1_gamma=args.r1_gamma, seed=args.seed
    )
    plot_figure(snapshots, args.out)
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
