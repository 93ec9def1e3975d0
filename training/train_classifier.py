"""Train the evaluation classifier of hf_gan's class metrics (FLD, class-conditional accuracy, precision/recall, class
histogram) on any labelled image dataset that hf_gan.data reads, and save it like hf_gan's models (safetensors +
config.json), optionally pushing it to the Hub.

    python training/train_classifier.py --dataset_name ./my_labelled_images --output_dir outputs/classifier
    hf-gan evaluate outputs/my-cgan --dataset ./my_labelled_images --classifier outputs/classifier

The one that ships for MNIST (hf_gan/metrics/mnist_classifier, 99.57 % on the test digits) was trained with
`--dataset_name ../shared/data/mnist --output_dir hf_gan/metrics/mnist_classifier`. Small on purpose (a few hundred
KB): five 3x3 convolutions, global average pooling, a 128-d feature layer; random shifts of up to 1/14 of the image
are the only augmentation. Prints its accuracy on the evaluation split: the ceiling of class-conditional accuracy.
"""

import argparse
import time

import torch
import torch.nn.functional as F

from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.hub import push_folder
from hf_gan.metrics import classify, evaluate_images
from hf_gan.metrics.classifier import ImageClassifier


def load_split(args, split):
    data = prepare_image_dataset(
        load_image_dataset(args.dataset_name, split),
        args.image_column,
        args.label_column,
        args.resolution,
        args.num_channels,
        require_labels=True,
    )
    return data.images.float() / 255, data.labels, data.label_names


def random_shift(images, generator):
    pixels = max(1, images.shape[-1] // 14)
    padded = F.pad(images, (pixels,) * 4, mode="replicate")
    dx, dy = torch.randint(0, 2 * pixels + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy : dy + images.shape[2], dx : dx + images.shape[3]]


@torch.no_grad()
def accuracy(model, images, labels, batch_size=1000):
    model.eval()
    correct = sum(
        (model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum().item()
        for i in range(0, len(images), batch_size)
    )
    return correct / len(images)


def fit(model, images, labels, args, generator, evaluate, corrupt=None):
    """Trains `model` for args.epochs (AdamW, a one-cycle rate, label smoothing, random shifts), printing
    `evaluate()` after each epoch. `corrupt(batch, generator)`, if given, is applied to each shifted batch: a
    classifier of corrupted images (benchmarks/restoration_ceiling.py)."""
    steps_per_epoch = max(1, len(images) // args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        for i in range(steps_per_epoch):
            batch = order[i * args.batch_size : (i + 1) * args.batch_size]
            inputs = random_shift(images[batch], generator)
            if corrupt is not None:
                inputs = corrupt(inputs, generator)
            loss = F.cross_entropy(model(inputs), labels[batch], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}: accuracy {evaluate():.4f} ({time.perf_counter() - start:.0f} s)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dataset_name", required=True, help="Hub id, image folder (class subfolders), MNIST idx folder, ..."
    )
    parser.add_argument("--train_split", default="train")
    parser.add_argument("--eval_split", default="test")
    parser.add_argument("--image_column")
    parser.add_argument("--label_column")
    parser.add_argument("--resolution", type=int, help="resize and centre-crop to this size (as for training the GAN)")
    parser.add_argument("--num_channels", type=int, choices=[1, 3])
    parser.add_argument("--hub_dataset_id", help="the dataset's name recorded in the classifier's config")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=16, help="channels of the first convolutions")
    parser.add_argument("--feature_dim", type=int, default=128, help="size of the feature layer (FLD's space)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default="outputs/classifier")
    parser.add_argument("--push_to_hub", action="store_true")
    parser.add_argument("--hub_model_id")
    parser.add_argument("--hub_token")
    args = parser.parse_args(argv)
    if args.push_to_hub and not args.hub_model_id:
        parser.error("--push_to_hub needs --hub_model_id org/name.")

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train_images, train_labels, label_names = load_split(args, args.train_split)
    eval_images, eval_labels, eval_names = load_split(args, args.eval_split)
    if eval_names != label_names:
        raise ValueError(
            f"The {args.train_split} split has classes {label_names}, the {args.eval_split} split {eval_names}."
        )
    model = ImageClassifier(
        width=args.width,
        feature_dim=args.feature_dim,
        num_classes=len(label_names),
        in_channels=train_images.shape[1],
        sample_size=train_images.shape[-1],
        mean=train_images.mean().item(),
        std=train_images.std().item(),
        label_names=label_names,
        dataset=args.hub_dataset_id or args.dataset_name,
    )
    fit(model, train_images, train_labels, args, generator, lambda: accuracy(model, eval_images, eval_labels))
    model.save_pretrained(args.output_dir)
    print(f"saved to {args.output_dir}; {args.eval_split} accuracy {accuracy(model, eval_images, eval_labels):.4%}")
    # what the class metrics can resolve: a classifier that never predicts a class cannot show a GAN drawing it
    real = evaluate_images(eval_images, eval_images, real_labels=eval_labels, classifier=model)
    predicted = classify(eval_images, model)[1]
    recall = [(predicted[eval_labels == k] == k).double().mean().item() for k in range(len(label_names))]
    print(
        f"{args.eval_split}: predicted-class histogram {real['histogram_max_deviation_pp_on_real']:.2f} points from "
        f"the labels at most (the floor of a GAN's), {real['classes_present']} of {len(label_names)} classes "
        "predicted; recall per class: " + ", ".join(f"{n} {r:.0%}" for n, r in zip(label_names, recall))
    )
    if args.push_to_hub:
        print(f"pushed to {push_folder(args.output_dir, args.hub_model_id, token=args.hub_token)}")


if __name__ == "__main__":
    main()
