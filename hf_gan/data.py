"""Image datasets for training: any source `datasets` reads, plus raw MNIST idx files, as uint8 tensors in memory.

Every source becomes a `datasets.Dataset` with an image column and, if present, a ClassLabel label column (the raw
MNIST files get the schema of the Hub's `ylecun/mnist`: `image`, `label` with names "0".."9"). Training then holds
the whole dataset as one uint8 tensor (N, C, H, W): small datasets such as MNIST take a few tens of MB, and batches
are gathered by index with no data-loader workers, which is what makes CPU training fast.
"""

import gzip
import os
from dataclasses import dataclass

import datasets
import numpy as np
import PIL.Image
import torch

IMAGE_COLUMN_NAMES = ("image", "img", "images", "pixel_values", "picture")
LABEL_COLUMN_NAMES = ("label", "labels", "class", "class_label", "target", "fine_label")
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
DATA_FILE_BUILDERS = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv", ".json": "json", ".jsonl": "json"}


class DatasetError(ValueError):
    """A dataset that cannot be trained on, with what to do about it."""


def _read_idx(path: str) -> np.ndarray:
    """Reads an idx file (plain or gzip), the format of the original MNIST distribution."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DatasetError(f"{path} is not an idx file of unsigned bytes (bad magic number {data[:4]!r}).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise DatasetError(f"{path} is truncated: its header promises {shape} but it holds {len(data) - offset} bytes.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def _find_idx_pair(folder: str, split: str) -> tuple[str, str] | None:
    """The (images, labels) idx files of `split` in `folder`, or in `raw/` or `MNIST/raw/` below it."""
    for base in (folder, os.path.join(folder, "raw"), os.path.join(folder, "MNIST", "raw")):
        found = []
        for stem in IDX_FILES.get(split, ()):
            candidates = [os.path.join(base, stem + ext) for ext in ("", ".gz")]
            found.append(next((c for c in candidates if os.path.isfile(c)), None))
        if found and all(found):
            return found[0], found[1]
    return None


def load_idx_dataset(images_path: str, labels_path: str) -> datasets.Dataset:
    images, labels = _read_idx(images_path), _read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"{images_path} and {labels_path} do not pair up: shapes {images.shape} and {labels.shape}.")
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=[str(i) for i in range(int(labels.max()) + 1)])}
    )
    return datasets.Dataset.from_dict(
        {"image": [PIL.Image.fromarray(image) for image in images], "label": labels.astype(np.int64)}, features=features
    )


def load_image_dataset(name_or_path: str, split: str = "train", cache_dir: str | None = None) -> datasets.Dataset:
    """Loads `split` of a Hub dataset id, an image folder (class subfolders become labels), a parquet/arrow/csv
    file or folder of them, a `save_to_disk` folder, or a folder of raw MNIST idx files."""
    if os.path.isdir(name_or_path):
        if os.path.isfile(os.path.join(name_or_path, "dataset_dict.json")) or os.path.isfile(
            os.path.join(name_or_path, "state.json")
        ):
            dataset = datasets.load_from_disk(name_or_path)
            if isinstance(dataset, datasets.DatasetDict):
                if split not in dataset:
                    raise DatasetError(f"{name_or_path} has splits {list(dataset)}, not {split!r}: pass --split.")
                dataset = dataset[split]
            return dataset
        idx_pair = _find_idx_pair(name_or_path, split)
        if idx_pair:
            return load_idx_dataset(*idx_pair)
        if not any(files for _, _, files in os.walk(name_or_path)):
            raise DatasetError(f"The dataset folder {name_or_path} is empty.")
    elif os.path.isfile(name_or_path):
        builder = DATA_FILE_BUILDERS.get(os.path.splitext(name_or_path)[1])
        if builder is None:
            raise DatasetError(f"Cannot read {name_or_path}: use a folder, or a {'/'.join(DATA_FILE_BUILDERS)} file.")
        return datasets.load_dataset(builder, data_files={split: name_or_path}, split=split, cache_dir=cache_dir)
    elif name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:  # a path, not a Hub id
        raise DatasetError(f"{name_or_path} does not exist: pass a local folder or file, or a Hub dataset id.")
    try:
        return datasets.load_dataset(name_or_path, split=split, cache_dir=cache_dir)
    except ValueError as error:
        raise DatasetError(f"Could not load split {split!r} of {name_or_path}: {error}") from error


def find_column(dataset: datasets.Dataset, requested: str | None, names: tuple, feature_type, what: str) -> str | None:
    """The column holding `what`: `requested` if given, else the first of type `feature_type`, else a usual name."""
    columns = dataset.column_names
    if requested is not None:
        if requested not in columns:
            raise DatasetError(f"The dataset has no {what} column {requested!r}; its columns are {columns}.")
        return requested
    typed = [c for c in columns if isinstance(dataset.features[c], feature_type)]
    return typed[0] if typed else next((c for c in names if c in columns), None)


@dataclass
class ImageTensorDataset:
    """A whole image dataset in memory: uint8 images (N, C, H, W), int64 labels (N,) or None, and label names."""

    images: torch.Tensor
    labels: torch.Tensor | None
    label_names: list[str] | None

    def __len__(self) -> int:
        return len(self.images)


def _to_array(image, mode: str, resolution: int | None) -> np.ndarray:
    if not isinstance(image, PIL.Image.Image):
        image = PIL.Image.fromarray(np.asarray(image))
    image = image.convert(mode)
    if resolution is not None and image.size != (resolution, resolution):
        # Resize the short side, then centre-crop a square.
        scale = resolution / min(image.size)
        w, h = max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale))
        image = image.resize((w, h), PIL.Image.BICUBIC)
        left, top = (w - resolution) // 2, (h - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def prepare_image_dataset(
    dataset: datasets.Dataset,
    image_column: str | None = None,
    label_column: str | None = None,
    resolution: int | None = None,
    num_channels: int | None = None,
    require_labels: bool = False,
    max_samples: int | None = None,
) -> ImageTensorDataset:
    """Decodes `dataset` into memory. Grayscale stays one channel unless `num_channels=3`; colour or mixed datasets
    become RGB. Images of several sizes need `resolution`. Labels must be a ClassLabel or integers."""
    if len(dataset) == 0:
        raise DatasetError("The dataset has no rows.")
    image_column = find_column(dataset, image_column, IMAGE_COLUMN_NAMES, datasets.Image, "image")
    if image_column is None:
        raise DatasetError(f"No image column found among {dataset.column_names}: pass --image_column.")
    label_column = find_column(dataset, label_column, LABEL_COLUMN_NAMES, datasets.ClassLabel, "label")
    if require_labels and label_column is None:
        raise DatasetError(
            f"A conditional model needs class labels, but the dataset has no label column among {dataset.column_names}:"
            " pass --label_column, or train an unconditional model (--model gan)."
        )
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))

    pil_images = dataset[image_column]
    if num_channels is None:
        gray = all(getattr(im, "mode", "L") in ("L", "1", "I", "I;16") for im in pil_images)
        num_channels = 1 if gray else 3
    if num_channels not in (1, 3):
        raise DatasetError(f"num_channels must be 1 or 3, got {num_channels}.")
    mode = "L" if num_channels == 1 else "RGB"
    sizes = {getattr(im, "size", None) for im in pil_images}
    if resolution is None and len(sizes) > 1:
        raise DatasetError(f"The images have several sizes ({sorted(sizes)[:4]}...): pass --resolution to resize them.")
    if resolution is None and next(iter(sizes))[0] != next(iter(sizes))[1]:
        raise DatasetError(f"The images are not square ({next(iter(sizes))}): pass --resolution to crop them.")
    images = torch.from_numpy(np.stack([_to_array(im, mode, resolution) for im in pil_images])).permute(0, 3, 1, 2)

    labels = label_names = None
    if label_column is not None:
        feature = dataset.features[label_column]
        values = dataset[label_column]
        if isinstance(feature, datasets.ClassLabel):
            label_names = list(feature.names)
        elif all(isinstance(v, (int, np.integer)) for v in values):
            label_names = [str(i) for i in range(max(values) + 1)]
        else:
            raise DatasetError(f"Label column {label_column!r} must hold class ids (ClassLabel or integers), got {feature}.")
        labels = torch.tensor(values, dtype=torch.int64)
        if labels.min() < 0:
            raise DatasetError(f"Label column {label_column!r} has negative (missing?) labels.")
    return ImageTensorDataset(images.contiguous(), labels, label_names)
