"""Training data larger than memory: a `datasets` stream decoded in DataLoader workers, with exact resume.

The stream is `datasets.load_dataset(..., streaming=True)` (a Hub id, parquet/arrow/csv/json files, an image
folder, or a `save_to_disk` folder), its images left encoded. Each accelerate process reads its own part of it
(`datasets.distributed.split_dataset_by_node`: whole shards when their number divides by the processes, else every
n-th sample), shuffled by `IterableDataset.shuffle(seed, buffer_size)` (its shard order and a buffer of
--shuffle_buffer_size samples, both drawn from the seed and the epoch). Its batches are numbered (epoch, batch of
the epoch); DataLoader worker w of W decodes (with hf_gan.data's own decoding) the batches whose number, counted from
where the run started, is w modulo W, and the DataLoader hands them out in that order. So the order of a process's
batches is a function of the seed and the data alone, not of the number of workers.

Exact resume: a checkpoint records, per process, the (epoch, batch) the stream is at (stream-<rank>.json). On resume
every worker reads the epoch's encoded samples up to there again without decoding them and goes on. `datasets`'
own `IterableDataset.state_dict()` would skip that reading, but it does not save the content of the shuffle buffer
(datasets 5.2 refills it on `load_state_dict`), so a resumed run would see other samples than the uninterrupted one.

Faults (a label out of range, an image that does not decode, a shard that disappeared) are found in the worker that
decodes the batch; it sends them to the training process, which stops naming the sample (or, with
--bad_images skip, logs an undecodable image and uses another image of its batch in its place). With several
processes, each tells the others of a fault before every step, so that all of them stop before the same step and
checkpoint the steps done.
"""

import argparse
import io
import logging
import os

import datasets
import numpy as np
import PIL.Image
import torch
from datasets.distributed import split_dataset_by_node

from .data import (
    IMAGE_COLUMN_NAMES,
    LABEL_COLUMN_NAMES,
    SIXTEEN_BIT_MODES,
    DatasetError,
    ImageTensorDataset,
    _find_idx_pair,
    _to_array,
    find_column,
    load_image_dataset,
)


logger = logging.getLogger(__name__)
DEFAULT_SHUFFLE_BUFFER = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("streaming (datasets larger than memory)")
    group.add_argument(
        "--streaming",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stream the dataset through DataLoader workers instead of decoding it all into memory (default: stream "
        "when the decoded dataset would take more than --in_memory_max_gb)",
    )
    group.add_argument(
        "--in_memory_max_gb",
        type=float,
        help="the largest decoded dataset (uint8 images) held in memory; larger ones are streamed "
        "(default: a quarter of this machine's RAM)",
    )
    group.add_argument("--dataloader_num_workers", type=int, default=1, help="processes decoding the stream")
    group.add_argument(
        "--shuffle_buffer_size",
        type=int,
        default=DEFAULT_SHUFFLE_BUFFER,
        help="samples in the stream's shuffle buffer (encoded; one buffer per worker)",
    )
    group.add_argument(
        "--bad_images",
        choices=["stop", "skip"],
        default="stop",
        help="an image in the stream that does not decode stops the run (default), or is logged and replaced by "
        "another image of its batch",
    )


# -- choosing the path ------------------------------------------------------------------------------------------


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def count_rows(stream: datasets.IterableDataset, name_or_path: str, split: str) -> int | None:
    """The number of rows of the stream without reading it: parquet footers, or the split's recorded size."""
    files = [f for f in _local_files(name_or_path) if f.endswith(".parquet")]
    if files:
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    splits = stream.info.splits if stream.info else None
    if splits and split in splits and splits[split].num_examples:
        return splits[split].num_examples
    return None


def _local_files(name_or_path: str) -> list[str]:
    if os.path.isfile(name_or_path):
        return [name_or_path]
    if os.path.isdir(name_or_path):
        return sorted(os.path.join(root, f) for root, _, names in os.walk(name_or_path) for f in names)
    return []


def decide_streaming(args, num_rows: int | None, channels: int, resolution: int) -> bool:
    """--streaming / --no-streaming, else stream when the decoded dataset would exceed the budget; logs why."""
    if args.streaming is not None:
        return args.streaming
    budget = args.in_memory_max_gb * 1e9 if args.in_memory_max_gb is not None else physical_memory_bytes() / 4
    if num_rows is None:
        logger.info(
            "The dataset's size is not known without reading it: loading it into memory (--streaming to stream)"
        )
        return False
    decoded = num_rows * channels * resolution * resolution
    streaming = decoded > budget
    logger.info(
        f"The decoded dataset ({num_rows} images {channels}x{resolution}x{resolution}) takes {decoded / 1e9:.3g} GB, "
        f"{'more' if streaming else 'no more'} than the in-memory budget of {budget / 1e9:.3g} GB "
        f"(--in_memory_max_gb): {'streaming it' if streaming else 'loading it into memory'}"
    )
    return streaming


# -- the stream ---------------------------------------------------------------------------------------------------


class StreamingImages(torch.utils.data.IterableDataset):
    """One process's batches of a stream, decoded, forever (epoch after epoch), from (`epoch`, `batch`) on.

    Yields dicts: `images` uint8 (B, C, R, R), `labels` int64 (B,) or None, `position` (epoch, batch), `warnings`
    to log, and `error` (a message; images, labels and position are then None) for a fault that stops the run."""

    def __init__(
        self, stream, image_column, label_column, batch_size, mode, resolution, num_classes, bad_images, size
    ):
        super().__init__()
        self.size = size  # the first image's: without --resolution, every image must have it
        self.stream = stream.cast_column(image_column, datasets.Image(decode=False)).with_format("arrow")
        self.image_column, self.label_column, self.batch_size = image_column, label_column, batch_size
        self.mode, self.resolution, self.num_classes, self.bad_images = mode, resolution, num_classes, bad_images
        self.start = (0, 0)

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        epoch, first = self.start
        counted = 0  # batches from the start on: this worker decodes those equal to `worker` modulo `num_workers`
        while True:
            self.stream.set_epoch(epoch)
            batches = 0
            try:
                for batch, table in enumerate(self.stream.iter(self.batch_size, drop_last_batch=True)):
                    batches += 1
                    if batch < first:
                        continue
                    if counted % num_workers == worker:
                        yield self._decode(table, (epoch, batch))
                    counted += 1
            except (FileNotFoundError, OSError) as error:  # a shard removed or unreadable mid-run
                yield _error(
                    f"The stream could not read a shard in epoch {epoch}: {error}. A data file disappeared or is "
                    "unreadable: restore it"
                )
                return
            if batches == 0:
                yield _error(f"The stream holds fewer samples than one batch of {self.batch_size} per process")
                return
            epoch, first = epoch + 1, 0

    def _decode(self, table, position):
        encoded = table.column(self.image_column).to_pylist()
        images, bad, skipped = [], [], []
        for i, item in enumerate(encoded):
            try:
                images.append(self._to_array(item))
            except (OSError, SyntaxError, ValueError) as error:  # what PIL raises for truncated and malformed files
                what = _sample_name(position, i, item)
                if self.bad_images == "stop":
                    return _error(
                        f"The image of {what} cannot be decoded: {error}. The file is truncated or not an image: "
                        "replace or remove it, or pass --bad_images skip"
                    )
                bad.append(i)
                images.append(None)
                skipped.append(f"Skipping the undecodable image of {what} (--bad_images skip): {error}")
            except DatasetError as error:
                return _error(f"The image of {_sample_name(position, i, item)}: {error}")
        good = [i for i in range(len(images)) if images[i] is not None]
        if not good:
            return _error(f"No image of batch {position[1]} in epoch {position[0]} decodes")
        for k, i in enumerate(bad):  # another image of the batch in its place, so that batches keep their size
            images[i] = images[good[k % len(good)]]
        labels = None
        if self.label_column is not None:
            values = table.column(self.label_column).to_pylist()
            for i, value in enumerate(values):
                if not isinstance(value, int) or not 0 <= value < self.num_classes:
                    return _error(
                        f"The label of {_sample_name(position, i, encoded[i])} in column {self.label_column!r} is "
                        f"{value!r}, outside 0..{self.num_classes - 1}: fix or drop that row"
                    )
            labels = torch.tensor(values, dtype=torch.int64)
        images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        return {"images": images, "labels": labels, "position": position, "error": None, "warnings": skipped}

    def _to_array(self, item) -> np.ndarray:
        image = _open(item)
        image.load()
        if self.resolution is None and image.size != self.size:
            raise DatasetError(
                f"it is {image.size[0]}x{image.size[1]}, the stream's first image {self.size[0]}x{self.size[1]}: "
                "pass --resolution to resize them all"
            )
        return _to_array(image, self.mode, self.resolution)


class StagingBuffer(ImageTensorDataset):
    """The slots the StreamingBatcher fills; its length is the stream's number of images (0 if unknown)."""

    num_rows: int = 0

    def __len__(self) -> int:
        return self.num_rows


def _error(message: str) -> dict:
    return {"images": None, "labels": None, "position": None, "error": message, "warnings": []}


def _sample_name(position, index, item) -> str:
    path = item.get("path") if isinstance(item, dict) else None
    where = f"sample {index} of batch {position[1]} in epoch {position[0]} of the stream"
    return f"{path} ({where})" if path else where


class StreamingBatcher:
    """The stream's batches for train_gan's loop, which gathers real images as `data.images[indices]`: `indices(b)`
    copies the stream's next batch into a slot of `data.images` (a buffer of `slots` batches on the training device,
    one per D step) and returns that slot's indices, so the training step is the same as in memory."""

    def __init__(self, data, loader, slots, num_processes):
        self.data, self.loader, self.slots = data, loader, slots
        self.local_batch_size = data.images.shape[0] // slots
        self.num_processes = num_processes
        self.on_error = None  # called before a data fault is raised (train_gan: checkpoint the steps done)
        self.positions = {}  # batch number -> (epoch, batch) of the stream, for the last few batches
        self._iterator = None
        self._flags = None  # the process group that tells every process of a fault in one of them

    def indices(self, batch_number: int) -> torch.Tensor:
        if self._iterator is None:
            self._iterator = iter(self.loader)
        item = next(self._iterator)
        error = item["error"]
        if self.num_processes > 1 and self._on_any_process(error is not None):
            # all processes stop before the same step, so that they can checkpoint the steps done together
            error = error or "Another process met a fault in its part of the stream: its error names it"
        if error is not None:
            saved = self.on_error() if self.on_error else None
            raise DatasetError(f"{error}. {saved or 'Nothing was saved from this run.'}")
        for warning in item["warnings"]:  # logged here: a worker's log records stay in the worker
            logger.warning(warning)
        slot = batch_number % self.slots
        rows = slice(slot * self.local_batch_size, (slot + 1) * self.local_batch_size)
        self.data.images[rows].copy_(item["images"], non_blocking=True)
        if self.data.labels is not None:
            self.data.labels[rows].copy_(item["labels"], non_blocking=True)
        self.positions[batch_number] = item["position"]
        for old in [b for b in self.positions if b < batch_number - 2 * self.slots]:
            del self.positions[old]
        return torch.arange(rows.start, rows.stop, device=self.data.images.device)

    def _on_any_process(self, flag: bool) -> bool:
        """Whether `flag` holds on any process: an all-reduce of one integer over gloo, on the CPU, so that a GPU
        run does not wait for its device each step."""
        if self._flags is None:  # a collective: every process makes it at its first batch
            self._flags = torch.distributed.new_group(backend="gloo")
        flags = torch.tensor([int(flag)])
        torch.distributed.all_reduce(flags, group=self._flags)
        return bool(flags.item())

    def state_dict(self, batches_seen: int) -> dict:
        """Where this process's stream continues after `batches_seen` batches (JSON)."""
        if batches_seen == 0:
            epoch, batch = self.loader.dataset.start
        else:
            epoch, batch = self.positions[batches_seen - 1]
            batch += 1
        return {"epoch": epoch, "batch": batch, "num_processes": self.num_processes}

    def load_state_dict(self, state: dict) -> None:
        if state["num_processes"] != self.num_processes:
            raise DatasetError(
                f"The checkpoint's stream positions are those of {state['num_processes']} process(es), this run has "
                f"{self.num_processes}: each process streams its own part of the data, so resume a streaming run "
                "with the number of processes that wrote it."
            )
        self.loader.dataset.start = (state["epoch"], state["batch"])
        self._iterator = None


def load_streaming_data(args, accelerator, require_labels):
    """(staging buffer as an ImageTensorDataset, StreamingBatcher) for this process's part of the stream, or None
    when the dataset is to be held in memory (--no-streaming, or it fits --in_memory_max_gb)."""
    if args.streaming is False:
        return None
    if os.path.isdir(args.dataset_name) and _find_idx_pair(args.dataset_name, args.dataset_split):
        if args.streaming:
            raise DatasetError(
                f"{args.dataset_name} holds raw MNIST idx files, which are read into memory (they are small): drop "
                "--streaming, or convert them to parquet to stream them."
            )
        return None
    try:
        stream, image_column, first, rows = _probe(args)
    except (DatasetError, OSError, SyntaxError, ValueError):
        if args.streaming:
            raise
        return None  # the in-memory path reports what is wrong with the data, as it did before streaming existed
    if first is None or not decide_streaming(args, rows, *_shape(args, first)):
        return None
    if getattr(args, "cuda_graph", False):  # the staging buffer would suit a graph, but that is untested on a GPU
        raise ValueError("--cuda_graph is for a dataset held on the GPU, not a stream: drop --cuda_graph.")
    if args.resolution is None and first.size[0] != first.size[1]:
        raise DatasetError(f"The images are not square ({first.size}): pass --resolution to crop them.")
    channels, resolution = _shape(args, first)
    label_column, label_names = _labels(stream, args, require_labels)
    if args.max_train_samples is not None:
        stream = stream.take(args.max_train_samples)
    if args.train_batch_size % accelerator.num_processes:
        raise ValueError(
            f"train_batch_size={args.train_batch_size} must be divisible by the {accelerator.num_processes} processes."
        )
    local_batch = args.train_batch_size // accelerator.num_processes
    images = StreamingImages(
        process_stream(
            stream, args.seed, args.shuffle_buffer_size, accelerator.process_index, accelerator.num_processes
        ),
        image_column,
        label_column,
        local_batch,
        "L" if channels == 1 else "RGB",
        args.resolution,
        len(label_names) if label_names else None,
        args.bad_images,
        first.size,
    )
    device = accelerator.device
    loader = torch.utils.data.DataLoader(
        images,
        batch_size=None,  # the dataset yields whole batches
        num_workers=args.dataloader_num_workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if args.dataloader_num_workers else None,
    )
    slots = getattr(args, "d_steps", 1)
    buffer = torch.zeros(slots * local_batch, channels, resolution, resolution, dtype=torch.uint8, device=device)
    labels = torch.zeros(slots * local_batch, dtype=torch.int64, device=device) if label_names else None
    logger.info(
        f"Streaming {args.dataset_name} ({rows if rows is not None else 'an unknown number of'} images): "
        f"{args.dataloader_num_workers} DataLoader worker(s), shuffle buffer {args.shuffle_buffer_size}"
    )
    staging = StagingBuffer(buffer, labels, label_names)
    staging.num_rows = rows or 0
    batcher = StreamingBatcher(staging, loader, slots, accelerator.num_processes)
    return batcher.data, batcher


def _probe(args):
    """The stream, its image column, its first image (None if the choice is already made: a size that cannot be
    known without reading the data, with --streaming unset) and its number of rows (None if unknown)."""
    stream = load_image_dataset(args.dataset_name, args.dataset_split, cache_dir=args.cache_dir, streaming=True)
    if stream.features is None:  # e.g. JSON without a schema: read the first rows for it
        stream = stream._resolve_features()
    image_column = find_column(stream, args.image_column, IMAGE_COLUMN_NAMES, datasets.Image, "image")
    if image_column is None:
        raise DatasetError(f"No image column found among {stream.column_names}: pass --image_column.")
    rows = count_rows(stream, args.dataset_name, args.dataset_split)
    if args.max_train_samples is not None and rows is not None:
        rows = min(rows, args.max_train_samples)
    if rows is None and args.streaming is None:
        decide_streaming(args, rows, 0, 0)  # logs the choice
        return stream, image_column, None, rows
    encoded = next(iter(stream.cast_column(image_column, datasets.Image(decode=False)).take(1)), None)
    if encoded is None:
        raise DatasetError("The dataset has no rows.")
    return stream, image_column, _open(encoded[image_column]), rows


def _shape(args, first) -> tuple[int, int]:
    """(channels, resolution): the arguments', else the first image's."""
    channels = args.num_channels or (1 if first.mode in ("L", "1", *SIXTEEN_BIT_MODES) else 3)
    return channels, args.resolution or first.size[0]


def process_stream(stream, seed, buffer_size, rank, num_processes):
    """This process's part of the stream, shuffled (shard order and buffer) from the seed and the epoch."""
    # one shard at a time into the buffer (in a seeded shard order): interleaving parquet shards, datasets 5.2 sleeps
    # 5 s at the end of every pass (apache/arrow#45214), which stalled each epoch of a 10k-image run by that much
    shuffled = stream.shuffle(seed=seed, buffer_size=buffer_size, max_buffer_input_shards=1)
    return split_dataset_by_node(shuffled, rank=rank, world_size=num_processes)


def _open(encoded: dict) -> PIL.Image.Image:
    if encoded.get("bytes") is not None:
        return PIL.Image.open(io.BytesIO(encoded["bytes"]))
    return datasets.Image().decode_example(encoded)


def _labels(stream, args, require_labels):
    """The label column and its class names: a ClassLabel's, or --num_classes for plain integers (a stream's labels
    are only read as training reaches them, so their range cannot be read off the data first)."""
    label_column = find_column(stream, args.label_column, LABEL_COLUMN_NAMES, datasets.ClassLabel, "label")
    if label_column is None:
        if require_labels:
            raise DatasetError(
                "A conditional model needs class labels, but the dataset has no label column among "
                f"{stream.column_names}: pass --label_column, or train an unconditional model (--model gan)."
            )
        if args.num_classes is not None:
            raise DatasetError(
                f"num_classes (--num_classes) is {args.num_classes}, but the dataset has no label column."
            )
        return None, None
    feature = stream.features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        if args.num_classes is not None and args.num_classes != feature.num_classes:
            raise DatasetError(
                f"num_classes (--num_classes) is {args.num_classes}, but label column {label_column!r} names "
                f"{feature.num_classes} classes: drop the flag or fix the dataset's ClassLabel names."
            )
        return label_column, list(feature.names)
    if args.num_classes is None:
        raise DatasetError(
            f"Label column {label_column!r} holds integers without class names, and a stream's labels are only read "
            "as training reaches them: pass --num_classes to state the number of classes."
        )
    return label_column, [str(i) for i in range(args.num_classes)]
