"""The hf-gan command line.

- `hf-gan evaluate PIPELINE --dataset DATA`: measure a pipeline against real MNIST digits, print a table, write
  JSON, and with --update-card the model card's evaluation section and model-index metadata.
- `hf-gan publish FOLDER... --org ORG` (or `hf-gan publish FOLDER --repo_id ID`): push pipeline folders (e.g.
  model_zoo/*) to ORG/<folder name> on the Hub, with their cards' usage sections rendered for the new repository.
- `hf-gan train gan|autoencoder --config PRESET ...`: train in this process (hf_gan.training; `accelerate launch -m
  hf_gan.training.train_gan` for several processes).
- `hf-gan generate MODEL`: upscaled, reproducible images, labelled grids and interpolation animations.
- `hf-gan demo MODEL`: a Gradio web demo; `--export DIR` writes it as a Hugging Face Space, `--push_space` uploads it.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from . import demo, generate as generate_command
from .data import load_image_dataset, prepare_image_dataset
from .hub import push_folder
from .metrics import evaluate_images, generate, inception_fid, load_mnist_classifier
from .model_card import set_card_usage, update_card_metrics
from .pipelines import HfGanPipeline

CARD_METRICS = ("fld", "fld_floor", "class_accuracy", "classifier_accuracy_on_real", "precision", "recall",
                "histogram_max_deviation_pp", "classes_present", "inception_fid")


def real_images(dataset: str, split: str, count: int):
    data = prepare_image_dataset(load_image_dataset(dataset, split), max_samples=count)
    return data.images.float() / 255, data.labels


def evaluate(args) -> dict:
    started = time.perf_counter()
    pipe = HfGanPipeline.from_pretrained(args.pipeline).to(args.device)
    real, real_labels = real_images(args.dataset, args.split, args.num_samples)
    reference, reference_labels = real_images(args.dataset, args.reference_split, args.num_samples)
    # A conditional pipeline is asked for the reference images' labels: its samples then have the classes, in the
    # same proportions, as the real set that gives the FLD floor (asked for every class equally often, even the
    # reference images themselves would score 1.5x the floor on MNIST, whose classes are not balanced).
    fake, fake_labels = generate(pipe, args.num_samples, batch_size=args.batch_size, seed=args.seed,
                                 class_labels=reference_labels)
    metrics = evaluate_images(fake, real, reference, fake_labels, real_labels, classifier=load_mnist_classifier())
    if args.inception:
        metrics["inception_fid"] = inception_fid(fake, real, args.inception)
    metrics["pipeline"] = type(pipe).__name__
    metrics["protocol"] = (f"{args.num_samples} samples (seed {args.seed}) against {len(real)} real images of the "
                           f"{args.split} split of {args.dataset}; FLD floor: {len(reference)} {args.reference_split} "
                           f"images against the same {args.split} images; a conditional pipeline is asked for the labels of those "
                           f"{args.reference_split} images; features and predictions of hf_gan's MNIST classifier")
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return metrics


def publish(folders, org=None, repo_id=None, token=None, private=False) -> list[str]:
    """Uploads each pipeline folder to org/<folder name> (or one folder to `repo_id`), its card's usage section
    rendered for that repository; returns the repo ids."""
    if (org is None) == (repo_id is None) or (repo_id and len(folders) != 1):
        raise ValueError("Pass --org ORG (each folder goes to ORG/<folder name>) or, for one folder, --repo_id ID.")
    repo_ids = []
    for folder in folders:
        model_index = os.path.join(folder, "model_index.json")
        if not os.path.isfile(model_index):
            raise ValueError(f"{folder} is not a pipeline folder (no model_index.json).")
        name = os.path.basename(os.path.normpath(folder))
        target = repo_id or f"{org}/{name}"
        with tempfile.TemporaryDirectory() as staging:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            card = os.path.join(staging, "README.md")
            if os.path.isfile(card):  # the snippet should load the published repo, not the local folder
                with open(model_index, encoding="utf-8") as file:
                    pipeline = json.load(file)["_class_name"]
                set_card_usage(card, pipeline[-1] if isinstance(pipeline, list) else pipeline, target)
            target = push_folder(staging, target, token=token, private=private, saved_folder=folder,
                                 commit_message=f"Publish {name} with hf_gan")
        print(f"published {folder} -> {target}")
        repo_ids.append(target)
    return repo_ids


def print_table(metrics: dict) -> None:
    width = max(len(k) for k in metrics)
    for key, value in metrics.items():
        if key != "protocol":
            print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")


def add_train_command(commands) -> None:
    train = commands.add_parser("train", help="train a GAN or an autoencoder (hf-gan train gan --help)", add_help=False)
    train.add_argument("model", choices=["gan", "autoencoder"])
    train.add_argument("options", nargs=argparse.REMAINDER, help="the flags of hf_gan.training.train_<model>")


def train(model: str, options: list[str]) -> int:
    from .training import train_autoencoder, train_gan  # accelerate and trackers load only for this command

    (train_gan if model == "gan" else train_autoencoder).main(options)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hf-gan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ev = commands.add_parser("evaluate", help="measure a pipeline's sample quality")
    ev.add_argument("pipeline", help="a pipeline folder or Hub repo id")
    ev.add_argument("--dataset", required=True, help="real data: MNIST idx folder, Hub id, image folder, ...")
    ev.add_argument("--split", default="test")
    ev.add_argument("--reference_split", default="train", help="the second real set, for the FLD floor")
    ev.add_argument("--num_samples", type=int, default=10_000)
    ev.add_argument("--batch_size", type=int, default=500)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--inception", help="path of a local TorchScript Inception-v3, for Inception-FID (optional)")
    ev.add_argument("--output", help="JSON file to write (default: eval_results.json in the pipeline folder or here)")
    ev.add_argument("--update-card", dest="update_card", action="store_true", help="write the metrics into README.md")
    ev.add_argument("--dataset_id", default="ylecun/mnist", help="dataset id for the card's model-index")
    pub = commands.add_parser("publish", help="push pipeline folders to a Hub organisation")
    pub.add_argument("folders", nargs="+", help="pipeline folders, e.g. model_zoo/*")
    where = pub.add_mutually_exclusive_group(required=True)
    where.add_argument("--org", help="organisation or user to publish under, as ORG/<folder name>")
    where.add_argument("--repo_id", help="the repository to push one folder to")
    pub.add_argument("--token", help="default: the logged-in token or HF_TOKEN")
    pub.add_argument("--private", action="store_true")
    generate_command.add_arguments(commands.add_parser("generate", help="write images, grids or interpolations"))
    demo.add_arguments(commands.add_parser("demo", help="serve a web demo, or export it as a Hugging Face Space"))
    add_train_command(commands)
    args = parser.parse_args(argv)

    if args.command == "train":
        return train(args.model, args.options)

    if args.command in ("generate", "demo"):
        try:
            (generate_command if args.command == "generate" else demo).run(args)
        except (ValueError, TypeError, OSError, ImportError) as error:
            sys.exit(f"hf-gan {args.command}: error: {error}")
        return 0

    if args.command == "publish":
        publish(args.folders, args.org, args.repo_id, args.token, args.private)
        return 0

    if args.update_card and not os.path.isfile(os.path.join(args.pipeline, "README.md")):
        parser.error(f"--update-card needs a local pipeline folder with a README.md; {args.pipeline} has none.")
    metrics = evaluate(args)
    print_table(metrics)
    output = args.output or os.path.join(args.pipeline if os.path.isdir(args.pipeline) else ".", "eval_results.json")
    with open(output, "w", encoding="utf-8") as file:
        json.dump(metrics, file, indent=2)
    print(f"wrote {output}")
    if args.update_card:
        card_metrics = {k: metrics[k] for k in CARD_METRICS if k in metrics}
        update_card_metrics(os.path.join(args.pipeline, "README.md"), card_metrics, metrics["protocol"] + ".",
                            args.dataset_id, "MNIST")
        print(f"updated {os.path.join(args.pipeline, 'README.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
