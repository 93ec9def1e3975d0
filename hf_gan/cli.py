"""The hf-gan command line.

- `hf-gan evaluate PIPELINE --dataset DATA`: measure a pipeline against a real dataset (FID and KID with the standard
  Inception-v3, class metrics with a classifier trained on the data), print a table, write JSON, and with
  --update_card the model card's evaluation section and model-index metadata.
- `hf-gan publish FOLDER... --org ORG`: push pipeline folders (e.g. model_zoo/*) to ORG/<folder name> on the Hub,
  with their cards' usage snippets pointing at the new repository.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile

from .hub import push_folder

def publish(folders, org, token=None, private=False) -> list[str]:
    """Uploads each pipeline folder to org/<folder name>, its card's usage snippet pointing at that repository;
    returns the repo ids."""
    repo_ids = []
    for folder in folders:
        if not os.path.isfile(os.path.join(folder, "model_index.json")):
            raise ValueError(f"{folder} is not a pipeline folder (no model_index.json).")
        name = os.path.basename(os.path.normpath(folder))
        with tempfile.TemporaryDirectory() as staging:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            card = os.path.join(staging, "README.md")
            if os.path.isfile(card):  # the snippet should load the published repo, not the local folder
                with open(card, encoding="utf-8") as file:
                    text = re.sub(r'from_pretrained\("[^"]*"\)', f'from_pretrained("{org}/{name}")', file.read())
                with open(card, "w", encoding="utf-8") as file:
                    file.write(text)
            repo_id = push_folder(staging, f"{org}/{name}", token=token, private=private,
                                  commit_message=f"Publish {name} with hf_gan")
        print(f"published {folder} -> {repo_id}")
        repo_ids.append(repo_id)
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hf-gan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ev = commands.add_parser("evaluate", help="measure a pipeline's sample quality against a real dataset")
    ev.add_argument("pipeline", help="a pipeline folder or Hub repo id")
    ev.add_argument("--dataset", required=True, help="real data: Hub id, image folder, MNIST idx folder, ...")
    ev.add_argument("--metrics", help="comma-separated, among fid, kid, classifier (default: fid,kid, plus "
                    "classifier when one is known: --classifier, or the shipped one for MNIST)")
    ev.add_argument("--classifier", help="folder or Hub repo id of a classifier trained on this dataset by "
                    "training/train_classifier.py (default for MNIST: the shipped one)")
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
    ev.add_argument("--dataset_id", help="the dataset's name in the card's model-index (default: the Hub id, or the "
                    "folder's name; e.g. ylecun/mnist for a local copy of MNIST)")
    ev.add_argument("--verbose", action="store_true", help="show library logs, warnings and loading bars")
    pub = commands.add_parser("publish", help="push pipeline folders to a Hub organisation")
    pub.add_argument("folders", nargs="+", help="pipeline folders, e.g. model_zoo/*")
    pub.add_argument("--org", required=True, help="organisation or user to publish under")
    pub.add_argument("--token", help="default: the logged-in token or HF_TOKEN")
    pub.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "publish":
        publish(args.folders, args.org, args.token, args.private)
        return 0

    if not args.verbose:
        quiet_libraries()
    from .metrics import evaluate_pipeline

    metrics = evaluate_pipeline(
        args.pipeline, args.dataset, metrics=args.metrics.split(",") if args.metrics else None,
        classifier=args.classifier, split=args.split, reference_split=args.reference_split,
        num_samples=args.num_samples, batch_size=args.batch_size, seed=args.seed, device=args.device,
        dataset_id=args.dataset_id, image_column=args.image_column, label_column=args.label_column,
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
