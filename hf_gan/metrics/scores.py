"""Sample-quality scores in a feature space: Fréchet distance, k-NN precision/recall, class statistics, and the
copying check."""

import torch


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two feature sets (N, D).

    Computed in float64 through the eigenvalues of S_a^(1/2) S_b S_a^(1/2), which is symmetric, so no complex
    matrix square root is needed.
    """
    a, b = features_a.double(), features_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov_a)
    sqrt_a = eigenvectors @ torch.diag(eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T
    cross = torch.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross)


def _knn_radii(features: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    radii = [
        torch.cdist(features[i : i + chunk], features).kthvalue(k + 1, dim=1).values
        for i in range(0, len(features), chunk)
    ]
    return torch.cat(radii)


def _covered(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """Whether each query lies inside at least one ball (centre, radius)."""
    return torch.cat(
        [(torch.cdist(queries[i : i + chunk], centres) <= radii).any(1) for i in range(0, len(queries), chunk)]
    )


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3, chunk: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the real and the generated manifolds are unions of
    k-NN balls; precision is the share of generated samples inside the real manifold, recall the reverse."""
    real, fake = real.float(), fake.float()
    precision = _covered(fake, real, _knn_radii(real, k, chunk), chunk).float().mean().item()
    recall = _covered(real, fake, _knn_radii(fake, k, chunk), chunk).float().mean().item()
    return precision, recall


def class_histogram(predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Share of samples predicted as each class (mode coverage: a dropped mode shows as a near-zero share)."""
    return torch.bincount(predicted, minlength=num_classes).double() / len(predicted)


def nearest_distances(queries: torch.Tensor, references: torch.Tensor, exclude_self: bool = False, chunk: int = 500):
    """Euclidean distance from each query (N, ...) to its nearest reference (M, ...), flattened; with `exclude_self`
    (queries are the references), to its nearest other one."""
    queries, references = queries.flatten(1).float(), references.flatten(1).float()
    nearest = []
    for i in range(0, len(queries), chunk):
        distances = torch.cdist(queries[i : i + chunk], references)
        if exclude_self:
            rows = torch.arange(len(distances))
            distances[rows, rows + i] = float("inf")
        nearest.append(distances.min(1).values)
    return torch.cat(nearest)


def copying_ratio(samples: torch.Tensor, training: torch.Tensor) -> dict:
    """The copying check: the median distance of each sample to its nearest training image, over the median distance
    of each training image to its nearest other one (pixels in [0, 1]). A model that reproduces its training images
    scores near 0; samples no closer to the training set than real images are to each other score at least 1, which
    passes."""
    to_training = nearest_distances(samples, training)
    between_real = nearest_distances(training, training, exclude_self=True)
    ratio = float(to_training.median() / between_real.median())
    return {"copying_ratio": ratio, "copying_check_passed": ratio >= 1}
