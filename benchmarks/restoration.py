"""Restoring corrupted MNIST test digits: x4 super-resolution (7x7 -> 28x28), the bottom half missing, Gaussian noise
of std 0.5 (of the range 0..1), each restored by every method, scored by the same code.

    python benchmarks/restoration.py [--num_images 10000] [--search_images 100] [--methods ...]

Methods: the corrupted input itself (for super-resolution: nearest-neighbour enlargement), bicubic enlargement
(super-resolution), the zoo autoencoder's `reconstruct` of the corrupted input (known pixels kept where a mask says
which), latent search (`restore`, Bora et al. 2017) with the zoo GAN and the zoo cGAN (every code value / class
tried), the trained pix2pix restorer of each task (`pix2pix`: model_zoo/mnist-superres, model_zoo/mnist-inpaint for
the missing half, model_zoo/mnist-denoise for the noise; `--restorers task=folder` names others) and the one restorer
for masks and noise (`pix2pix_restore`: model_zoo/mnist-restore). Latent search costs thousands of generator passes
per image, so it runs on the first `--search_images` digits only (its row says so).

Another 28x28 set, e.g. Fashion-MNIST, with restorers trained on it by the same presets and a classifier trained on
it by training/train_classifier.py:

    python benchmarks/restoration.py --dataset fashion --classifier fashion-classifier \
        --methods input,bicubic,pix2pix --restorers superres_x4=fashion-superres bottom_half=fashion-inpaint \
        noise_0.5=fashion-denoise

Metrics: PSNR and SSIM against the clean digits (torchmetrics), the shipped MNIST classifier's accuracy on the
restored digits (does the digit survive? --classifier for another set), FLD of the restored digits against the 10,000
clean test digits, beside
its floor (as many train digits against the same test digits). Rows are kept in --results (JSON), so the slow
latent-search rows and the others can run in separate processes; the table printed covers every stored row.
"""

import argparse
import json
import os
import time

import numpy as np
import PIL.Image
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from hf_gan import AutoencoderPipeline, ConditionalGANPipeline, GANPipeline, ImageToImageGANPipeline
from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.metrics import classify, frechet_distance, load_classifier, load_mnist_classifier
from hf_gan.model_card import update_card_metrics
from hf_gan.training.tasks import add_noise, downsample
from hf_gan.visuals import labelled_grid


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ("superres_x4", "bottom_half", "noise_0.5")
METHODS = ("input", "bicubic", "autoencoder", "search_gan", "search_cgan", "pix2pix", "pix2pix_restore")
RESTORERS = {"superres_x4": "mnist-superres", "bottom_half": "mnist-inpaint", "noise_0.5": "mnist-denoise"}
GENERAL_RESTORER = "mnist-restore"  # pix2pix_restore: one model for every mask and the noise


def load_digits(folder, split, count):
    data = prepare_image_dataset(load_image_dataset(folder, split), max_samples=count)
    return data.images.float() / 255, data.labels


def corrupt(task, clean, seed):
    """The corrupted digits (in [0, 1]) and the mask (1 = missing) or None."""
    if task == "superres_x4":
        return downsample(clean, 4), None
    if task == "bottom_half":
        mask = torch.zeros_like(clean)
        mask[:, :, 14:] = 1
        return clean * (1 - mask), mask
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
    return (add_noise(clean * 2 - 1, 0.5, noise) + 1) / 2, None


def pil_enlarge(low, resample):
    """Enlarges (N, 1, s, s) to 28x28 with PIL (mode F, so nothing is rounded)."""
    return torch.stack(
        [
            torch.from_numpy(np.asarray(PIL.Image.fromarray(image[0].numpy(), "F").resize((28, 28), resample)))
            for image in low
        ]
    )[:, None].clamp(0, 1)


def in_batches(function, *tensors, batch_size=500):
    return torch.cat(
        [function(*(t[i : i + batch_size] for t in tensors)) for i in range(0, len(tensors[0]), batch_size)]
    )


def restore(method, task, corrupted, mask, zoo, seed, search_steps=200, restorers=RESTORERS):
    """The restored digits (N, 1, 28, 28) in [0, 1]."""
    masks = (mask,) if mask is not None else ()
    if method == "input":
        return pil_enlarge(corrupted, PIL.Image.NEAREST) if task == "superres_x4" else corrupted
    if method == "bicubic":
        return pil_enlarge(corrupted, PIL.Image.BICUBIC)
    if method == "autoencoder":
        pipe = AutoencoderPipeline.from_pretrained(os.path.join(zoo, "mnist-autoencoder"))
        start = pil_enlarge(corrupted, PIL.Image.BICUBIC) if task == "superres_x4" else corrupted
        out = in_batches(lambda x: pipe.reconstruct(x, output_type="pt").images, start)
        return out if mask is None else mask * out + (1 - mask) * corrupted
    if method.startswith("search_"):
        pipe_class = GANPipeline if method == "search_gan" else ConditionalGANPipeline
        pipe = pipe_class.from_pretrained(os.path.join(zoo, "mnist-gan" if method == "search_gan" else "mnist-cgan"))
        scale = 4 if task == "superres_x4" else 1

        def search(x, *m):
            generators = [torch.Generator().manual_seed(seed + i) for i in range(len(x))]
            mask_image = m[0] if m else None
            return pipe.restore(
                x, mask_image, num_steps=search_steps, scale=scale, generator=generators, output_type="pt"
            ).images

        return in_batches(search, corrupted, *masks, batch_size=25)
    folder = GENERAL_RESTORER if method == "pix2pix_restore" else restorers[task]
    pipe = ImageToImageGANPipeline.from_pretrained(os.path.join(zoo, folder))
    generator = torch.Generator().manual_seed(seed)
    return in_batches(lambda x, *m: pipe(x, *m, generator=generator, output_type="pt").images, corrupted, *masks)


def score(restored, clean, labels, test_features, floor_features, classifier):
    features, predicted = classify(restored, classifier)
    psnr = peak_signal_noise_ratio(restored, clean, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return {
        "psnr": psnr.mean().item(),
        "ssim": structural_similarity_index_measure(restored, clean, data_range=1.0).item(),
        "accuracy": (predicted == labels).double().mean().item(),
        "fld": frechet_distance(features, test_features),
        "fld_floor": frechet_distance(floor_features[: len(restored)], test_features),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    parser.add_argument("--zoo", default=os.path.join(ROOT, "model_zoo"))
    parser.add_argument("--num_images", type=int, default=10000, help="test digits for the fast methods")
    parser.add_argument("--search_images", type=int, default=100, help="test digits for latent search")
    parser.add_argument("--search_steps", type=int, default=200, help="latent-search steps (restore's num_steps)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--results", default="restoration_results.json", help="JSON of rows, kept across runs")
    parser.add_argument(
        "--merge", nargs="*", default=[], help="results files of other runs (e.g. latent search run alongside) to add"
    )
    parser.add_argument("--figures", help="a folder: one labelled grid per task of the first 8 digits, per method")
    parser.add_argument(
        "--update_cards", action="store_true", help="write the restorers' rows into their zoo cards' evaluation"
    )
    parser.add_argument(
        "--restorers",
        nargs="*",
        default=[],
        metavar="TASK=FOLDER",
        help="pix2pix restorers other than the zoo's, e.g. superres_x4=runs/fashion-superres (in --zoo, or a path)",
    )
    parser.add_argument(
        "--classifier", help="a classifier folder from training/train_classifier.py (default: MNIST's)"
    )
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.num_threads)
    restorers = dict(RESTORERS)
    for item in args.restorers:
        task, _, folder = item.partition("=")
        if task not in TASKS or not folder:
            parser.error(f"--restorers {item}: expected TASK=FOLDER with TASK among {', '.join(TASKS)}")
        restorers[task] = folder
    if args.update_cards and (args.restorers or args.classifier):
        parser.error("--update_cards writes MNIST figures into the zoo's cards: drop --restorers and --classifier")

    clean, labels = load_digits(args.dataset, "test", None)
    train, _ = load_digits(args.dataset, "train", args.num_images)
    classifier = load_classifier(args.classifier) if args.classifier else load_mnist_classifier()
    test_features, floor_features = classify(clean, classifier)[0], classify(train, classifier)[0]
    rows = {}
    if os.path.exists(args.results):
        with open(args.results, encoding="utf-8") as file:
            rows = json.load(file)
    for task in filter(None, args.tasks.split(",")):
        shown = {}
        for method in filter(None, args.methods.split(",")):
            if method == "bicubic" and task != "superres_x4":
                continue  # bicubic only enlarges
            if method == "pix2pix_restore" and task == "superres_x4":
                continue  # the general restorer masks and denoises
            count = args.search_images if method.startswith("search_") else args.num_images
            corrupted, mask = corrupt(task, clean, args.seed)
            start = time.perf_counter()
            masks = None if mask is None else mask[:count]
            restored = restore(
                method, task, corrupted[:count], masks, args.zoo, args.seed, args.search_steps, restorers
            )
            seconds = time.perf_counter() - start
            metrics = score(
                restored.float().clamp(0, 1), clean[:count], labels[:count], test_features, floor_features, classifier
            )
            steps = args.search_steps if method.startswith("search_") else None
            rows[f"{task}/{method}"] = {**metrics, "images": count, "search_steps": steps, "seconds": seconds}
            print(
                task,
                method,
                {k: v if v is None else round(v, 4) for k, v in rows[f"{task}/{method}"].items()},
                flush=True,
            )
            shown[method] = restored[:8]
            with open(args.results, "w", encoding="utf-8") as file:
                json.dump(rows, file, indent=2)
        if args.figures:
            os.makedirs(args.figures, exist_ok=True)
            shown["clean"] = clean[:8]
            images = [
                PIL.Image.fromarray((image[0].clamp(0, 1) * 255).round().byte().numpy())
                for batch in shown.values()
                for image in batch
            ]
            labelled_grid(images, 8, list(shown), scale=3).save(os.path.join(args.figures, f"restoration_{task}.png"))

    for path in args.merge:
        with open(path, encoding="utf-8") as file:
            rows.update(json.load(file))
    order = {(task, method): i for i, (task, method) in enumerate((t, m) for t in TASKS for m in METHODS)}
    rows = dict(sorted(rows.items(), key=lambda item: order.get(tuple(item[0].split("/")), len(order))))
    print(
        f"\n{args.dataset} test images; classifier accuracy on the clean images: "
        f"{(classify(clean, classifier)[1] == labels).double().mean().item():.2%}; torch threads {args.num_threads}"
    )
    print("| task | method | images | PSNR (dB) | SSIM | accuracy | FLD | FLD floor | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")  # FLD floor: as many train digits as rows
    for key, row in rows.items():
        task, method = key.split("/")
        print(
            f"| {task} | {method} | {row['images']} | {row['psnr']:.2f} | {row['ssim']:.3f} | {row['accuracy']:.2%} | "
            f"{row['fld']:.2f} | {row['fld_floor']:.2f} | {row['seconds']:.0f} |"
        )
    if args.update_cards:
        update_cards(rows, args.zoo)


def update_cards(rows, zoo):
    """Each zoo restorer's card gets its own rows (task, PSNR, SSIM, accuracy, FLD) and the protocol."""
    rows_of = {
        model: [f"{task}/pix2pix" for task, restorer in RESTORERS.items() if restorer == model]
        for model in RESTORERS.values()
    }
    rows_of[GENERAL_RESTORER] = ["bottom_half/pix2pix_restore", "noise_0.5/pix2pix_restore"]
    for model, keys in sorted(rows_of.items()):
        metrics = {}
        for key in (key for key in keys if key in rows):
            task, row = key.split("/")[0], rows[key]
            metrics.update({f"{task} {k}": row[k] for k in ("psnr", "ssim", "accuracy", "fld", "fld_floor")})
        if not metrics:
            continue
        images = next(rows[key]["images"] for key in keys if key in rows)
        protocol = (
            f"The first {images} MNIST test digits, corrupted (superres_x4: shrunk 4x by block averaging; "
            "bottom_half: the bottom 14 rows missing; noise_0.5: Gaussian noise of std 0.5 of the range, clipped) and "
            "restored; PSNR (dB) and SSIM against the clean digits (torchmetrics), accuracy of hf_gan's MNIST "
            "classifier on the restored digits, FLD against the 10,000 clean test digits beside its floor (as many "
            "train digits). Measured by `python benchmarks/restoration.py --update_cards` (docs/image-to-image.md "
            "has every method)."
        )
        update_card_metrics(
            os.path.join(zoo, model, "README.md"), metrics, protocol, "ylecun/mnist", "MNIST", "test", "image-to-image"
        )


if __name__ == "__main__":
    main()
