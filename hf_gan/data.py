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
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Grayscale modes of 16-bit images (PNG, TIFF); PIL gives "I" (32-bit integers) for some of them.
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# PIL mode of the images for each --num_channels
CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
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
        raise DatasetError(
            f"{path} is truncated: its header promises {shape} but it holds {len(data) - offset} bytes."
        )
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
        raise DatasetError(
            f"{images_path} and {labels_path} do not pair up: shapes {images.shape} and {labels.shape}."
        )
    # Idx files carry no class names: labels that are exactly 0..K-1 get names "0".."K-1"; anything else stays plain
    # integers, which prepare_image_dataset refuses unless it is told the number of classes.
    dense = np.array_equal(np.unique(labels), np.arange(int(labels.max()) + 1))
    names = [str(i) for i in range(int(labels.max()) + 1)]
    label_feature = datasets.ClassLabel(names=names) if dense else datasets.Value("int64")
    features = datasets.Features({"image": datasets.Image(), "label": label_feature})
    return datasets.Dataset.from_dict(
        {"image": [PIL.Image.fromarray(image) for image in images], "label": labels.astype(np.int64)},
        features=features,
    )


def load_image_dataset(
    name_or_path: str, split: str = "train", cache_dir: str | None = None, streaming: bool = False
) -> datasets.Dataset | datasets.IterableDataset:
    """Loads `split` of a Hub dataset id, an image folder (class subfolders become labels), a parquet/arrow/csv
    file or folder of them, a `save_to_disk` folder, or a folder of raw MNIST idx files. With `streaming`, an
    IterableDataset that reads the files as it is iterated (hf_gan.streaming); raw idx files are not streamed."""
    if os.path.isdir(name_or_path):
        if os.path.isfile(os.path.join(name_or_path, "dataset_dict.json")) or os.path.isfile(
            os.path.join(name_or_path, "state.json")
        ):
            dataset = datasets.load_from_disk(name_or_path)
            if isinstance(dataset, datasets.DatasetDict):
                if split not in dataset:
                    raise DatasetError(f"{name_or_path} has splits {list(dataset)}, not {split!r}: pass --split.")
                dataset = dataset[split]
            # memory-mapped already; shards so that DataLoader workers and processes can split it
            return dataset.to_iterable_dataset(num_shards=max(1, len(dataset) // 10_000)) if streaming else dataset
        idx_pair = _find_idx_pair(name_or_path, split)
        if idx_pair:
            if streaming:
                raise DatasetError(
                    f"{name_or_path} holds raw MNIST idx files, which are not streamed: drop --streaming."
                )
            return load_idx_dataset(*idx_pair)
        if not any(files for _, _, files in os.walk(name_or_path)):
            raise DatasetError(f"The dataset folder {name_or_path} is empty.")
    elif os.path.isfile(name_or_path):
        builder = DATA_FILE_BUILDERS.get(os.path.splitext(name_or_path)[1])
        if builder is None:
            raise DatasetError(f"Cannot read {name_or_path}: use a folder, or a {'/'.join(DATA_FILE_BUILDERS)} file.")
        return datasets.load_dataset(
            builder, data_files={split: name_or_path}, split=split, cache_dir=cache_dir, streaming=streaming
        )
    elif name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:  # a path, not a Hub id
        raise DatasetError(f"{name_or_path} does not exist: pass a local folder or file, or a Hub dataset id.")
    try:
        return datasets.load_dataset(name_or_path, split=split, cache_dir=cache_dir, streaming=streaming)
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


def has_alpha(image) -> bool:
    """Whether a PIL image carries transparency: an alpha band, or a palette or grayscale image's transparent index."""
    return isinstance(image, PIL.Image.Image) and (image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info)


def _to_array(image, mode: str, resolution: int | None) -> np.ndarray:
    if not isinstance(image, PIL.Image.Image):
        image = PIL.Image.fromarray(np.asarray(image))
    if image.mode in SIXTEEN_BIT_MODES:
        # PIL's convert("L") clips 16-bit values at 255, which turns nearly every pixel white: scale 0..65535 instead.
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise DatasetError(f"A {image.mode} image holds values outside 0..65535 ({values.min()}..{values.max()}).")
        image = PIL.Image.fromarray(np.round(values / 257.0).astype(np.uint8), "L")
    if mode != "RGBA" and has_alpha(image):
        # transparent pixels hold arbitrary (often black) colour: composite on white, as an icon is shown
        image = PIL.Image.alpha_composite(PIL.Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
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
    num_classes: int | None = None,
) -> ImageTensorDataset:
    """Decodes `dataset` into memory. Grayscale stays one channel unless `num_channels=3`; colour or mixed datasets
    become RGB, transparent images composited on white; `num_channels=4` keeps the alpha channel as RGBA (opaque for
    images without one); 16-bit grayscale is scaled to 8 bits. Images of several sizes need `resolution` (the error
    names a file of each size). Labels must be a ClassLabel or integers, all within its names, or within
    `num_classes` if given (required for integers without names unless they are exactly 0..K-1)."""
    if len(dataset) == 0:
        raise DatasetError("The dataset has no rows.")
    image_column = find_column(dataset, image_column, IMAGE_COLUMN_NAMES, datasets.Image, "image")
    if image_column is None:
        raise DatasetError(f"No image column found among {dataset.column_names}: pass --image_column.")
    label_column = find_column(dataset, label_column, LABEL_COLUMN_NAMES, datasets.ClassLabel, "label")
    if require_labels and label_column is None:
        raise DatasetError(
            "A conditional model needs class labels, but the dataset has no label column among "
            f"{dataset.column_names}:"
            " pass --label_column, or train an unconditional model (--model gan)."
        )
    if max_samples is not None:
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise DatasetError(
                f"max_samples (--max_train_samples) must be a positive number of rows, got {max_samples!r}: leave it "
                f"out to use all {len(dataset)} rows."
            )
        dataset = dataset.select(range(min(max_samples, len(dataset))))

    pil_images, sources = _decode_images(dataset, image_column)
    if num_channels is None:
        gray = all(getattr(im, "mode", "L") in ("L", "1", *SIXTEEN_BIT_MODES) for im in pil_images)
        num_channels = 1 if gray else 3
    if num_channels not in CHANNEL_MODES:
        raise DatasetError(f"num_channels must be one of {sorted(CHANNEL_MODES)}, got {num_channels}.")
    if num_channels == 4 and not any(has_alpha(im) for im in pil_images):
        raise DatasetError(
            f"num_channels (--num_channels) is 4 (RGBA), but none of the {len(pil_images)} images has an alpha "
            f"channel ({sources[0]} is {getattr(pil_images[0], 'mode', 'an array')}): use --num_channels 3 for "
            "colour images."
        )
    mode = CHANNEL_MODES[num_channels]
    first_of_size = {}
    for im, source in zip(pil_images, sources):
        first_of_size.setdefault(getattr(im, "size", None), source)
    if resolution is None and len(first_of_size) > 1:
        shown = ", ".join(f"{source} is {w}x{h}" for (w, h), source in list(first_of_size.items())[:3])
        raise DatasetError(f"The images have several sizes ({shown}): pass --resolution to resize them all.")
    (width, height), source = next(iter(first_of_size.items()))
    if resolution is None and width != height:
        raise DatasetError(
            f"The images are not square ({source} is {width}x{height}): pass --resolution to crop them."
        )
    images = torch.from_numpy(np.stack([_to_array(im, mode, resolution) for im in pil_images])).permute(0, 3, 1, 2)

    labels = label_names = None
    if label_column is not None:
        feature = dataset.features[label_column]
        values = dataset[label_column]
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise DatasetError(
                f"Label column {label_column!r} must hold class ids (ClassLabel or integers), got {feature}."
            )
        labels = torch.tensor(values, dtype=torch.int64)
        label_names = _label_names(labels, feature, label_column, num_classes)
    elif num_classes is not None:
        raise DatasetError(f"num_classes (--num_classes) is {num_classes}, but the dataset has no label column.")
    return ImageTensorDataset(images.contiguous(), labels, label_names)


def _decode_images(dataset: datasets.Dataset, column: str) -> tuple[list, list[str]]:
    """The images of `column`, decoded one by one so that a truncated or broken file is named in the error, and where
    each came from (its file, or its row), for errors about one image."""
    feature = dataset.features[column]
    if not isinstance(feature, datasets.Image):
        return dataset[column], [f"row {row}" for row in range(len(dataset))]
    images, sources = [], []
    for row, encoded in enumerate(dataset.cast_column(column, datasets.Image(decode=False))[column]):
        source = f"{encoded['path']} (row {row})" if encoded.get("path") else f"row {row}"
        try:
            images.append(feature.decode_example(encoded))
        except (OSError, SyntaxError, ValueError) as error:  # what PIL raises for truncated and malformed files
            raise DatasetError(
                f"The image of {source} in column {column!r} cannot be decoded: {error}. The file is truncated or "
                "not an image: replace or remove it."
            ) from error
        sources.append(source)
    return images, sources


def _label_names(labels: torch.Tensor, feature, column: str, num_classes: int | None) -> list[str]:
    """The class names for integer `labels`, once every label is known to lie in 0..K-1 (a label out of range would
    silently widen the model to K classes, or crash training at its first step)."""
    if num_classes is not None and (type(num_classes) is not int or num_classes < 1):  # type(): True is no count
        raise DatasetError(f"num_classes (--num_classes) must be a positive integer, got {num_classes!r}.")
    if isinstance(feature, datasets.ClassLabel):
        names = list(feature.names)
        if num_classes is not None and num_classes != len(names):
            raise DatasetError(
                f"num_classes (--num_classes) is {num_classes}, but label column {column!r} names {len(names)} classes"
                f" ({names[:5]}...): drop the flag or fix the dataset's ClassLabel names."
            )
        source = f"its ClassLabel names {len(names)} classes"
    elif num_classes is not None:
        names = [str(i) for i in range(num_classes)]
        source = f"num_classes (--num_classes) is {num_classes}"
    else:
        # Integers without names: the number of classes is max + 1 only if every class in 0..max has images;
        # a gap (say labels 0..9 and one 99999) is far more likely a damaged label than 99,990 empty classes.
        present = torch.unique(labels)
        if present.min() >= 0 and len(present) == int(present.max()) + 1:
            return [str(i) for i in range(len(present))]
        shown = present.tolist() if len(present) <= 12 else present[:6].tolist() + ["..."] + present[-3:].tolist()
        raise DatasetError(
            f"Label column {column!r} holds integers without class names, and they are not the dense range 0..K-1 "
            f"(values {shown}), so the number of classes is unclear. Pass num_classes (--num_classes) to state it, "
            "or fix the labels."
        )
    bad_rows = torch.nonzero((labels < 0) | (labels >= len(names))).flatten()
    if len(bad_rows):
        row = int(bad_rows[0])
        raise DatasetError(
            f"Label column {column!r} has {len(bad_rows)} label(s) outside 0..{len(names) - 1} (row {row}: "
            f"{int(labels[row])}), but {source}. Fix or drop those rows (a negative label often marks a missing one)."
        )
    return names
