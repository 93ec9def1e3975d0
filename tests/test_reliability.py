"""Damaged weights, mistyped configs and bad data are refused by name before anything trains or samples on them;
a run owns its output folder, checkpoints are never unpickled, and resuming takes the right checkpoint."""

import glob
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import images_pt, make_pipeline
from huggingface_hub import HfApi, hf_hub_download
from safetensors.torch import load_file, save_file
from test_training import TINY_GAN, synthetic_digits, weights, write_idx

from hf_gan import DCGANGenerator, GANPipeline, HfGanPipeline
from hf_gan.data import DatasetError, load_image_dataset, prepare_image_dataset
from hf_gan.models.modeling_utils import DIGESTS_KEY, ModelLoadingError, sha256_of_file
from hf_gan.training import train_gan
from hf_gan.training.checkpointing import CheckpointError, OutputDirLocked, list_checkpoints, read_manifest


@pytest.fixture
def saved_gan(tmp_path):
    pipe = make_pipeline("gan")
    pipe.save_pretrained(tmp_path)
    return pipe, tmp_path


def edit_json(path, **changes):
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def replace_weights(folder, state):
    """Writes `state` as the component's weights and records its digest, as someone editing both would."""
    save_file(state, folder / "diffusion_pytorch_model.safetensors")
    digest = sha256_of_file(folder / "diffusion_pytorch_model.safetensors")
    edit_json(folder / "config.json", **{DIGESTS_KEY: {"diffusion_pytorch_model.safetensors": digest}})


def test_saved_folders_record_digests_and_a_damaged_weight_file_is_refused_by_name(saved_gan):
    pipe, folder = saved_gan
    weights = folder / "generator" / "diffusion_pytorch_model.safetensors"
    config = json.loads((folder / "generator" / "config.json").read_text())
    assert config[DIGESTS_KEY] == {"diffusion_pytorch_model.safetensors": sha256_of_file(weights)}
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])  # in the tensor data
    weights.write_bytes(bytes(data))
    recorded = config[DIGESTS_KEY][weights.name]
    expected = f"(?s){weights}.*SHA-256 digest is {sha256_of_file(weights)}.*records {recorded}"
    with pytest.raises(ModelLoadingError, match=expected + ".*truncated or tampered.*force_download=True"):
        GANPipeline.from_pretrained(folder)
    with pytest.raises(ModelLoadingError, match=expected):
        DCGANGenerator.from_pretrained(folder, subfolder="generator")


def test_a_folder_without_digests_still_loads_and_a_resave_adds_them(saved_gan, tmp_path_factory):
    pipe, folder = saved_gan
    for component in ("generator", "discriminator"):
        config = json.loads((folder / component / "config.json").read_text())
        del config[DIGESTS_KEY]
        (folder / component / "config.json").write_text(json.dumps(config))
    loaded = GANPipeline.from_pretrained(folder)
    assert DIGESTS_KEY not in loaded.generator.config
    torch.testing.assert_close(images_pt(loaded, "gan"), images_pt(pipe, "gan"), rtol=0, atol=0)
    resaved = tmp_path_factory.mktemp("resaved")
    loaded.save_pretrained(resaved)
    assert (resaved / "generator" / "diffusion_pytorch_model.safetensors").read_bytes() == (
        folder / "generator" / "diffusion_pytorch_model.safetensors"
    ).read_bytes()
    assert DIGESTS_KEY in json.loads((resaved / "generator" / "config.json").read_text())


def test_sharded_weights_are_checked_shard_by_shard(tmp_path):
    generator = make_pipeline("gan").generator
    generator.save_pretrained(tmp_path, max_shard_size="2KB")
    shards = sorted(tmp_path.glob("*.safetensors"))
    assert len(shards) > 1 and set(json.loads((tmp_path / "config.json").read_text())[DIGESTS_KEY]) == {
        s.name for s in shards
    }
    DCGANGenerator.from_pretrained(tmp_path)
    shards[-1].write_bytes(shards[-1].read_bytes()[:-8])
    with pytest.raises(ModelLoadingError, match=f"{shards[-1].name} is not the file that was saved"):
        DCGANGenerator.from_pretrained(tmp_path)


def test_weights_holding_nan_are_refused_naming_the_tensor(saved_gan):
    _, folder = saved_gan
    state = load_file(folder / "generator" / "diffusion_pytorch_model.safetensors")
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 16)
    state[name].view(-1)[:16] = float("nan")
    replace_weights(folder / "generator", state)
    with pytest.raises(ModelLoadingError, match=f"NaN or infinite values in 1 tensor\\(s\\): {name}"):
        GANPipeline.from_pretrained(folder)


def test_integer_weights_are_refused_not_cast_and_torch_dtype_still_works(saved_gan):
    pipe, folder = saved_gan
    half = GANPipeline.from_pretrained(folder, torch_dtype=torch.bfloat16)
    assert half.generator.dtype == torch.bfloat16
    assert (images_pt(half, "gan") - images_pt(pipe, "gan")).abs().max() < 0.1
    state = load_file(folder / "generator" / "diffusion_pytorch_model.safetensors")
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = (state[name] * 100).to(torch.int64)
    replace_weights(folder / "generator", state)
    with pytest.raises(ModelLoadingError, match=f"{name} \\(torch.int64, the model holds torch.float32\\).*cast them"):
        GANPipeline.from_pretrained(folder)


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("latent_dim", "64", "'latent_dim' is \"64\" \\(a JSON str\\), but DCGANGenerator expects int"),
        (
            "class_conditional_norm",
            "false",
            "'class_conditional_norm' is \"false\" \\(a JSON str\\), but DCGANGenerator expects bool",
        ),
        ("num_classes", 2.5, "'num_classes' is 2.5 \\(a JSON float\\), but DCGANGenerator expects int \\| None"),
    ],
)
def test_mistyped_config_values_are_refused_naming_file_key_value_and_type(saved_gan, key, value, expected):
    _, folder = saved_gan
    config_path = folder / "generator" / "config.json"
    edit_json(config_path, **{key: value})
    with pytest.raises(ModelLoadingError, match=f"Could not load DCGANGenerator .*{config_path}: {expected}"):
        GANPipeline.from_pretrained(folder)


def test_an_error_whose_constructor_takes_other_arguments_becomes_our_own(saved_gan):
    _, folder = saved_gan  # reading config.json raises UnicodeDecodeError, whose constructor takes five arguments
    (folder / "generator" / "config.json").write_bytes(b'{"latent_dim": "\xff\xfe"}')
    with pytest.raises(ModelLoadingError, match="Could not load DCGANGenerator .*utf-8") as caught:
        GANPipeline.from_pretrained(folder)
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


def test_save_pretrained_push_to_hub_uploads_the_digests_and_the_hub_copy_is_checked(tmp_path):
    generator = make_pipeline("gan").generator
    generator.save_pretrained(tmp_path, push_to_hub=True, repo_id="user/digested-generator")
    digests = json.loads((tmp_path / "config.json").read_text())[DIGESTS_KEY]
    with open(hf_hub_download("user/digested-generator", "config.json")) as file:
        assert json.load(file)[DIGESTS_KEY] == digests
    loaded = DCGANGenerator.from_pretrained("user/digested-generator")
    torch.testing.assert_close(loaded.state_dict(), generator.state_dict(), rtol=0, atol=0)
    cached = hf_hub_download("user/digested-generator", "diffusion_pytorch_model.safetensors")
    with open(cached, "r+b") as file:  # damage the cached download
        file.seek(-4, 2)
        file.write(b"\0\0\0\0")
    with pytest.raises(ModelLoadingError, match="is not the file that was saved.*force_download=True"):
        DCGANGenerator.from_pretrained("user/digested-generator")
    DCGANGenerator.from_pretrained("user/digested-generator", force_download=True)


# ---- data ----


def idx_dataset(tmp_path, labels):
    images, _ = synthetic_digits(n=len(labels))
    tmp_path.mkdir()
    write_idx(tmp_path, "train", images, np.asarray(labels), compress=False)
    return load_image_dataset(str(tmp_path))


def test_idx_labels_out_of_range_are_refused_before_training(tmp_path):
    labels = [i % 10 for i in range(30)]
    assert prepare_image_dataset(idx_dataset(tmp_path / "good", labels)).label_names == [str(i) for i in range(10)]
    labels[17] = 200
    damaged = idx_dataset(tmp_path / "bad", labels)
    with pytest.raises(DatasetError, match=r"not the dense range 0..K-1 \(values \[0, 1, .*9, 200\]\).*--num_classes"):
        prepare_image_dataset(damaged)
    with pytest.raises(DatasetError, match=r"1 label\(s\) outside 0..9 \(row 17: 200\), but num_classes"):
        prepare_image_dataset(damaged, num_classes=10)


def png_bytes(array):
    buffer = io.BytesIO()
    PIL.Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def parquet_dataset(path, labels, features=None):
    images = [{"bytes": png_bytes(np.full((8, 8), 10 * i, np.uint8)), "path": None} for i in range(len(labels))]
    dataset = datasets.Dataset.from_dict(
        {"image": images, "label": list(labels)},
        features=features or datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")}),
    )
    dataset.to_parquet(path)
    return str(path)


def test_parquet_integer_labels_need_a_dense_range_or_num_classes(tmp_path):
    dense = prepare_image_dataset(load_image_dataset(parquet_dataset(tmp_path / "dense.parquet", [2, 0, 1, 2])))
    assert dense.label_names == ["0", "1", "2"]
    sparse = load_image_dataset(parquet_dataset(tmp_path / "sparse.parquet", [0, 1, 2, 99_999]))
    with pytest.raises(DatasetError, match=r"holds integers without class names.*values \[0, 1, 2, 99999\]"):
        prepare_image_dataset(sparse)
    with pytest.raises(DatasetError, match=r"outside 0..2 \(row 3: 99999\), but num_classes \(--num_classes\) is 3"):
        prepare_image_dataset(sparse, num_classes=3)
    assert prepare_image_dataset(sparse, num_classes=100_000).label_names[-1] == "99999"  # stated explicitly
    with pytest.raises(DatasetError, match="must be a positive integer, got 0"):
        prepare_image_dataset(sparse, num_classes=0)


def test_class_label_values_beyond_the_names_are_refused(tmp_path):
    path = parquet_dataset(
        tmp_path / "named.parquet",
        [0, 1, 1, 0],
        datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])}),
    )
    table = pq.read_table(path)  # edit a value and keep the schema: the datasets library does not check on load
    labels = table.column("label").to_pylist()
    labels[2] = 7
    pq.write_table(table.set_column(1, "label", pa.array(labels, table.schema.field("label").type)), path)
    dataset = load_image_dataset(str(path))
    assert dataset.features["label"].names == ["cat", "dog"] and dataset["label"][2] == 7
    with pytest.raises(DatasetError, match=r"outside 0..1 \(row 2: 7\), but its ClassLabel names 2 classes"):
        prepare_image_dataset(dataset)
    with pytest.raises(DatasetError, match="num_classes \\(--num_classes\\) is 3, but label column 'label' names 2"):
        prepare_image_dataset(
            load_image_dataset(parquet_dataset(tmp_path / "ok.parquet", [0, 1], dataset.features)), num_classes=3
        )


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    eight_bit = np.random.default_rng(0).integers(0, 256, (2, 8, 8)).astype(np.uint8)
    for i, image in enumerate(eight_bit):  # 16-bit PNGs of the same picture: v * 257 maps 0..255 onto 0..65535
        PIL.Image.fromarray(image.astype(np.uint16) * 257).save(tmp_path / f"{i}.png")
    dataset = load_image_dataset(str(tmp_path))
    assert {image.mode for image in dataset["image"]} <= {"I;16", "I"}
    data = prepare_image_dataset(dataset)
    assert data.images.shape == (2, 1, 8, 8)
    torch.testing.assert_close(data.images[:, 0], torch.from_numpy(eight_bit), rtol=0, atol=0)
    rgb = prepare_image_dataset(dataset, num_channels=3).images
    torch.testing.assert_close(rgb, data.images.expand(-1, 3, -1, -1), rtol=0, atol=0)


def test_a_truncated_image_file_is_named(tmp_path):
    for i in range(3):
        PIL.Image.fromarray(np.full((8, 8), 50 * i, np.uint8)).save(tmp_path / f"{i}.png")
    broken = tmp_path / "1.png"
    broken.write_bytes(broken.read_bytes()[:40])
    with pytest.raises(DatasetError, match=f"The image of {broken} \\(row 1\\).*truncated or not an image"):
        prepare_image_dataset(load_image_dataset(str(tmp_path)))


@pytest.mark.parametrize("max_samples", [0, -3])
def test_max_samples_must_be_positive(tmp_path, max_samples):
    dataset = load_image_dataset(parquet_dataset(tmp_path / "d.parquet", [0, 1, 0]))
    with pytest.raises(DatasetError, match=f"must be a positive number of rows, got {max_samples}.*all 3 rows"):
        prepare_image_dataset(dataset, max_samples=max_samples)
    assert len(prepare_image_dataset(dataset, max_samples=2)) == 2


ZOO_CONFIGS = sorted(Path(__file__).parent.parent.glob("model_zoo/*/*/config.json"))


@pytest.mark.parametrize("config_path", ZOO_CONFIGS, ids=lambda path: str(path.parent.relative_to(path.parents[2])))
def test_model_zoo_components_carry_matching_digests(config_path):
    digests = json.loads(config_path.read_text())[DIGESTS_KEY]
    assert digests == {
        "diffusion_pytorch_model.safetensors": sha256_of_file(
            config_path.parent / "diffusion_pytorch_model.safetensors"
        )
    }


# -- the output folder and its checkpoints (issue 13, items 1, 2, 3, 9, 10, 12a) ------------------------------------

EVERY_3 = ["--checkpointing_steps", "3", "--checkpoints_total_limit", "5"]


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    images, labels = synthetic_digits()
    write_idx(folder, "train", images, labels, compress=False)
    return str(folder)


def train_run(dataset, out, *flags):
    """One training run of a tiny conditional GAN (the one place that says how training is started)."""
    train_gan.main(["--dataset_name", dataset, "--output_dir", str(out), *TINY_GAN, *flags])
    return str(out)


def checkpoints(out):
    """The complete checkpoints' names, oldest first (not the .tmp folder of a save under way)."""
    return [os.path.basename(path) for _, path in list_checkpoints(out)]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_overwrite_moves_the_old_run_aside_so_its_checkpoints_never_replace_the_new_ones(digits_folder, tmp_path):
    """Item 1: the old run's newer checkpoints pruned the new run's as they were written, and `latest` then resumed
    the old run under the new run's arguments."""
    out = train_run(digits_folder, tmp_path / "ow", *EVERY_3, "--max_train_steps", "12")
    new_run = [
        "--overwrite_output_dir",
        "--max_train_steps",
        "6",
        "--seed",
        "5",
        "--checkpointing_steps",
        "3",
        "--checkpoints_total_limit",
        "2",
        "--push_to_hub",
        "--hub_model_id",
        "user/overwritten-run",
    ]
    train_run(digits_folder, out, *new_run)
    new_weights = weights(out)
    assert checkpoints(out) == ["checkpoint-3", "checkpoint-6"]
    (aside,) = glob.glob(os.path.join(out, "previous-*"))
    assert checkpoints(aside) == ["checkpoint-3", "checkpoint-6", "checkpoint-9", "checkpoint-12"]
    assert json.load(open(os.path.join(aside, "training_args.json")))["seed"] == 0  # the old run, kept whole
    pushed = {f.rfilename for f in HfApi().model_info("user/overwritten-run").siblings}
    assert not any(name.startswith(("previous-", "run.", "checkpoint-")) for name in pushed), pushed

    train_run(digits_folder, out, "--max_train_steps", "6", "--seed", "5", "--resume_from_checkpoint", "latest")
    assert_same_weights(weights(out), new_weights)  # the new run's step 6, not the old run's step 12


def test_resuming_into_a_folder_of_another_run_or_past_max_train_steps_is_refused(digits_folder, tmp_path):
    """Item 2: resuming k3's checkpoint with --output_dir runs/zoo replaced zoo's finished model without a word, and
    a checkpoint of step 9 was accepted with --max_train_steps 6."""
    k3 = train_run(digits_folder, tmp_path / "k3", *EVERY_3, "--max_train_steps", "9")
    zoo = train_run(
        digits_folder, tmp_path / "zoo", "--max_train_steps", "2", "--seed", "3", "--checkpointing_steps", "100"
    )
    zoo_weights, card = weights(zoo), open(os.path.join(zoo, "README.md")).read()
    checkpoint = os.path.join(k3, "checkpoint-9")
    with pytest.raises(FileExistsError, match="zoo holds another run .*model_index.json.*--overwrite_output_dir"):
        train_run(digits_folder, zoo, "--max_train_steps", "12", "--resume_from_checkpoint", checkpoint)
    with pytest.raises(CheckpointError, match="at step 9, past --max_train_steps 6: pass --max_train_steps 9 or more"):
        train_run(digits_folder, tmp_path / "new", "--max_train_steps", "6", "--resume_from_checkpoint", checkpoint)
    assert_same_weights(weights(zoo), zoo_weights)
    assert open(os.path.join(zoo, "README.md")).read() == card
    assert not os.path.exists(tmp_path / "new" / "model_index.json")


def test_resuming_a_checkpoint_with_planted_pickles_runs_no_code(digits_folder, tmp_path):
    """Item 3: accelerate's load_state unpickled custom_checkpoint_0.pkl (weights_only=False), running its code."""
    out = train_run(digits_folder, tmp_path / "run", *EVERY_3, "--max_train_steps", "3")
    marker = tmp_path / "code-ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for name in ("custom_checkpoint_0.pkl", "custom_checkpoint_1.pkl", "random_states_0.pkl"):  # accelerate's names
        torch.save(Exploit(), os.path.join(out, "checkpoint-3", name))
    train_run(digits_folder, out, *EVERY_3, "--max_train_steps", "6", "--resume_from_checkpoint", "latest")
    assert checkpoints(out) == ["checkpoint-3", "checkpoint-6"]
    assert not marker.exists()


def test_a_second_trainer_in_the_same_folder_is_refused(digits_folder, tmp_path):
    """Item 9: two trainers in one folder (e.g. a child left running after its launcher was killed) destroyed each
    other's checkpoints."""
    out = str(tmp_path / "busy")
    command = [
        sys.executable,
        "-m",
        "hf_gan.training.train_gan",
        "--dataset_name",
        digits_folder,
        "--output_dir",
        out,
        *TINY_GAN,
        "--max_train_steps",
        "100000",
        "--checkpointing_steps",
        "2",
        "--checkpoints_total_limit",
        "2",
    ]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (os.path.isdir(out) and checkpoints(out)):
            time.sleep(0.05)
        assert checkpoints(out), "the first trainer wrote no checkpoint"
        with pytest.raises(OutputDirLocked, match=f"in use by another trainer \\(process {first.pid} on "):
            train_run(
                digits_folder,
                out,
                "--max_train_steps",
                "4",
                "--checkpointing_steps",
                "2",
                "--resume_from_checkpoint",
                "latest",
            )
        assert first.poll() is None  # still training, undisturbed
    finally:
        first.kill()
        first.wait()
    for name in checkpoints(out):
        read_manifest(os.path.join(out, name))  # all complete and intact


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(digits_folder, tmp_path, caplog):
    """Item 10: a damaged newest checkpoint was chosen as `latest`, and resuming failed."""
    straight = train_run(digits_folder, tmp_path / "straight", *EVERY_3, "--max_train_steps", "12")
    out = train_run(digits_folder, tmp_path / "damaged", *EVERY_3, "--max_train_steps", "9")
    path = os.path.join(out, "checkpoint-9", "generator.safetensors")
    with open(path, "r+b") as file:
        file.truncate(os.path.getsize(path) // 2)
    with caplog.at_level(logging.WARNING, logger="hf_gan.training.checkpointing"):
        train_run(digits_folder, out, *EVERY_3, "--max_train_steps", "12", "--resume_from_checkpoint", "latest")
    assert "checkpoint-9 is damaged: generator.safetensors does not match its SHA-256" in caplog.text
    assert_same_weights(weights(out), weights(straight))  # resumed exactly from step 6
    (aside,) = glob.glob(os.path.join(out, "previous-*"))
    assert checkpoints(aside) == ["checkpoint-9"]  # the damaged one is kept aside, not deleted


def test_resuming_at_the_final_step_keeps_the_final_losses(digits_folder, tmp_path):
    """Item 12a: after resuming at the final step, train_results.json held only train_minutes."""
    out = train_run(digits_folder, tmp_path / "done", *EVERY_3, "--max_train_steps", "6")
    first = json.load(open(os.path.join(out, "train_results.json")))
    train_run(digits_folder, out, *EVERY_3, "--max_train_steps", "6", "--resume_from_checkpoint", "latest")
    again = json.load(open(os.path.join(out, "train_results.json")))
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(again)
    del first["train_minutes"], again["train_minutes"]
    assert again == first


def test_a_failed_push_at_the_end_of_training_says_where_the_model_is_and_how_to_push_it(digits_folder, tmp_path):
    """Item 8: with the Hub down, --push_to_hub ended a finished run with a raw connection traceback."""
    out = tmp_path / "trained"
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", digits_folder]
    command += ["--output_dir", str(out), *TINY_GAN, "--max_train_steps", "2", "--push_to_hub"]
    command += ["--hub_model_id", "me/unreachable"]
    # Port 9 (discard) on this machine: nothing listens, so every Hub call is refused at once.
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "1", "HF_TOKEN": "hf_test"}
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0
    assert "HubPushError" in result.stderr and f"The model is saved locally in {out}" in result.stderr
    assert f"hf-gan publish {out} --repo_id me/unreachable" in result.stderr
    assert time.monotonic() - started < 120
    reloaded = HfGanPipeline.from_pretrained(str(out))  # the finished model is all there
    assert os.path.isfile(out / "README.md") and reloaded.generator is not None
