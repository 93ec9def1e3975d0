"""Small colour sets at 64 px and up (docs/colour.md), on tiny synthetic data: the residual networks, DiffAugment
(applied to real and fake images alike, and differentiable), RGBA in and out, the copying check, the Twemoji
conversion script and bad input."""

import copy
import io
import json
import os
import subprocess
import sys
import tarfile
from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest
import torch
from accelerate import Accelerator
from conftest import accelerate_launch
from huggingface_hub import HfApi, ModelCard
from safetensors.torch import load_file
from test_hub import run_python

from hf_gan import ConditionalGANPipeline, HfGanPipeline, ResNetDiscriminator, ResNetGenerator
from hf_gan.augment import color as color_transform
from hf_gan.augment import cutout, diff_augment, parse_policy, translation
from hf_gan.cli import main as cli_main
from hf_gan.data import DatasetError, load_image_dataset, prepare_image_dataset
from hf_gan.demo import export_space
from hf_gan.metrics import copying_ratio, evaluate_pipeline
from hf_gan.pipelines.pipeline_utils import repository_code
from hf_gan.training import train_gan
from hf_gan.training.utils import parse_args_with_config, standing_statistics


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = ["color", "translation", "cutout"]


def tiny_resnet(num_classes=3, channels=3, seed=0):
    torch.manual_seed(seed)
    generator = ResNetGenerator(
        latent_dim=8, sample_size=16, out_channels=channels, base_channels=4, num_classes=num_classes
    )
    discriminator = ResNetDiscriminator(
        sample_size=16, in_channels=channels, base_channels=4, num_classes=num_classes, auxiliary_classifier=True
    )
    return generator, discriminator


# -- the residual networks ------------------------------------------------------------------------------------------


def test_resnet_generator_and_discriminator_shapes_and_conditioning():
    generator, discriminator = tiny_resnet()
    generator.eval(), discriminator.eval()  # eval: no BatchNorm statistics, no spectral-norm power iteration
    for block in generator.blocks:  # as if trained: per-class scales and shifts that differ
        torch.nn.init.normal_(block.norm1.scale.weight, 1, 0.5)
        torch.nn.init.normal_(block.norm2.shift.weight, 0, 0.5)
    latents, labels = torch.randn(6, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    images = generator(latents, labels)
    assert images.shape == (6, 3, 16, 16) and images.abs().max() <= 1
    # the label conditions G (class-conditional BatchNorm): one-hot weights give exactly the class's image
    one_hot = torch.nn.functional.one_hot(labels, 3).float()
    torch.testing.assert_close(generator(latents, one_hot), images)
    assert (generator(latents, (labels + 1) % 3) - images).abs().mean() > 1e-3
    logits, class_logits = discriminator(images, labels, return_class_logits=True)
    assert logits.shape == (6,) and class_logits.shape == (6, 3)
    torch.nn.init.normal_(discriminator.class_embedding.parametrizations.weight.original)
    assert not torch.allclose(discriminator(images, labels), discriminator(images, (labels + 1) % 3))  # projection
    with pytest.raises(ValueError, match="conditional.*pass class_labels"):
        generator(latents)
    with pytest.raises(ValueError, match="powers of two"):
        ResNetGenerator(sample_size=28)


def test_resnet_discriminator_is_spectrally_normalised():
    _, discriminator = tiny_resnet()
    convolutions = [m for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions and all(hasattr(m, "parametrizations") for m in convolutions)


def test_resnet_pipeline_round_trip_over_folder_and_hub(tmp_path):
    generator, discriminator = tiny_resnet()
    pipe = ConditionalGANPipeline(generator.eval(), discriminator.eval(), id2label={0: "a", 1: "b", 2: "c"})
    expected = pipe(class_labels=["a", "c"], generator=torch.manual_seed(0), output_type="pt").images
    pipe.save_pretrained(tmp_path / "saved")
    pipe.push_to_hub("user/tiny-resnet")
    for source in (tmp_path / "saved", "user/tiny-resnet"):
        loaded = HfGanPipeline.from_pretrained(source)
        assert isinstance(loaded.generator, ResNetGenerator)
        images = loaded(class_labels=["a", "c"], generator=torch.manual_seed(0), output_type="pt").images
        torch.testing.assert_close(images, expected, rtol=0, atol=0)


# -- DiffAugment ----------------------------------------------------------------------------------------------------


def test_diffaugment_transforms_change_images_are_seeded_and_keep_alpha():
    x = torch.rand(8, 4, 16, 16) * 2 - 1
    for transform in (color_transform, translation, cutout):
        out = transform(x, torch.Generator().manual_seed(1))
        assert out.shape == x.shape and not torch.allclose(out, x)
        torch.testing.assert_close(out, transform(x, torch.Generator().manual_seed(1)))
    torch.testing.assert_close(color_transform(x, torch.Generator().manual_seed(1))[:, 3], x[:, 3])  # alpha kept
    zeroed = (cutout(x, torch.Generator().manual_seed(1)) == 0).float().mean(dim=(1, 2, 3))
    assert (zeroed > 0.05).all() and (zeroed <= 0.25 + 1e-6).all()  # a square of half the side, maybe clipped
    with pytest.raises(ValueError, match="Unknown DiffAugment transform.*'colour'.*color, translation, cutout"):
        parse_policy("colour,cutout")


def test_a_gradient_reaches_the_generator_through_diffaugment():
    generator, discriminator = tiny_resnet()
    latents, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    loss = discriminator(diff_augment(generator(latents, labels), POLICY, torch.Generator().manual_seed(0)), labels)
    loss.mean().backward()
    last = generator.to_image.weight.grad
    assert last is not None and last.abs().sum() > 0
    assert all(p.grad is not None for p in generator.parameters())


def test_training_steps_show_d_real_and_fake_images_through_the_augmentation():
    """D's step augments the real batch and the fakes, G's step the fakes, with G's graph kept."""
    generator, discriminator = tiny_resnet()
    accelerator = Accelerator(cpu=True)
    args = SimpleNamespace(objective="hinge", r1_gamma=0.0, class_loss_weight=0.1, code_loss_weight=1.0)
    seen = []

    def augment(images):
        seen.append(images)
        return diff_augment(images, POLICY, torch.Generator().manual_seed(len(seen)))

    real, labels, noise = torch.rand(4, 3, 16, 16) * 2 - 1, torch.tensor([0, 1, 2, 0]), torch.randn(4, 8)
    adam = torch.optim.Adam
    d_opt, g_opt = adam(discriminator.parameters()), adam(generator.parameters())
    train_gan.discriminator_step(
        args, accelerator, generator, discriminator, discriminator.config, d_opt, real, labels, noise, None, augment
    )
    assert len(seen) == 2 and seen[0] is real and seen[1].shape == real.shape and not seen[1].requires_grad
    train_gan.generator_step(args, accelerator, generator, discriminator, g_opt, labels, noise, None, augment)
    assert len(seen) == 3 and seen[2].requires_grad  # the fakes, with G's graph, went through the augmentation


# -- RGBA in and out ------------------------------------------------------------------------------------------------


def rgba_icon(rng, size=16):
    """A coloured disc on a transparent background whose hidden colour is black, as in many icon files."""
    pixels = np.zeros((size, size, 4), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2
    pixels[disc, :3] = rng.integers(40, 256, 3)
    pixels[disc, 3] = 255
    return PIL.Image.fromarray(pixels, "RGBA")


@pytest.fixture(scope="module")
def icons(tmp_path_factory):
    """An image folder of RGBA icons in two classes, one saved as a palette PNG with a transparent index."""
    folder = tmp_path_factory.mktemp("icons")
    rng = np.random.default_rng(0)
    for name in ("circle", "dot"):
        os.makedirs(folder / name)
        for i in range(8):
            rgba_icon(rng).save(folder / name / f"{i}.png")
    rgba_icon(rng).convert("P").save(folder / "dot" / "palette.png", transparency=0)
    return folder


def test_rgba_folder_is_composited_on_white_for_rgb_and_kept_for_rgba(icons):
    dataset = load_image_dataset(str(icons))
    rgb = prepare_image_dataset(dataset, num_channels=3).images
    rgba = prepare_image_dataset(dataset, num_channels=4).images
    assert rgb.shape[1] == 3 and rgba.shape[1] == 4
    transparent = rgba[:, 3] == 0
    assert transparent.any() and (rgb.permute(0, 2, 3, 1)[transparent] == 255).all()  # white, not the hidden black
    opaque = rgba[:, 3] == 255
    assert torch.equal(rgb.permute(0, 2, 3, 1)[opaque], rgba[:, :3].permute(0, 2, 3, 1)[opaque])


def test_num_channels_4_without_alpha_and_mixed_sizes_explain_the_fix(tmp_path):
    for i, size in enumerate((16, 16, 8)):
        os.makedirs(tmp_path / "a", exist_ok=True)
        PIL.Image.new("RGB", (size, size), (i * 60, 0, 0)).save(tmp_path / "a" / f"{i}.png")
    dataset = load_image_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match=r"num_channels.*4 \(RGBA\).*none of the 3 images has an alpha.*3"):
        prepare_image_dataset(dataset, num_channels=4, resolution=8)
    with pytest.raises(DatasetError, match=r"several sizes \(.*0\.png.* is 16x16, .*2\.png.* is 8x8\).*--resolution"):
        prepare_image_dataset(dataset)


def test_rgba_cgan_trains_and_writes_transparent_pngs(icons, tmp_path):
    """--num_channels 4 end to end: the emoji_cgan preset's networks and DiffAugment on RGBA icons, a pipeline whose
    images are RGBA, `hf-gan generate` writing transparent PNGs, and the copying check in evaluate_pipeline."""
    out = tmp_path / "rgba-cgan"
    command = [*accelerate_launch(), "-m", "hf_gan.training.train_gan", "--config", "emoji_cgan"]
    command += ["--dataset_name", str(icons), "--resolution", "16", "--num_channels", "4", "--output_dir", str(out)]
    command += ["--train_batch_size", "8", "--max_train_steps", "3", "--generator_channels", "4"]
    command += ["--discriminator_channels", "4", "--latent_dim", "8", "--sample_every", "0", "--num_threads", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    args = json.load(open(out / "training_args.json"))
    assert args["architecture"] == "resnet" and args["diffaugment"] == "color,translation,cutout"
    pipe = HfGanPipeline.from_pretrained(out)
    assert isinstance(pipe.generator, ResNetGenerator) and pipe.generator.config.out_channels == 4
    assert pipe(class_labels=["dot"]).images[0].mode == "RGBA"
    cli_main(
        ["generate", str(out), "--labels", "dot", "--transparent", "--scale", "1", "--output", str(tmp_path / "t.png")]
    )
    written = PIL.Image.open(tmp_path / "t.png")
    assert written.mode == "RGBA" and written.size == (16, 16)
    metrics = evaluate_pipeline(
        str(out), str(icons), metrics=["copying"], split="train", reference_split="train", num_samples=8, num_real=0
    )
    assert metrics["num_real"] == 17 and metrics["copying_ratio"] > 0 and "copying check" in metrics["protocol"]


def test_transparent_output_asked_of_an_rgb_model_is_an_error(tmp_path):
    generator, discriminator = tiny_resnet()
    ConditionalGANPipeline(generator, discriminator).save_pretrained(tmp_path / "rgb")
    output = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"--transparent asks for an alpha channel.*3-channel.*--num_channels 4"):
        cli_main(["generate", str(tmp_path / "rgb"), "--labels", "0", "--transparent", "--output", str(output)])
    assert not output.exists()


# -- the copying check ----------------------------------------------------------------------------------------------


def blobs(count, seed):
    """Smooth random colour images (4x4 noise upsampled to 16x16) in [0, 1]: a set with no two images alike."""
    coarse = torch.rand(count, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(coarse, size=16, mode="bilinear", align_corners=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_copying_check_fails_copies_and_passes_new_images(seed):
    training = blobs(200, seed)
    copies = training[torch.randperm(200, generator=torch.Generator().manual_seed(seed))[:100]]
    assert copying_ratio(copies, training) == {"copying_ratio": 0.0, "copying_check_passed": False}
    near_copies = (copies + 0.02 * torch.randn(copies.shape, generator=torch.Generator().manual_seed(seed))).clamp(
        0, 1
    )
    assert not copying_ratio(near_copies, training)["copying_check_passed"]
    # new images from the same distribution are as far from the training set as its images are from each other
    fresh = copying_ratio(blobs(100, seed + 100), training)["copying_ratio"]
    assert 0.9 < fresh < 1.1
    # new images with their own pixel noise are further from the training images than those are from each other
    # (1.06 to 1.09 over seeds 0-5; plain new images score 0.98 to 1.01)
    noise = torch.randn(100, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    assert copying_ratio((blobs(100, seed + 100) + 0.1 * noise).clamp(0, 1), training)["copying_ratio"] > 1.03


# -- the Twemoji conversion and the preset ----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["twitter", "google"])
def test_make_emoji_dataset_writes_categories_with_skin_variations_and_without_components(tmp_path, style):
    """The style (Twemoji, Noto, ...) is the npm package's: its images and its has_img_<style> flags, no others."""
    other = "google" if style == "twitter" else "twitter"
    emoji = [
        {"image": "1f600.png", "category": "Smileys & Emotion", f"has_img_{style}": True},
        {
            "image": "1f44b.png",
            "category": "People & Body",
            f"has_img_{style}": True,
            "skin_variations": {"1F3FB": {"image": "1f44b-1f3fb.png", f"has_img_{style}": True}},
        },
        {"image": "1f3fb.png", "category": "Component", f"has_img_{style}": True},
        {"image": "1f601.png", "category": "Smileys & Emotion", f"has_img_{style}": False, f"has_img_{other}": True},
    ]
    package = tmp_path / f"emoji-datasource-{style}.tgz"
    with tarfile.open(package, "w:gz") as tar:
        files = {
            "package/emoji.json": json.dumps(emoji).encode(),
            "package/package.json": json.dumps({"name": f"emoji-datasource-{style}"}).encode(),
        }
        for name in ("1f600.png", "1f44b.png", "1f44b-1f3fb.png", "1f3fb.png"):
            buffer = io.BytesIO()
            PIL.Image.new("RGBA", (8, 8), (255, 0, 0, 128)).save(buffer, format="PNG")
            files[f"package/img/{style}/64/{name}"] = buffer.getvalue()
        files[f"package/img/{other}/64/1f601.png"] = files[f"package/img/{style}/64/1f600.png"]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "emoji"
    command = [sys.executable, os.path.join(ROOT, "training", "make_emoji_dataset.py"), "--package", str(package)]
    subprocess.run([*command, "--output_dir", str(out)], check=True, capture_output=True)
    assert sorted(os.listdir(out)) == ["People & Body", "Smileys & Emotion"]
    assert sorted(os.listdir(out / "People & Body")) == ["1f44b-1f3fb.png", "1f44b.png"]
    assert os.listdir(out / "Smileys & Emotion") == ["1f600.png"]
    assert PIL.Image.open(out / "Smileys & Emotion" / "1f600.png").mode == "RGBA"  # copied as it is


def test_emoji_preset_and_resnet_argument_errors():
    parser = train_gan.parse_args()
    args = parse_args_with_config(parser, ["--config", "emoji_cgan"])
    assert (args.architecture, args.diffaugment, args.resolution, args.num_channels) == (
        "resnet",
        "color,translation,cutout",
        64,
        3,
    )
    train_gan.check_model_arguments(args)
    for flags, message in (
        (["--model", "gan", "--class_loss_weight", "0", "--categorical_code", "10"], "no InfoGAN code"),
        (["--discriminator_extra_layers", "2"], "DCGAN options"),
        (["--diffaugment", "color,flip"], "Unknown DiffAugment transform"),
    ):
        bad = parse_args_with_config(parser, ["--config", "emoji_cgan", *flags])
        with pytest.raises(ValueError, match=message):
            train_gan.check_model_arguments(bad)


def test_standing_statistics_give_the_ema_generator_batchnorm_statistics_of_its_own_weights():
    """update_ema copies the live generator's BatchNorm statistics into the EMA copy, whose weights differ; standing
    statistics are the copy's own: in eval mode it then normalises as it does with a large batch's statistics."""
    live, _ = tiny_resnet(seed=0)
    ema, _ = tiny_resnet(seed=1)  # other weights, as an EMA's are
    ema.load_state_dict({**ema.state_dict(), **dict(live.named_buffers())})  # statistics copied, as update_ema does
    labels = torch.tensor([0, 0, 0, 1, 2, 2])  # the training labels: classes in these proportions
    live.train()
    for _ in range(20):  # the live generator's statistics, from its own batches
        with torch.no_grad():
            live(torch.randn(32, 8), labels[torch.randint(6, (32,))])
    ema.load_state_dict({**ema.state_dict(), **dict(live.named_buffers())})
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    standing = standing_statistics(ema, num_batches=50, batch_size=64, training_labels=labels, seed=3)
    assert not standing.training
    for key, value in ema.state_dict().items():  # the EMA generator itself is left as it was
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    again = standing_statistics(ema, num_batches=50, batch_size=64, training_labels=labels, seed=3)
    for key, value in standing.state_dict().items():  # seeded: the weights alone decide
        torch.testing.assert_close(value, again.state_dict()[key], rtol=0, atol=0)
    # eval mode against the batch statistics of a large fresh batch (what the weights themselves produce)
    latents = torch.randn(2000, 8, generator=torch.Generator().manual_seed(7))
    picks = labels[torch.randint(6, (2000,), generator=torch.Generator().manual_seed(8))]
    with torch.no_grad():
        own = copy.deepcopy(ema).train()(latents, picks)
        ema.eval()
        gap_copied = (ema(latents, picks) - own).abs().mean()
        gap_standing = (standing(latents, picks) - own).abs().mean()
    assert gap_standing < 0.02 < 0.1 < gap_copied, (gap_standing, gap_copied)


def test_standing_statistics_option_saves_them_and_refuses_pix2pix(icons, tmp_path):
    common = ["--config", "emoji_cgan", "--dataset_name", str(icons), "--resolution", "16", "--diffaugment", ""]
    common += ["--train_batch_size", "8", "--generator_channels", "4", "--discriminator_channels", "4"]
    common += ["--latent_dim", "8", "--sample_every", "0", "--checkpointing_steps", "3", "--num_threads", "1"]
    common += ["--max_train_steps", "3", "--standing_statistics_batches", "4"]
    train_gan.main([*common, "--output_dir", str(tmp_path / "run")])
    saved = load_file(tmp_path / "run" / "generator" / "diffusion_pytorch_model.safetensors")
    ema = load_file(tmp_path / "run" / "checkpoint-3" / "ema_generator.safetensors")  # the EMA generator as trained
    generator = ResNetGenerator.from_pretrained(tmp_path / "run" / "generator")
    generator.load_state_dict(ema)
    data = prepare_image_dataset(load_image_dataset(str(icons), "train"), None, None, 16, 3, require_labels=True)
    expected = standing_statistics(generator, 4, 8, data.labels, seed=0 + 2)  # --seed 0
    for key, value in expected.state_dict().items():
        torch.testing.assert_close(saved[key], value, msg=key)  # channels-last in training: float rounding
    checkpoint = ema
    assert not torch.equal(saved["blocks.0.norm1.norm.running_mean"], checkpoint["blocks.0.norm1.norm.running_mean"])
    bad = parse_args_with_config(
        train_gan.parse_args(), ["--config", "mnist_superres", "--standing_statistics_batches", "4"]
    )
    with pytest.raises(ValueError, match="for --model gan or cgan"):
        train_gan.check_model_arguments(bad)


# -- the zoo's emoji-cgan -------------------------------------------------------------------------------------------


EMOJI_ZOO = os.path.join(ROOT, "model_zoo", "emoji-cgan")
EMOJI_CATEGORIES = [
    "Activities",
    "Animals & Nature",
    "Flags",
    "Food & Drink",
    "Objects",
    "People & Body",
    "Smileys & Emotion",
    "Symbols",
    "Travel & Places",
]


def test_emoji_zoo_model_gives_the_same_images_from_folder_and_hub_with_hf_gan_and_plain_diffusers(tmp_path):
    pipe = HfGanPipeline.from_pretrained(EMOJI_ZOO)
    assert isinstance(pipe, ConditionalGANPipeline) and isinstance(pipe.generator, ResNetGenerator)
    assert [pipe.id2label[i] for i in range(9)] == EMOJI_CATEGORIES  # as emoji.json spells them
    expected = pipe(class_labels=EMOJI_CATEGORIES, generator=torch.manual_seed(0), output_type="pt").images
    assert expected.shape == (9, 3, 64, 64) and expected.std() > 0.05
    HfApi().create_repo("user/emoji-cgan", exist_ok=True)
    HfApi().upload_folder(repo_id="user/emoji-cgan", folder_path=EMOJI_ZOO)
    from_hub = HfGanPipeline.from_pretrained("user/emoji-cgan")
    images = from_hub(class_labels=EMOJI_CATEGORIES, generator=torch.manual_seed(0), output_type="pt").images
    torch.testing.assert_close(images, expected, rtol=0, atol=0)
    result = run_python(
        f"""
        import torch
        from diffusers import DiffusionPipeline
        out = {{}}
        for source in ({EMOJI_ZOO!r}, "user/emoji-cgan"):
            pipe = DiffusionPipeline.from_pretrained(source, trust_remote_code=True)
            labels = {EMOJI_CATEGORIES!r}
            out[source] = pipe(class_labels=labels, generator=torch.manual_seed(0), output_type="pt").images
        torch.save(out, "{tmp_path}/plain.pt")
        """,
        block_hf_gan=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for images in torch.load(tmp_path / "plain.pt").values():
        torch.testing.assert_close(images, expected, rtol=0, atol=0)


def test_emoji_zoo_folder_is_small_current_carded_exportable_and_from_its_preset(tmp_path):
    files = [os.path.join(d, f) for d, _, fs in os.walk(EMOJI_ZOO) for f in fs]
    assert sum(os.path.getsize(f) for f in files) < 10 * 2**20
    for path in [f for f in files if f.endswith(".py")]:
        assert open(path, encoding="utf-8").read() == repository_code(), f"{path} is stale: rebuild the zoo folder"
    card = ModelCard.load(os.path.join(EMOJI_ZOO, "README.md"))
    assert {r.metric_type for r in card.data.eval_results} >= {"fid", "kid", "class_accuracy", "copying_ratio"}
    assert "CC-BY 4.0" in card.text and "Twemoji" in card.text and "residual networks" in card.text
    for picture in ("samples.png", "interpolation.png"):
        assert os.path.isfile(os.path.join(EMOJI_ZOO, picture))
    space = export_space(EMOJI_ZOO, str(tmp_path / "space"))
    assert os.path.isfile(os.path.join(space, "app.py")) and os.path.isdir(os.path.join(space, "model", "generator"))
    # the preset's settings, but for where the data and run lived and the benchmark's wall-clock budget
    ran_with = json.load(open(os.path.join(EMOJI_ZOO, "training_args.json"), encoding="utf-8"))
    implied = vars(parse_args_with_config(train_gan.parse_args(), ["--config", "emoji_cgan"]))
    bookkeeping = {"dataset_name", "output_dir", "checkpointing_steps", "sample_every", "logging_steps", "num_threads"}
    budget = {"max_train_steps", "max_train_minutes"}
    differ = {k: (implied.get(k), v) for k, v in ran_with.items() if k not in bookkeeping | budget and implied[k] != v}
    assert not differ


def test_resnet_diffaugment_run_resumes_exactly_and_trains_in_bf16(icons, tmp_path):
    """The checkpointed noise generator drives DiffAugment, so a resumed run is the uninterrupted one; bf16 autocast
    (the CPU's mixed precision, in a process of its own: accelerate sets it once per process) runs the same recipe
    with finite losses."""
    common = ["--config", "emoji_cgan", "--dataset_name", str(icons), "--resolution", "16"]
    common += ["--train_batch_size", "8", "--generator_channels", "4", "--discriminator_channels", "4"]
    common += ["--latent_dim", "8", "--sample_every", "0", "--checkpointing_steps", "2", "--num_threads", "1"]
    train_gan.main([*common, "--max_train_steps", "4", "--output_dir", str(tmp_path / "straight")])
    train_gan.main([*common, "--max_train_steps", "2", "--output_dir", str(tmp_path / "stopped")])
    resume = ["--max_train_steps", "4", "--resume_from_checkpoint", "latest"]
    train_gan.main([*common, *resume, "--output_dir", str(tmp_path / "stopped")])
    for part in ("generator", "discriminator"):
        straight, resumed = (
            load_file(tmp_path / run / part / "diffusion_pytorch_model.safetensors") for run in ("straight", "stopped")
        )
        assert straight.keys() == resumed.keys()
        for key in straight:
            torch.testing.assert_close(straight[key], resumed[key], rtol=0, atol=0, msg=key)
    bf16 = [*common, "--max_train_steps", "2", "--mixed_precision", "bf16", "--output_dir", str(tmp_path / "bf16")]
    result = subprocess.run([sys.executable, "-m", "hf_gan.training.train_gan", *bf16], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.load(open(tmp_path / "bf16" / "train_results.json"))
    assert all(np.isfinite(stats[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake"))
