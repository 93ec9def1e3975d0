"""Issue 13 ("never lose a run, never run a stranger's code"), end to end through hf_gan.training.train_gan: the
output folder belongs to one run, checkpoints are never unpickled, and resuming takes the right checkpoint."""

import glob
import json
import logging
import os
import subprocess
import sys
import time

import pytest
import torch
from huggingface_hub import HfApi
from test_training import TINY_GAN, synthetic_digits, weights, write_idx

from hf_gan.training import train_gan
from hf_gan.training.checkpointing import CheckpointError, OutputDirLocked, list_checkpoints, read_manifest

EVERY_3 = ["--checkpointing_steps", "3", "--checkpoints_total_limit", "5"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    images, labels = synthetic_digits()
    write_idx(folder, "train", images, labels, compress=False)
    return str(folder)


def train(data, out, *flags):
    """One training run of a tiny conditional GAN (the one place that says how training is started)."""
    train_gan.main(["--dataset_name", data, "--output_dir", str(out), *TINY_GAN, *flags])
    return str(out)


def checkpoints(out):
    """The complete checkpoints' names, oldest first (not the .tmp folder of a save under way)."""
    return [os.path.basename(path) for _, path in list_checkpoints(out)]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_overwrite_moves_the_old_run_aside_so_its_checkpoints_never_replace_the_new_ones(data, tmp_path):
    """Item 1: the old run's newer checkpoints pruned the new run's as they were written, and `latest` then resumed
    the old run under the new run's arguments."""
    out = train(data, tmp_path / "ow", *EVERY_3, "--max_train_steps", "12")
    new_run = ["--overwrite_output_dir", "--max_train_steps", "6", "--seed", "5", "--checkpointing_steps", "3",
               "--checkpoints_total_limit", "2", "--push_to_hub", "--hub_model_id", "user/overwritten-run"]
    train(data, out, *new_run)
    new_weights = weights(out)
    assert checkpoints(out) == ["checkpoint-3", "checkpoint-6"]
    (aside,) = glob.glob(os.path.join(out, "previous-*"))
    assert checkpoints(aside) == ["checkpoint-3", "checkpoint-6", "checkpoint-9", "checkpoint-12"]
    assert json.load(open(os.path.join(aside, "training_args.json")))["seed"] == 0  # the old run, kept whole
    pushed = {f.rfilename for f in HfApi().model_info("user/overwritten-run").siblings}
    assert not any(name.startswith(("previous-", "run.", "checkpoint-")) for name in pushed), pushed

    train(data, out, "--max_train_steps", "6", "--seed", "5", "--resume_from_checkpoint", "latest")
    assert_same_weights(weights(out), new_weights)  # the new run's step 6, not the old run's step 12


def test_resuming_into_a_folder_of_another_run_or_past_max_train_steps_is_refused(data, tmp_path):
    """Item 2: resuming k3's checkpoint with --output_dir runs/zoo replaced zoo's finished model without a word, and
    a checkpoint of step 9 was accepted with --max_train_steps 6."""
    k3 = train(data, tmp_path / "k3", *EVERY_3, "--max_train_steps", "9")
    zoo = train(data, tmp_path / "zoo", "--max_train_steps", "2", "--seed", "3", "--checkpointing_steps", "100")
    zoo_weights, card = weights(zoo), open(os.path.join(zoo, "README.md")).read()
    checkpoint = os.path.join(k3, "checkpoint-9")
    with pytest.raises(FileExistsError, match="zoo holds another run .*model_index.json.*--overwrite_output_dir"):
        train(data, zoo, "--max_train_steps", "12", "--resume_from_checkpoint", checkpoint)
    with pytest.raises(CheckpointError, match="at step 9, past --max_train_steps 6: pass --max_train_steps 9 or more"):
        train(data, tmp_path / "new", "--max_train_steps", "6", "--resume_from_checkpoint", checkpoint)
    assert_same_weights(weights(zoo), zoo_weights)
    assert open(os.path.join(zoo, "README.md")).read() == card
    assert not os.path.exists(tmp_path / "new" / "model_index.json")


def test_resuming_a_checkpoint_with_planted_pickles_runs_no_code(data, tmp_path):
    """Item 3: accelerate's load_state unpickled custom_checkpoint_0.pkl (weights_only=False), running its code."""
    out = train(data, tmp_path / "run", *EVERY_3, "--max_train_steps", "3")
    marker = tmp_path / "code-ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for name in ("custom_checkpoint_0.pkl", "custom_checkpoint_1.pkl", "random_states_0.pkl"):  # accelerate's names
        torch.save(Exploit(), os.path.join(out, "checkpoint-3", name))
    train(data, out, *EVERY_3, "--max_train_steps", "6", "--resume_from_checkpoint", "latest")
    assert checkpoints(out) == ["checkpoint-3", "checkpoint-6"]
    assert not marker.exists()


def test_a_second_trainer_in_the_same_folder_is_refused(data, tmp_path):
    """Item 9: two trainers in one folder (e.g. a child left running after its launcher was killed) destroyed each
    other's checkpoints."""
    out = str(tmp_path / "busy")
    command = [sys.executable, "-m", "hf_gan.training.train_gan", "--dataset_name", data, "--output_dir", out,
               *TINY_GAN, "--max_train_steps", "100000", "--checkpointing_steps", "2", "--checkpoints_total_limit", "2"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (os.path.isdir(out) and checkpoints(out)):
            time.sleep(0.05)
        assert checkpoints(out), "the first trainer wrote no checkpoint"
        with pytest.raises(OutputDirLocked, match=f"in use by another trainer \\(process {first.pid} on "):
            train(data, out, "--max_train_steps", "4", "--checkpointing_steps", "2", "--resume_from_checkpoint", "latest")
        assert first.poll() is None  # still training, undisturbed
    finally:
        first.kill()
        first.wait()
    for name in checkpoints(out):
        read_manifest(os.path.join(out, name))  # all complete and intact


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(data, tmp_path, caplog):
    """Item 10: a damaged newest checkpoint was chosen as `latest`, and resuming failed."""
    straight = train(data, tmp_path / "straight", *EVERY_3, "--max_train_steps", "12")
    out = train(data, tmp_path / "damaged", *EVERY_3, "--max_train_steps", "9")
    path = os.path.join(out, "checkpoint-9", "generator.safetensors")
    with open(path, "r+b") as file:
        file.truncate(os.path.getsize(path) // 2)
    with caplog.at_level(logging.WARNING, logger="hf_gan.training.checkpointing"):
        train(data, out, *EVERY_3, "--max_train_steps", "12", "--resume_from_checkpoint", "latest")
    assert "checkpoint-9 is damaged: generator.safetensors does not match its SHA-256" in caplog.text
    assert_same_weights(weights(out), weights(straight))  # resumed exactly from step 6
    (aside,) = glob.glob(os.path.join(out, "previous-*"))
    assert checkpoints(aside) == ["checkpoint-9"]  # the damaged one is kept aside, not deleted


def test_resuming_at_the_final_step_keeps_the_final_losses(data, tmp_path):
    """Item 12a: after resuming at the final step, train_results.json held only train_minutes."""
    out = train(data, tmp_path / "done", *EVERY_3, "--max_train_steps", "6")
    first = json.load(open(os.path.join(out, "train_results.json")))
    train(data, out, *EVERY_3, "--max_train_steps", "6", "--resume_from_checkpoint", "latest")
    again = json.load(open(os.path.join(out, "train_results.json")))
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(again)
    assert {k: v for k, v in again.items() if k != "train_minutes"} == {k: v for k, v in first.items() if k != "train_minutes"}
