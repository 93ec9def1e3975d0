"""hf_gan.training.checkpointing on tiny torch models with an accelerate Accelerator on the CPU."""

import json
import logging
import os
import pickle
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from conftest import accelerate_launch

from hf_gan.training.checkpointing import (
    CheckpointError,
    OutputDirLocked,
    RunFolder,
    find_latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    read_manifest,
    save_checkpoint,
)


LOGGER = "hf_gan.training.checkpointing"


@pytest.fixture(scope="module")
def accelerator():
    return Accelerator(cpu=True)


class Tiny(torch.nn.Module):
    """Weights, a BatchNorm's buffers and a randomness-dependent forward (dropout)."""

    def __init__(self, width=4):
        super().__init__()
        self.linear = torch.nn.Linear(3, width)
        self.norm = torch.nn.BatchNorm1d(width)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.norm(self.linear(x))).sum()


class Trainer:
    """A tiny training loop using every random source a checkpoint must restore: torch's global generator (data,
    dropout), NumPy's, Python's, and a loop-owned noise generator."""

    def __init__(self, seed, width=4):
        torch.manual_seed(seed)
        self.model, self.ema = Tiny(width), Tiny(width)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-2, betas=(0.5, 0.9))
        self.noise = torch.Generator().manual_seed(seed + 1)
        self.step = 0

    def train(self, steps):
        draws = []
        for _ in range(steps):
            x = torch.randn(8, 3) + torch.randn(8, 3, generator=self.noise) * float(np.random.rand()) * random.random()
            self.optimizer.zero_grad()
            self.model(x).backward()
            self.optimizer.step()
            self.ema.load_state_dict(self.model.state_dict())
            self.step += 1
            draws.append(
                (torch.rand(1).item(), np.random.rand(), random.random(), torch.rand(1, generator=self.noise).item())
            )
        return draws

    def save(self, output_dir, run_id, accelerator, **kwargs):
        return save_checkpoint(
            output_dir,
            run_id,
            self.step,
            {"model": self.model, "ema": self.ema},
            {"model": self.optimizer},
            accelerator,
            state={"step": self.step, "stats": {"loss": 0.5}},
            generators={"noise": self.noise},
            **kwargs,
        )

    def load(self, checkpoint, accelerator):
        state = load_checkpoint(
            checkpoint,
            {"model": self.model, "ema": self.ema},
            {"model": self.optimizer},
            accelerator,
            generators={"noise": self.noise},
        )
        self.step = state["step"]
        return state


def write_checkpoints(output_dir, run_id, accelerator, steps, seed=0):
    """Checkpoints at `steps`, one training step apart (the step number is what matters here)."""
    trainer = Trainer(seed)
    for step in steps:
        trainer.train(1)
        trainer.step = step
        trainer.save(output_dir, run_id, accelerator)
    return trainer


def test_round_trip_continues_exactly_like_the_uninterrupted_run(accelerator, tmp_path):
    straight = Trainer(seed=0)
    straight.train(3)
    checkpoint = straight.save(str(tmp_path), "run-a", accelerator)
    after_save = straight.train(4)

    resumed = Trainer(seed=7)  # other weights, optimizer state and generators
    state = resumed.load(checkpoint, accelerator)
    assert state == {"step": 3, "stats": {"loss": 0.5}}
    for key, value in straight.optimizer.state_dict()["param_groups"][0].items():
        assert resumed.optimizer.state_dict()["param_groups"][0][key] == value, key
    assert resumed.train(4) == after_save  # every random source continues where it was
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    for key, value in straight.optimizer.state_dict()["state"][0].items():
        torch.testing.assert_close(resumed.optimizer.state_dict()["state"][0][key], value, rtol=0, atol=0, msg=key)
    assert isinstance(resumed.optimizer.param_groups[0]["betas"], tuple)


def test_a_checkpoint_is_safetensors_and_json_with_a_manifest_of_every_file(accelerator, tmp_path):
    checkpoint = write_checkpoints(str(tmp_path), "run-a", accelerator, [2]) and str(tmp_path / "checkpoint-2")
    names = set(os.listdir(checkpoint))
    assert names == {
        "model.safetensors",
        "ema.safetensors",
        "optimizer-model.safetensors",
        "optimizer-model.json",
        "state.json",
        "rng-0.json",
        "manifest.json",
    }
    manifest = read_manifest(checkpoint)
    assert (
        manifest["run_id"] == "run-a" and manifest["step"] == 2 and set(manifest["files"]) == names - {"manifest.json"}
    )


@pytest.mark.parametrize("damage", ["flipped byte", "missing file", "no manifest", "bad manifest"])
def test_a_damaged_newest_checkpoint_is_skipped_with_a_warning_naming_it(damage, accelerator, tmp_path, caplog):
    out = str(tmp_path)
    write_checkpoints(out, "run-a", accelerator, [2, 4])
    newest = os.path.join(out, "checkpoint-4")
    if damage == "flipped byte":
        path = os.path.join(newest, "model.safetensors")
        data = bytearray(open(path, "rb").read())
        data[-1] ^= 1
        open(path, "wb").write(bytes(data))
    elif damage == "missing file":
        os.remove(os.path.join(newest, "optimizer-model.safetensors"))
    elif damage == "no manifest":
        os.remove(os.path.join(newest, "manifest.json"))
    else:
        open(os.path.join(newest, "manifest.json"), "w").write('{"format": ')
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert find_latest_checkpoint(out, "run-a") == os.path.join(out, "checkpoint-2")
    assert "checkpoint-4" in caplog.text
    with pytest.raises(CheckpointError, match="checkpoint-4"):
        read_manifest(newest)


def test_half_written_tmp_folders_are_never_listed_or_resumed(accelerator, tmp_path):
    out = str(tmp_path)
    write_checkpoints(out, "run-a", accelerator, [2])
    shutil.copytree(os.path.join(out, "checkpoint-2"), os.path.join(out, "checkpoint-4.tmp"))
    assert [step for step, _ in list_checkpoints(out)] == [2]
    assert find_latest_checkpoint(out, "run-a") == os.path.join(out, "checkpoint-2")


def test_the_total_limit_prunes_only_this_runs_checkpoints(accelerator, tmp_path):
    out = str(tmp_path)
    write_checkpoints(out, "old-run", accelerator, [294, 297, 300])
    trainer = Trainer(seed=1)
    for _ in range(4):
        trainer.train(3)
        trainer.save(out, "new-run", accelerator, total_limit=2)
    assert [step for step, _ in list_checkpoints(out)] == [9, 12, 294, 297, 300]
    assert find_latest_checkpoint(out, "new-run") == os.path.join(out, "checkpoint-12")


def test_an_optimizer_whose_learning_rate_is_a_tensor_checkpoints_as_a_number(accelerator, tmp_path):
    trainer = Trainer(seed=0)
    trainer.train(2)
    for group in trainer.optimizer.param_groups:  # as train_gan --cuda_graph keeps it
        group["lr"] = torch.tensor(0.005)
    checkpoint = trainer.save(str(tmp_path), "run", accelerator)
    with open(os.path.join(checkpoint, "optimizer-model.json")) as file:
        assert json.load(file)["param_groups"][0]["lr"] == pytest.approx(0.005)
    resumed = Trainer(seed=1)
    resumed.load(checkpoint, accelerator)
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)


def test_a_checkpoint_is_never_unpickled(accelerator, tmp_path):
    """A downloaded checkpoint with pickles in it (accelerate's format, or planted): loading reads safetensors and
    JSON only, and the code in the pickle never runs."""
    marker = tmp_path / "code-ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    out = str(tmp_path / "run")
    write_checkpoints(out, "run-a", accelerator, [2])
    checkpoint = os.path.join(out, "checkpoint-2")
    for name in ("custom_checkpoint_0.pkl", "random_states_0.pkl", "optimizer.bin", "model.safetensors.pkl"):
        with open(os.path.join(checkpoint, name), "wb") as file:
            pickle.dump(Exploit(), file)
    Trainer(seed=3).load(checkpoint, accelerator)
    # accelerate's layout, pickles only: refused, not loaded
    legacy = os.path.join(out, "checkpoint-4")
    os.makedirs(legacy)
    for name in ("custom_checkpoint_0.pkl", "random_states_0.pkl", "optimizer.bin"):
        shutil.copy(os.path.join(checkpoint, name), os.path.join(legacy, name))
    assert find_latest_checkpoint(out, "run-a") == checkpoint
    with pytest.raises(CheckpointError, match="no manifest.json.*unpickling can run code"):
        Trainer(seed=3).load(legacy, accelerator)
    # a pickle put in place of a listed file fails its SHA-256
    shutil.copy(os.path.join(checkpoint, "optimizer.bin"), os.path.join(checkpoint, "state.json"))
    with pytest.raises(CheckpointError, match="state.json does not match its SHA-256"):
        Trainer(seed=3).load(checkpoint, accelerator)
    assert not marker.exists()


def test_a_model_of_other_shapes_is_refused_with_the_difference(accelerator, tmp_path):
    write_checkpoints(str(tmp_path), "run-a", accelerator, [2])
    with pytest.raises(
        CheckpointError, match=r"the model in .*checkpoint-2 does not fit.*linear.weight is \(4, 3\), here \(5, 3\)"
    ):
        Trainer(seed=0, width=5).load(str(tmp_path / "checkpoint-2"), accelerator)


# -- the output folder --------------------------------------------------------------------------------------------


def config(**changes):
    return {"max_train_steps": 12, "seed": 0, **changes}


def test_a_new_run_records_its_id_and_refuses_a_folder_holding_another_run(accelerator, tmp_path):
    out = str(tmp_path / "out")
    with RunFolder(out, config(), accelerator) as run:
        assert run.checkpoint is None
        write_checkpoints(out, run.run_id, accelerator, [3])
    assert json.load(open(os.path.join(out, "run.json")))["run_id"] == run.run_id
    with pytest.raises(
        FileExistsError, match="already holds a training run.*--resume_from_checkpoint latest.*--overwrite_output_dir"
    ):
        RunFolder(out, config(seed=5), accelerator)
    assert os.listdir(out) and os.path.isdir(os.path.join(out, "checkpoint-3"))


def test_overwrite_moves_the_old_run_aside_and_its_checkpoints_never_count(accelerator, tmp_path):
    """Issue 13, item 1: a finished run's checkpoints 294..300 outranked the new run's 3..12."""
    out = str(tmp_path / "ow")
    with RunFolder(out, config(max_train_steps=300), accelerator) as old:
        write_checkpoints(out, old.run_id, accelerator, [294, 297, 300])
    open(os.path.join(out, "model_index.json"), "w").write("{}")
    with RunFolder(out, config(seed=5), accelerator, overwrite=True) as new:
        assert new.run_id != old.run_id and new.checkpoint is None
        trainer = Trainer(seed=5)
        for _ in range(4):
            trainer.train(3)
            trainer.save(out, new.run_id, accelerator, total_limit=2)
    assert sorted(n for n in os.listdir(out) if n.startswith("checkpoint-")) == ["checkpoint-12", "checkpoint-9"]
    (aside,) = [n for n in os.listdir(out) if n.startswith("previous-")]
    assert {"checkpoint-294", "checkpoint-297", "checkpoint-300", "model_index.json", "run.json"} <= set(
        os.listdir(os.path.join(out, aside))
    )
    with RunFolder(out, config(seed=5), accelerator, resume="latest") as resumed:
        assert resumed.run_id == new.run_id and resumed.checkpoint == os.path.join(out, "checkpoint-12")


def test_resuming_a_path_into_a_folder_of_another_run_is_refused_unless_overwrite(accelerator, tmp_path):
    """Issue 13, item 2: resuming k3's checkpoint into the finished model of runs/zoo replaced it silently."""
    k3, zoo = str(tmp_path / "k3"), str(tmp_path / "zoo")
    with RunFolder(k3, config(max_train_steps=300), accelerator) as run:
        write_checkpoints(k3, run.run_id, accelerator, [297])
    os.makedirs(zoo)
    open(os.path.join(zoo, "model_index.json"), "w").write('{"finished": true}')  # a finished model, no run.json
    checkpoint = os.path.join(k3, "checkpoint-297")
    with pytest.raises(FileExistsError, match="zoo holds another run .*model_index.json.*--overwrite_output_dir"):
        RunFolder(zoo, config(max_train_steps=300), accelerator, resume=checkpoint)
    assert os.listdir(zoo) == ["model_index.json"] or set(os.listdir(zoo)) == {"model_index.json", "run.lock"}
    with RunFolder(zoo, config(max_train_steps=300), accelerator, resume=checkpoint, overwrite=True) as resumed:
        assert resumed.run_id == run.run_id and resumed.checkpoint == checkpoint
    (aside,) = [n for n in os.listdir(zoo) if n.startswith("previous-")]
    assert json.load(open(os.path.join(zoo, aside, "model_index.json"))) == {"finished": True}
    # into an empty folder, the run continues under its own id
    with RunFolder(str(tmp_path / "fresh"), config(max_train_steps=300), accelerator, resume=checkpoint) as resumed:
        assert resumed.run_id == run.run_id


def test_resuming_past_max_train_steps_is_refused_and_changed_arguments_are_named(accelerator, tmp_path, caplog):
    out = str(tmp_path / "k3")
    with RunFolder(out, config(max_train_steps=300), accelerator) as run:
        write_checkpoints(out, run.run_id, accelerator, [297])
    with pytest.raises(
        CheckpointError, match="at step 297, past --max_train_steps 6: pass --max_train_steps 297 or more"
    ):
        RunFolder(
            str(tmp_path / "elsewhere"),
            config(max_train_steps=6),
            accelerator,
            resume=os.path.join(out, "checkpoint-297"),
        )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with RunFolder(
            out, config(max_train_steps=297), accelerator, resume="latest"
        ) as resumed:  # the final step: fine
            assert resumed.checkpoint == os.path.join(out, "checkpoint-297")
    assert "changed arguments (was, now): {'max_train_steps': (300, 297)}" in caplog.text


def test_resuming_an_earlier_step_moves_the_later_checkpoints_aside(accelerator, tmp_path):
    out = str(tmp_path / "out")
    with RunFolder(out, config(), accelerator) as run:
        write_checkpoints(out, run.run_id, accelerator, [3, 6, 9])
    with RunFolder(out, config(), accelerator, resume=os.path.join(out, "checkpoint-3")) as resumed:
        trainer = Trainer(seed=0)
        trainer.load(resumed.checkpoint, accelerator)
        trainer.train(3)
        trainer.save(out, resumed.run_id, accelerator, total_limit=2)
    assert [step for step, _ in list_checkpoints(out)] == [3, 6]
    (aside,) = [n for n in os.listdir(out) if n.startswith("previous-")]
    assert sorted(os.listdir(os.path.join(out, aside))) == ["checkpoint-6", "checkpoint-9"]


def test_a_copied_checkpoint_without_run_json_is_resumed_as_its_run(accelerator, tmp_path):
    with RunFolder(str(tmp_path / "a"), config(), accelerator) as run:
        write_checkpoints(str(tmp_path / "a"), run.run_id, accelerator, [3])
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    with RunFolder(str(tmp_path / "b"), config(), accelerator, resume="latest") as resumed:
        assert resumed.run_id == run.run_id and resumed.checkpoint == str(tmp_path / "b" / "checkpoint-3")


HOLD_THE_FOLDER = """
import sys, time
from accelerate import Accelerator
from hf_gan.training.checkpointing import RunFolder
run = RunFolder(sys.argv[1], {"max_train_steps": 1}, Accelerator(cpu=True))
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_trainer_is_refused_while_the_first_holds_the_folder(accelerator, tmp_path):
    out = str(tmp_path / "out")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_FOLDER, out], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            OutputDirLocked, match=f"in use by another trainer \\(process {holder.pid} on .*pick another --output_dir"
        ):
            RunFolder(out, config(), accelerator, resume="latest")
    finally:
        holder.kill()  # like kill -9: the OS releases its lock
        holder.wait()
    with RunFolder(out, config(), accelerator, resume="latest") as run:
        assert run.checkpoint is None


TWO_PROCESSES = """
import random, sys
import numpy as np, torch
from accelerate import Accelerator
from hf_gan.training.checkpointing import RunFolder, load_checkpoint, save_checkpoint

accelerator = Accelerator(cpu=True)
rank = accelerator.process_index
torch.manual_seed(0)
model = torch.nn.Linear(3, 2)
optimizer = torch.optim.Adam(model.parameters())
model, optimizer = accelerator.prepare(model, optimizer)
noise = torch.Generator().manual_seed(1)  # the same global stream on every process


def train(steps):
    draws = []
    for _ in range(steps):
        loss = model(torch.randn(4, 3) + torch.randn(4, 3, generator=noise)).square().mean()
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        draws.append([torch.rand(1).item(), np.random.rand(), random.random(), torch.rand(1, generator=noise).item()])
    return draws


torch.manual_seed(10 + rank)  # each process its own global streams
np.random.seed(10 + rank)
random.seed(10 + rank)
with RunFolder(sys.argv[1], {"max_train_steps": 4}, accelerator) as run:
    train(2)
    checkpoint = save_checkpoint(run.output_dir, run.run_id, 2, {"model": model}, {"model": optimizer}, accelerator,
                                 state={"step": 2}, generators={"noise": noise})
    expected = train(2)
    weights = [p.detach().clone() for p in model.parameters()]
    state = load_checkpoint(checkpoint, {"model": model}, {"model": optimizer}, accelerator, {"noise": noise})
    assert state == {"step": 2}
    assert train(2) == expected, rank
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters())), rank
    assert expected != accelerator.gather_for_metrics([expected])[1 - rank], "per-process draws should differ"
print(f"process {rank} resumed exactly", flush=True)
accelerator.wait_for_everyone()
torch.distributed.destroy_process_group()  # else gloo's threads may abort the exit ("terminate called ...")
"""


def test_two_processes_each_resume_their_own_random_state(tmp_path):
    """accelerate launch --multi_gpu on a CPU (gloo): each process saves and restores its own random generators."""
    script = tmp_path / "two.py"
    script.write_text(TWO_PROCESSES)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            *accelerate_launch(2),
            str(script),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(result.stdout.split("\n")[:-1]) == ["process 0 resumed exactly", "process 1 resumed exactly"]
    assert {"rng-0.json", "rng-1.json"} <= set(os.listdir(out / "checkpoint-2"))
