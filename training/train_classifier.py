"""Train the MNIST classifier that hf_gan's metrics use, and write it into the package (hf_gan/metrics/).

    python training/train_classifier.py --dataset_name ../shared/data/mnist

Small on purpose (a few hundred KB): five 3x3 convolutions, global average pooling, a 128-d feature layer. Random
shifts of up to 2 pixels are the only augmentation. Prints the test accuracy, which must reach 99.3 %.
"""

import argparse
import time

import torch
import torch.nn.functional as F

from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.metrics.classifier import WEIGHTS_DIR, MNISTClassifier


def load_split(dataset_name, split):
    data = prepare_image_dataset(load_image_dataset(dataset_name, split), require_labels=True)
    return data.images.float() / 255, data.labels


def random_shift(images, generator, pixels=2):
    padded = F.pad(images, (pixels,) * 4)
    dx, dy = torch.randint(0, 2 * pixels + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy : dy + images.shape[2], dx : dx + images.shape[3]]


@torch.no_grad()
def accuracy(model, images, labels, batch_size=1000):
    model.eval()
    correct = sum((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum().item() for i in range(0, len(images), batch_size))
    return correct / len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset_name", default="../shared/data/mnist")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default=WEIGHTS_DIR)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train_images, train_labels = load_split(args.dataset_name, "train")
    test_images, test_labels = load_split(args.dataset_name, "test")
    model = MNISTClassifier()
    steps = args.epochs * (len(train_images) // args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_images), generator=generator)
        for i in range(len(train_images) // args.batch_size):
            batch = order[i * args.batch_size : (i + 1) * args.batch_size]
            loss = F.cross_entropy(model(random_shift(train_images[batch], generator)), train_labels[batch], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, test_images, test_labels):.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    model.save_pretrained(args.output_dir)
    print(f"saved to {args.output_dir}; test accuracy {accuracy(model, test_images, test_labels):.4%}")


if __name__ == "__main__":
    main()
