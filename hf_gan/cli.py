"""The hf-gan command line.

- `hf-gan evaluate PIPELINE --dataset DATA`: measure a pipeline against a real dataset (FID and KID with the standard
  Inception-v3, class metrics with a classifier trained on the data), print a table, write JSON, and with
  --update_card the model card's evaluation section and model-index metadata.
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

from . import demo
from . import generate as generate_command
from .hub import push_folder
from .model_card import set_card_usage


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
            target = push_folder(
                staging,
                target,
                token=token,
                private=private,
                saved_folder=folder,
                commit_message=f"Publish {name} with hf_gan",
            )
        print(f"published {folder} -> {target}")
        repo_ids.append(target)
    return repo_ids


def quiet_libraries() -> None:
    """Hides diffusers' loading bars and info logs, and library deprecation warnings: the CLI prints its own."""
    import warnings

    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")


def print_table(metrics: dict) -> None:
    width = max(len(k) for k in metrics)
    for key, value in metrics.items():
        if key != "protocol":
            print(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")


def add_train_command(commands) -> None:
    train = commands.add_parser(
        "train", help="train a GAN or an autoencoder (hf-gan train gan --help)", add_help=False
    )
    train.add_argument("model", choices=["gan", "autoencoder"])
    train.add_argument("options", nargs=argparse.REMAINDER, help="the flags of hf_gan.training.train_<model>")


def train(model: str, options: list[str]) -> int:
    from .training import train_autoencoder, train_gan  # accelerate and trackers load only for this command

    (train_gan if model == "gan" else train_autoencoder).main(options)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hf-gan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ev = commands.add_parser("evaluate", help="measure a pipeline's sample quality against a real dataset")
    ev.add_argument("pipeline", help="a pipeline folder or Hub repo id")
    ev.add_argument("--dataset", required=True, help="real data: Hub id, image folder, MNIST idx folder, ...")
    ev.add_argument(
        "--metrics",
        help="comma-separated, among fid, kid, classifier (default: classifier when one is "
        "known, --classifier or the shipped one for MNIST, else fid,kid)",
    )
    ev.add_argument(
        "--classifier",
        help="folder or Hub repo id of a classifier trained on this dataset by "
        "training/train_classifier.py (default for MNIST: the shipped one)",
    )
    ev.add_argument("--split", default="test")
    ev.add_argument("--reference_split", default="train", help="the second real set, for the FLD floor")
    ev.add_argument("--num_samples", type=int, default=10_000, help="a few hundred for a quick look")
    ev.add_argument("--batch_size", type=int, default=500)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--image_column")
    ev.add_argument("--label_column")
    ev.add_argument("--output", help="JSON file to write (default: eval_results.json in the pipeline folder or here)")
    ev.add_argument("--update_card", action="store_true", help="write the metrics into README.md")
    ev.add_argument("--update-card", dest="update_card", action="store_true", help=argparse.SUPPRESS)  # old spelling
    ev.add_argument(
        "--dataset_id",
        help="the dataset's name in the card's model-index (default: the Hub id, or the "
        "folder's name; e.g. ylecun/mnist for a local copy of MNIST)",
    )
    ev.add_argument("--verbose", action="store_true", help="show library logs, warnings and loading bars")
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

    if not args.verbose:
        quiet_libraries()
    from .metrics import evaluate_pipeline

    metrics = evaluate_pipeline(
        args.pipeline,
        args.dataset,
        metrics=args.metrics.split(",") if args.metrics else None,
        classifier=args.classifier,
        split=args.split,
        reference_split=args.reference_split,
        num_samples=args.num_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        dataset_id=args.dataset_id,
        image_column=args.image_column,
        label_column=args.label_column,
        update_card=args.update_card,
    )
    print_table(metrics)
    output = args.output or os.path.join(args.pipeline if os.path.isdir(args.pipeline) else ".", "eval_results.json")
    with open(output, "w", encoding="utf-8") as file:
        json.dump(metrics, file, indent=2)
    print(f"wrote {output}")
    if args.update_card:
        print(f"updated {os.path.join(args.pipeline, 'README.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
