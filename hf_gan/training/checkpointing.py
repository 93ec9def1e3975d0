"""A run's output folder and its checkpoints: one trainer per folder, no checkpoint of another run mixed in, and
checkpoints that are read back without unpickling anything.

    output_dir/
      run.json              the run that owns the folder: its id and the arguments that started it
      run.lock              held by the trainer writing here; run.lock.json names its process
      checkpoint-<step>/    written as checkpoint-<step>.tmp, renamed once complete
        <model>.safetensors                   each model's weights and buffers
        optimizer-<name>.safetensors, .json   each optimizer's tensors; its param_groups and other values
        state.json                            the step and the training loop's own state
        rng-<rank>.json                       each process's random number generators
        stream-<rank>.json                    where each process's data stream is (streaming runs only)
        manifest.json                         written last: run id, step and the SHA-256 of every other file
      previous-<time>/      what --overwrite_output_dir (or resuming an earlier step) moved aside: nothing is deleted

Tensors go through safetensors and everything else through JSON, so a checkpoint downloaded from someone else can
hold wrong numbers but never run code.
"""

import datetime
import hashlib
import json
import logging
import os
import random
import re
import shutil
import socket
import uuid

import numpy as np
import torch
from accelerate.utils import broadcast_object_list
from filelock import FileLock, Timeout
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file


logger = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
CHECKPOINT_FORMAT = "hf_gan-checkpoint-1"
RUN_FILE = "run.json"
LOCK_FILE = "run.lock"
LOCK_HOLDER_FILE = "run.lock.json"
MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint that is damaged, incomplete, of another format, or does not fit this run's arguments."""


class OutputDirLocked(RuntimeError):
    """Another trainer holds the output folder."""


def list_checkpoints(output_dir: str) -> list[tuple[int, str]]:
    """(step, path) of every `checkpoint-<step>` folder, oldest first; `.tmp` folders of interrupted saves are not
    listed. Whether each is complete and whose it is says its manifest (`read_manifest`)."""
    if not os.path.isdir(output_dir):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(output_dir) if (m := CHECKPOINT_RE.match(name))]
    return [(step, os.path.join(output_dir, name)) for step, name in sorted(found)]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: str):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(obj, file, indent=1)


def read_manifest(checkpoint: str, verify: bool = True) -> dict:
    """The manifest of a complete checkpoint; with `verify`, after checking every file it lists against its SHA-256.
    Raises CheckpointError saying what is wrong."""
    path = os.path.join(checkpoint, MANIFEST)
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{checkpoint} has no {MANIFEST}: it is incomplete, or was written by an older hf_gan in accelerate's "
            "pickle format, which is not loaded because unpickling can run code."
        )
    try:
        manifest = _read_json(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{checkpoint} is damaged: {MANIFEST} is not valid JSON ({error}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{checkpoint} is not an hf_gan checkpoint ({MANIFEST} lacks format {CHECKPOINT_FORMAT})."
        )
    missing = {"run_id", "step", "files"} - set(manifest)
    if missing:
        raise CheckpointError(f"{checkpoint} is damaged: {MANIFEST} lacks {sorted(missing)}.")
    if verify:
        for name in manifest["files"]:
            _read_verified(checkpoint, manifest, name)
    return manifest


def _read_verified(checkpoint: str, manifest: dict, name: str) -> bytes:
    """The bytes of one file of a checkpoint, checked against the manifest: what is checked is what gets loaded."""
    if name not in manifest["files"]:
        raise CheckpointError(f"{checkpoint} holds no {name} (its {MANIFEST} does not list it).")
    try:
        with open(os.path.join(checkpoint, name), "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise CheckpointError(f"{checkpoint} is damaged: {name} is missing.") from None
    if _sha256(data) != manifest["files"][name]:
        raise CheckpointError(f"{checkpoint} is damaged: {name} does not match its SHA-256 in {MANIFEST}.")
    return data


def find_latest_checkpoint(output_dir: str, run_id: str | None = None) -> str | None:
    """The newest checkpoint in `output_dir` that is complete and intact, and belongs to `run_id` when given.
    Damaged, incomplete and foreign ones are skipped with a warning naming them: resuming falls back to the
    checkpoint before."""
    for step, path in reversed(list_checkpoints(output_dir)):
        try:
            manifest = read_manifest(path)
        except CheckpointError as error:
            logger.warning(f"Skipping a checkpoint: {error}")
            continue
        if manifest["step"] != step:
            logger.warning(f"Skipping {path}: its {MANIFEST} says step {manifest['step']} (the folder was renamed).")
        elif run_id is not None and manifest["run_id"] != run_id:
            logger.warning(
                f"Skipping {path}: it belongs to run {manifest['run_id']}, not to this folder's run {run_id}."
            )
        else:
            return path
    return None


# -- saving and loading -------------------------------------------------------------------------------------------


def _rng_state(generators: dict) -> dict:
    """This process's random number generators as JSON: Python's, NumPy's, torch's (CPU and every CUDA device) and
    the training loop's own torch.Generators."""
    version, internal, gauss = random.getstate()
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), position, has_gauss, cached_gaussian],
        "torch": torch.get_rng_state().tolist(),
        "generators": {key: generator.get_state().tolist() for key, generator in generators.items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = [device_state.tolist() for device_state in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict, generators: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])
    for key, generator in generators.items():
        saved = torch.tensor(state["generators"][key], dtype=torch.uint8)
        if saved.numel() != generator.get_state().numel():  # CPU (Mersenne Twister) and CUDA (Philox) states differ
            raise CheckpointError(
                f"The checkpoint's {key!r} generator was saved on another kind of device than this run's "
                f"{generator.device.type}: resume on the kind of device (CPU or GPU) that wrote it."
            )
        generator.set_state(saved)


def _split_optimizer_state(state_dict: dict) -> tuple[dict, dict]:
    """An optimizer's state_dict as tensors named `<param id>.<key>` plus JSON for the rest (param_groups and any
    non-tensor per-parameter values)."""
    tensors, values = {}, {}
    for param_id, param_state in state_dict["state"].items():
        for key, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                values.setdefault(str(param_id), {})[key] = value
    groups = [  # a CUDA graph's Adam keeps its rate in a tensor (train_gan.make_graph_safe)
        {key: value.item() if isinstance(value, torch.Tensor) else value for key, value in group.items()}
        for group in state_dict["param_groups"]
    ]
    return tensors, {"param_groups": groups, "values": values}


def _join_optimizer_state(tensors: dict, structure: dict, optimizer) -> dict:
    state = {}
    for name, tensor in tensors.items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = tensor
    for param_id, values in structure["values"].items():
        state.setdefault(int(param_id), {}).update(values)
    groups = structure["param_groups"]
    for saved, live in zip(groups, optimizer.param_groups):  # JSON has no tuples; Adam's betas are one
        for key, value in saved.items():
            if isinstance(live.get(key), tuple):
                saved[key] = tuple(value)
    return {"state": state, "param_groups": groups}


def _fsync(path: str) -> None:
    """Makes a file or folder durable, so a power cut cannot leave a manifest that names unwritten data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    output_dir: str,
    run_id: str,
    step: int,
    models: dict,
    optimizers: dict,
    accelerator,
    state: dict | None = None,
    generators: dict | None = None,
    total_limit: int | None = None,
    process_state: dict | None = None,
) -> str:
    """Writes `output_dir/checkpoint-<step>` on every process (each writes its own random generators and, if given,
    its `process_state` as stream-<rank>.json, e.g. where its data stream is; the main process the rest) and returns
    its path.

    `models` and `optimizers` map names to (possibly accelerate-wrapped) modules and optimizers; `state` is the
    training loop's JSON-serialisable state; `generators` the loop's own torch.Generators. The folder is renamed from
    `.tmp` once complete, with its manifest written last; then only the newest `total_limit` checkpoints of this run
    are kept (checkpoints of other runs are never counted or deleted)."""
    check_replicas_agree(models, accelerator)
    final = os.path.join(output_dir, f"checkpoint-{step}")
    staging = final + ".tmp"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
    accelerator.wait_for_everyone()
    _write_json(os.path.join(staging, f"rng-{accelerator.process_index}.json"), _rng_state(generators or {}))
    if process_state is not None:
        _write_json(os.path.join(staging, f"stream-{accelerator.process_index}.json"), process_state)
    if accelerator.is_main_process:
        for name, model in models.items():
            weights = bare_model(accelerator, model).state_dict()
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in weights.items()},
                os.path.join(staging, f"{name}.safetensors"),
            )
        for name, optimizer in optimizers.items():
            tensors, structure = _split_optimizer_state(optimizer.state_dict())
            save_file(tensors, os.path.join(staging, f"optimizer-{name}.safetensors"))
            _write_json(os.path.join(staging, f"optimizer-{name}.json"), structure)
        scaler = accelerator.scaler.state_dict() if accelerator.scaler is not None else None
        _write_json(os.path.join(staging, "state.json"), {"step": step, "state": state or {}, "grad_scaler": scaler})
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        files = {}
        for name in sorted(os.listdir(staging)):
            path = os.path.join(staging, name)
            with open(path, "rb") as file:
                files[name] = _sha256(file.read())
            _fsync(path)
        manifest = {
            "format": CHECKPOINT_FORMAT,
            "run_id": run_id,
            "step": step,
            "num_processes": accelerator.num_processes,
            "files": files,
        }
        _write_json(os.path.join(staging, MANIFEST), manifest)
        _fsync(os.path.join(staging, MANIFEST))
        if os.path.isdir(final):  # only this run's own checkpoint of the same step can be here (see RunFolder)
            _remove_checkpoint(final)
        os.replace(staging, final)
        _fsync(output_dir)
        if total_limit:
            own = [path for _, path in list_checkpoints(output_dir) if _run_of(path) == run_id]
            for path in own[:-total_limit]:
                _remove_checkpoint(path)
    accelerator.wait_for_everyone()
    return final


def bare_model(accelerator, model: torch.nn.Module) -> torch.nn.Module:
    """The module behind accelerate's wrappers and torch.compile's: the one whose state_dict has the model's own keys
    (accelerate 1.15 keeps the compile wrapper unless told not to, and its state_dict keys start with `_orig_mod.`)."""
    model = accelerator.unwrap_model(model)
    return getattr(model, "_orig_mod", model)


def check_replicas_agree(models: dict, accelerator) -> None:
    """Data-parallel processes hold the same weights if and only if their gradients were averaged: a checkpoint of
    replicas that drifted apart would save process 0's alone, so it is refused."""
    if accelerator.num_processes == 1:
        return
    for name, model in models.items():
        parameters = [p.detach().double().sum() for p in bare_model(accelerator, model).parameters()]
        checksums = accelerator.gather(torch.stack(parameters).sum().reshape(1).to(accelerator.device))
        if not torch.equal(checksums, checksums[:1].expand_as(checksums)):
            raise CheckpointError(
                f"The {name}'s weights differ between the {accelerator.num_processes} processes (sums "
                f"{checksums.tolist()}): their gradients were not averaged. Pass every trained model to "
                "accelerator.prepare."
            )


def _remove_checkpoint(path: str) -> None:
    """Renamed first, then deleted: a trainer killed while deleting leaves a `.deleting` folder, never a checkpoint
    with some of its files gone."""
    doomed = f"{path}.deleting"
    shutil.rmtree(doomed, ignore_errors=True)
    os.replace(path, doomed)
    shutil.rmtree(doomed)


def _run_of(checkpoint: str) -> str | None:
    try:
        return read_manifest(checkpoint, verify=False)["run_id"]
    except CheckpointError:
        return None


def load_checkpoint(
    checkpoint: str, models: dict, optimizers: dict, accelerator, generators: dict | None = None
) -> dict:
    """Restores what `save_checkpoint` wrote into `models`, `optimizers`, this process's random generators (and
    `generators`) and accelerate's gradient scaler; returns the loop's `state`. Every file is checked against the
    manifest as it is read, and only safetensors and JSON are read."""
    manifest = read_manifest(checkpoint, verify=False)
    for name, model in models.items():
        tensors = load_safetensors(_read_verified(checkpoint, manifest, f"{name}.safetensors"))
        _load_weights(bare_model(accelerator, model), tensors, f"the {name} in {checkpoint}")
    for name, optimizer in optimizers.items():
        tensors = load_safetensors(_read_verified(checkpoint, manifest, f"optimizer-{name}.safetensors"))
        structure = json.loads(_read_verified(checkpoint, manifest, f"optimizer-{name}.json"))
        if len(structure["param_groups"]) != len(optimizer.param_groups):
            raise CheckpointError(
                f"The {name} optimizer in {checkpoint} has {len(structure['param_groups'])} "
                f"parameter groups; this run's has {len(optimizer.param_groups)}."
            )
        try:
            optimizer.load_state_dict(_join_optimizer_state(tensors, structure, optimizer))
        except ValueError as error:
            raise CheckpointError(f"The {name} optimizer in {checkpoint} does not fit this run's: {error}") from None
    rng_file = f"rng-{accelerator.process_index}.json"
    if rng_file not in manifest["files"]:  # more processes than wrote it: the loop's generators are global streams
        logger.warning(
            f"{checkpoint} was written by {manifest['num_processes']} process(es): process "
            f"{accelerator.process_index} takes the random state of process 0."
        )
        rng_file = "rng-0.json"
    _set_rng_state(json.loads(_read_verified(checkpoint, manifest, rng_file)), generators or {})
    saved = json.loads(_read_verified(checkpoint, manifest, "state.json"))
    if saved["grad_scaler"] is not None and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(saved["grad_scaler"])
    return saved["state"]


def load_process_state(checkpoint: str, accelerator) -> dict | None:
    """This process's `process_state` of `save_checkpoint` (checked against the manifest), or None if it wrote none."""
    manifest = read_manifest(checkpoint, verify=False)
    name = f"stream-{accelerator.process_index}.json"
    return json.loads(_read_verified(checkpoint, manifest, name)) if name in manifest["files"] else None


def _load_weights(model: torch.nn.Module, tensors: dict, what: str) -> None:
    """Loads `tensors` into `model` after checking they are the same names and shapes, with an error that lists the
    difference instead of torch's first mismatch."""
    expected = model.state_dict()
    problems = [f"{key} is missing" for key in expected if key not in tensors]
    problems += [f"{key} is not in this model" for key in tensors if key not in expected]
    problems += [
        f"{key} is {tuple(tensors[key].shape)}, here {tuple(value.shape)}"
        for key, value in expected.items()
        if key in tensors and tensors[key].shape != value.shape
    ]
    if problems:
        raise CheckpointError(
            f"{what} does not fit the model built from these arguments ({'; '.join(problems[:3])}"
            f"{f'; and {len(problems) - 3} more' if len(problems) > 3 else ''}). Resume with the model arguments of "
            "the run that wrote it (its run.json lists them)."
        )
    model.load_state_dict(tensors)


# -- the output folder --------------------------------------------------------------------------------------------


class RunFolder:
    """The output folder of one run, held from start to end (use as a context manager, or call `close`).

    On the main process it takes the folder's lock (a second trainer fails at once, naming the first) and decides
    what is in the folder:
    - a new run (no `resume`, or "latest" with no checkpoint of the folder's run) needs a folder without another
      run's outputs; with `overwrite` those are moved into `previous-<time>/`;
    - resuming ("latest", or a checkpoint path) continues the checkpoint's run. A path from another folder may
      only go into a folder that is empty or holds the same run (or, with `overwrite`, whose contents are moved
      aside). The checkpoint's step must not be past `run_config["max_train_steps"]`; checkpoints of later steps
      in the folder (an abandoned continuation) are moved aside, so they never count as this run's.
    Every process then knows `run_id` and `checkpoint` (the checkpoint to resume from, or None).
    """

    def __init__(
        self, output_dir: str, run_config: dict, accelerator, overwrite: bool = False, resume: str | None = None
    ):
        self.output_dir = output_dir
        self._lock = None
        decision = [None, None]
        if accelerator.is_main_process:
            os.makedirs(output_dir, exist_ok=True)
            self._lock = _acquire_lock(output_dir)
            try:
                decision = self._claim(run_config, overwrite, resume)
            except BaseException:
                self.close()
                raise
        self.run_id, self.checkpoint = broadcast_object_list(decision)

    def _claim(self, run_config: dict, overwrite: bool, resume: str | None) -> list:
        """[run id, checkpoint to resume or None], after making the folder this run's."""
        run_file = os.path.join(self.output_dir, RUN_FILE)
        owner = _read_json(run_file) if os.path.isfile(run_file) else None
        checkpoint = None
        if resume == "latest":
            checkpoint = find_latest_checkpoint(self.output_dir, owner and owner["run_id"])
            if checkpoint is None:
                logger.warning(
                    f"No complete checkpoint of this folder's run in {self.output_dir}: starting a new run."
                )
        elif resume:
            if not os.path.isdir(resume):
                raise FileNotFoundError(
                    f"--resume_from_checkpoint {resume} does not exist: pass a checkpoint folder or 'latest'."
                )
            checkpoint = resume
        if checkpoint is None:
            return self._start_new_run(run_config, overwrite, resume)
        return self._continue_run(checkpoint, owner, run_config, overwrite)

    def _start_new_run(self, run_config: dict, overwrite: bool, resume: str | None) -> list:
        if self._occupied():
            if not overwrite:
                fix = "Pick" if resume else "Resume it with --resume_from_checkpoint latest, pick"
                raise FileExistsError(
                    f"{self.output_dir} already holds a training run ({', '.join(self._occupied()[:3])}). {fix} "
                    "another --output_dir, or pass --overwrite_output_dir (which moves its contents into a "
                    "previous-<time> folder inside it)."
                )
            self._move_aside(self._entries(), "--overwrite_output_dir")
        run_id = uuid.uuid4().hex
        _write_json(
            os.path.join(self.output_dir, RUN_FILE), {"run_id": run_id, "started": _now(), "config": run_config}
        )
        return [run_id, None]

    def _continue_run(self, checkpoint: str, owner: dict | None, run_config: dict, overwrite: bool) -> list:
        manifest = read_manifest(checkpoint)
        step, run_id = manifest["step"], manifest["run_id"]
        if step > run_config["max_train_steps"]:
            raise CheckpointError(
                f"{checkpoint} is at step {step}, past --max_train_steps {run_config['max_train_steps']}: pass "
                f"--max_train_steps {step} or more to continue that run, or start a new run without "
                "--resume_from_checkpoint."
            )
        inside = os.path.realpath(os.path.dirname(os.path.abspath(checkpoint))) == os.path.realpath(self.output_dir)
        # A folder of copied checkpoints has no run.json: it is the run of the checkpoint taken from it.
        same_run = owner["run_id"] == run_id if owner else inside
        if not same_run and self._occupied():
            if not overwrite:
                raise FileExistsError(
                    f"{self.output_dir} holds another run ({', '.join(self._occupied()[:3])}) than {checkpoint} "
                    f"(run {run_id}). Resume into another --output_dir, or pass --overwrite_output_dir to move its "
                    "contents into a previous-<time> folder inside it."
                )
            aside = self._move_aside(self._entries(), f"Resuming run {run_id} with --overwrite_output_dir")
            if inside:
                checkpoint = os.path.join(aside, os.path.basename(checkpoint))
        later = [os.path.basename(path) for s, path in list_checkpoints(self.output_dir) if s > step]
        if later:
            self._move_aside(later, f"Resuming at step {step}: checkpoints of later steps are not this continuation's")
        if owner and same_run:
            changed = {k: (owner["config"].get(k), v) for k, v in run_config.items() if owner["config"].get(k) != v}
            if changed:
                logger.warning(f"Resuming run {run_id} with changed arguments (was, now): {changed}")
        else:
            _write_json(
                os.path.join(self.output_dir, RUN_FILE),
                {"run_id": run_id, "started": _now(), "config": run_config, "resumed_from": checkpoint},
            )
        logger.info(f"Resuming run {run_id} from {checkpoint} (step {step})")
        return [run_id, checkpoint]

    def _entries(self) -> list[str]:
        """Everything in the folder but its lock and what earlier runs left aside."""
        keep = {LOCK_FILE, LOCK_HOLDER_FILE}
        return sorted(n for n in os.listdir(self.output_dir) if n not in keep and not n.startswith("previous-"))

    def _occupied(self) -> list[str]:
        """What in the folder would be lost to a new run: a saved pipeline, checkpoints."""
        return [n for n in self._entries() if n == "model_index.json" or CHECKPOINT_RE.match(n)]

    def _move_aside(self, names: list[str], reason: str) -> str:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        aside, n = os.path.join(self.output_dir, f"previous-{stamp}"), 1
        while os.path.exists(aside):
            n += 1
            aside = os.path.join(self.output_dir, f"previous-{stamp}-{n}")
        os.makedirs(aside)
        for name in names:
            os.replace(os.path.join(self.output_dir, name), os.path.join(aside, name))
        logger.warning(f"{reason}: moved {', '.join(names)} to {aside} (delete it once you no longer need it).")
        return aside

    def close(self) -> None:
        """Releases the folder (on the main process; a no-op elsewhere and when already closed)."""
        if self._lock is not None:
            try:
                os.remove(os.path.join(self.output_dir, LOCK_HOLDER_FILE))
            except FileNotFoundError:
                pass
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _acquire_lock(output_dir: str) -> FileLock:
    """The folder's lock (an OS file lock: a killed trainer's is released with its process), or OutputDirLocked
    naming the trainer that holds it."""
    lock = FileLock(os.path.join(output_dir, LOCK_FILE))
    holder_file = os.path.join(output_dir, LOCK_HOLDER_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            holder = _read_json(holder_file)
            who = f"process {holder['pid']} on {holder['host']}, since {holder['since']}"
        except (OSError, ValueError, KeyError):
            who = "another process"
        raise OutputDirLocked(
            f"{output_dir} is in use by another trainer ({who}). Two trainers in one folder destroy each other's "
            "checkpoints: wait for it to finish, stop it, or pick another --output_dir."
        ) from None
    _write_json(holder_file, {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()})
    return lock
