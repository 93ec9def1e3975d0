"""Training throughput: images/s of hf_gan.training.train_gan against a bare PyTorch loop of the same networks, loss
and batch, in the same process, on the device accelerate picks (the GPU when there is one).

    python benchmarks/training_throughput.py [--config mnist_cgan] [--steps 300]
    python benchmarks/training_throughput.py --mixed_precision no bf16 fp16 --steps 2000   # on a GPU
    python benchmarks/training_throughput.py --mixed_precision no bf16 fp16 --cuda_graph --config mnist_cgan_long

The script's figure is its own clock of training-step time (train_results.json); the bare loop is a plain
`for` loop with the same D step, G step (with the preset's AC-GAN class loss or InfoGAN code loss) and EMA update,
and none of accelerate, logging or checkpoint logic; on a GPU it keeps the dataset there and uses fused Adam, as the
script does, and fp16 scales the losses with one GradScaler, as accelerate does. The two alternate (script, bare,
script, bare, ...) and the medians are compared. Both see one global batch of real MNIST digits per D step, so an
image counts once per D step. With --cuda_graph both replay their step as one CUDA graph (train_gan --cuda_graph, and
the bare step captured by hand), and with --compile both compile the networks first; either way the one-off costs
(compilation, warm-up steps, capture) are inside both clocks, so short runs understate the steady rate; --warm_up
times only the second half of runs twice as long (the script's clock from the checkpoint it writes at half-way; its
clock leaves out the time spent writing checkpoints and sample grids).
"""

import argparse
import copy
import functools
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from accelerate.state import AcceleratorState

from hf_gan import DCGANDiscriminator, DCGANGenerator
from hf_gan.data import load_image_dataset, prepare_image_dataset
from hf_gan.losses import discriminator_loss, generator_loss
from hf_gan.training import train_gan
from hf_gan.training.utils import read_preset, update_ema


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bare_step(config, images, labels, device, mixed_precision="no", compile=False, for_graph=False):
    """One training step of the same networks and losses, as a plain function of the step number. `for_graph`: a
    step that a CUDA graph can capture (Adam keeps its step count on the GPU, random numbers come from the default
    CUDA generator, and the EMA decay is fixed at its final value)."""
    torch.manual_seed(0)
    images, labels = images.to(device), labels.to(device)
    num_classes = 10 if config["model"] == "cgan" else None
    code_size = config.get("categorical_code", 0)
    g = DCGANGenerator(
        latent_dim=config.get("latent_dim", 64),
        base_channels=config.get("generator_channels", 32),
        num_classes=num_classes,
        class_conditional_norm=config.get("class_conditional_norm", False),
        categorical_code=code_size,
    )
    d = DCGANDiscriminator(
        base_channels=config.get("discriminator_channels", 32),
        num_classes=num_classes,
        conditioning=config.get("conditioning", "projection"),
        auxiliary_classifier=config.get("class_loss_weight", 0) > 0,
        extra_layers=config.get("discriminator_extra_layers", 0),
        categorical_code=code_size,
    )
    layout = train_gan.memory_format(device)  # as train_gan does
    g.to(device, memory_format=layout)
    d.to(device, memory_format=layout)
    ema = copy.deepcopy(g).requires_grad_(False)
    g_run, d_run = (torch.compile(g), torch.compile(d)) if compile else (g, d)
    betas, fused = (config["adam_beta1"], config["adam_beta2"]), device.type == "cuda" or None
    adam = functools.partial(torch.optim.Adam, betas=betas, fused=fused, capturable=for_graph)
    opt_g, opt_d = adam(g.parameters(), lr=config["generator_lr"]), adam(d.parameters(), lr=config["discriminator_lr"])
    dtype = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mixed_precision]
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    scaler = torch.amp.GradScaler(device.type, enabled=mixed_precision == "fp16")
    batch, objective = config["train_batch_size"], config["objective"]
    class_weight, code_weight = config.get("class_loss_weight", 0), config.get("code_loss_weight", 1.0)
    noise_rng = None if for_graph else torch.Generator(device).manual_seed(0)
    ema_decay = config.get("ema_decay", 0.999)

    def optimise(loss, optimizer):
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def step(number):
        idx = torch.randint(0, len(images), (batch,), device=device, generator=noise_rng)
        real = images[idx].float().div_(127.5).sub_(1).contiguous(memory_format=layout)
        y = labels[idx] if num_classes else None
        noise = torch.randn(batch, g.config.latent_dim, device=device, generator=noise_rng)
        with autocast:
            with torch.no_grad():
                fake = g_run(noise, y)
            if class_weight:  # AC-GAN: D classifies the real images
                real_logits, class_logits = d_run(real, y, return_class_logits=True)
            else:
                real_logits = d_run(real, y)
            if code_size:  # InfoGAN: D reads the code off the fakes
                fake_logits, code_logits = d_run(fake, y, return_code_logits=True)
            else:
                fake_logits = d_run(fake, y)
            loss_d = discriminator_loss(objective, real_logits.float(), fake_logits.float())
            if class_weight:
                loss_d = loss_d + class_weight * F.cross_entropy(class_logits.float(), y)
            if code_size:
                loss_d = loss_d + code_weight * F.cross_entropy(code_logits.float(), g.split_code(noise)[1])
        optimise(loss_d, opt_d)

        d.requires_grad_(False)
        noise = torch.randn(batch, g.config.latent_dim, device=device, generator=noise_rng)
        with autocast:
            fake = g_run(noise, y)
            if class_weight:
                fake_logits, class_logits = d_run(fake, y, return_class_logits=True)
            elif code_size:
                fake_logits, code_logits = d_run(fake, y, return_code_logits=True)
            else:
                fake_logits = d_run(fake, y)
            loss_g = generator_loss(objective, fake_logits.float())
            if class_weight:
                loss_g = loss_g + class_weight * F.cross_entropy(class_logits.float(), y)
            if code_size:
                loss_g = loss_g + code_weight * F.cross_entropy(code_logits.float(), g.split_code(noise)[1])
        optimise(loss_g, opt_g)
        d.requires_grad_(True)
        update_ema(ema, g, ema_decay if for_graph else min(ema_decay, (1 + number) / (10 + number)))
        return loss_d

    return step


def bare_loop(config, images, labels, steps, device, mixed_precision="no", compile=False, warm_up=False):
    """The bare step in a plain `for` loop (after as many untimed steps, with `warm_up`); returns images/s."""
    step = bare_step(config, images, labels, device, mixed_precision, compile)
    untimed = steps if warm_up else 0
    for i in range(untimed):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(untimed, untimed + steps):
        loss_d = step(i)
        if i % 20 == 0:
            loss_d.item()  # the script syncs for its progress bar about as often
    loss_d.item()  # the queued GPU work is part of the time
    return steps * config["train_batch_size"] / (time.perf_counter() - start)


def graphed_loop(config, images, labels, steps, device, mixed_precision="no", compile=False, warm_up=False):
    """The bare step captured once as a CUDA graph and replayed, by hand (the EMA decay and learning rates are
    frozen, and batches are drawn inside the graph: less work per step than train_gan's). Returns images/s."""
    step = bare_step(config, images, labels, device, mixed_precision, compile, for_graph=True)
    start = time.perf_counter()  # warm-up and capture counted, as train_gan's clock counts them
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up before capture, as torch.cuda.graphs asks
        for i in range(3):
            step(i)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        loss_d = step(3)
    for i in range(steps - 3 + steps * warm_up):  # 3 warm-up steps, then the graph (capture runs nothing)
        if warm_up and i == steps - 3:
            torch.cuda.synchronize()
            start = time.perf_counter()
        graph.replay()
        if i % 20 == 0:
            loss_d.item()
    loss_d.item()
    return steps * config["train_batch_size"] / (time.perf_counter() - start)


def script_loop(config_path, dataset, steps, output_dir, extra_args, warm_up=False):
    AcceleratorState._reset_state()  # each run sets its own mixed precision, as a fresh process would
    train_gan.main(
        extra_args
        + [
            "--config",
            config_path,
            "--dataset_name",
            dataset,
            "--output_dir",
            output_dir,
            "--overwrite_output_dir",
            "--max_train_steps",
            str(2 * steps if warm_up else steps),
            "--checkpointing_steps",
            str(steps if warm_up else 10 * steps),
            "--sample_every",
            "0",
        ]
    )
    with open(os.path.join(output_dir, "train_results.json")) as file:
        seconds = json.load(file)["train_minutes"] * 60
    if warm_up:
        with open(os.path.join(output_dir, f"checkpoint-{steps}", "state.json")) as file:
            seconds -= json.load(file)["state"]["train_seconds"]
    return steps * read_preset(config_path)["train_batch_size"] / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mnist_cgan", help="a shipped preset or a YAML file")
    parser.add_argument("--dataset_name", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mixed_precision", nargs="+", default=["no"], choices=["no", "bf16", "fp16"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks in both loops")
    parser.add_argument("--cuda_graph", action="store_true", help="both loops replay their step as a CUDA graph")
    parser.add_argument("--warm_up", action="store_true", help="time the second half of runs of twice --steps")
    parser.add_argument("--output_dir", default="/tmp/hf_gan_throughput")
    args = parser.parse_args()
    config = read_preset(args.config)
    data = prepare_image_dataset(load_image_dataset(args.dataset_name))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where accelerate puts train_gan
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    rows = []
    for precision in args.mixed_precision:
        extra = ["--mixed_precision", precision] + ["--compile"] * args.compile + ["--cuda_graph"] * args.cuda_graph
        loop = graphed_loop if args.cuda_graph else bare_loop
        ours, bare = [], []
        for _ in range(args.rounds):
            ours.append(script_loop(args.config, args.dataset_name, args.steps, args.output_dir, extra, args.warm_up))
            bare.append(
                loop(config, data.images, data.labels, args.steps, device, precision, args.compile, args.warm_up)
            )
            print(f"{precision}: train_gan {ours[-1]:.0f} img/s, bare loop {bare[-1]:.0f} img/s", flush=True)
        rows.append((precision, statistics.median(ours), statistics.median(bare)))
    mode = ("compiled" if args.compile else "eager") + (", as CUDA graphs" if args.cuda_graph else "")
    mode += f", after {args.steps} untimed" if args.warm_up else ""
    print(
        f"\n{args.config}, batch {config['train_batch_size']}, {args.steps} steps x {args.rounds} rounds, {mode}, "
        f"on {name} (torch {torch.__version__}); medians:"
    )
    for precision, ours, bare in rows:
        print(
            f"  {precision:>4}: train_gan {ours:8.0f} img/s, bare PyTorch loop {bare:8.0f} img/s, "
            f"ratio {ours / bare:.3f}"
        )


if __name__ == "__main__":
    main()
