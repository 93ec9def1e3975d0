"""Image-to-image GANs (pix2pix): the pairs that train_gan makes, the U-Net / PatchGAN pair, ImageToImageGANPipeline
and latent-search restoration with the GAN and cGAN pipelines, on tiny models and data."""

import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import make_pipeline
from test_hub import run_python
from test_training import synthetic_digits, weights, write_idx

from hf_gan import HfGanPipeline, ImageToImageGANPipeline, PatchGANDiscriminator, UNetGenerator
from hf_gan.models.pix2pix import compose
from hf_gan.training import train_gan
from hf_gan.training.tasks import PairMaker


TINY_PIX2PIX = [
    *("--model", "pix2pix", "--latent_dim", "4", "--generator_channels", "4", "--discriminator_channels", "4"),
    *("--train_batch_size", "8", "--logging_steps", "1", "--sample_every", "0", "--num_threads", "1"),
]


def make_i2i_pipeline(condition_size=8, mask_channel=False, seed=0):
    torch.manual_seed(seed)
    shape = dict(sample_size=8, condition_size=condition_size, mask_channel=mask_channel, base_channels=4)
    pipe = ImageToImageGANPipeline(UNetGenerator(latent_dim=4, **shape), PatchGANDiscriminator(**shape))
    for module in pipe.components.values():  # random BatchNorm statistics, as conftest.make_pipeline
        for name, buffer in module.named_buffers():
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buffer.normal_(0, 0.1)
    return pipe.to(torch.float32)


def pair_maker(task, rank=0, processes=1, batch=8, seed=0, mask_type="box,half,random"):
    args = types.SimpleNamespace(
        task=task, scale=4, noise_std=0.5, mask_type=mask_type, seed=seed, train_batch_size=batch
    )
    return PairMaker(args, types.SimpleNamespace(process_index=rank), batch // processes)


def targets(count=8, seed=1):
    return torch.rand(count, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- the pairs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["inpainting", "denoising", "restoration", "super_resolution"])
def test_pairs_are_a_function_of_seed_and_batch_number_whatever_the_process_count(task):
    target = targets()
    one = pair_maker(task)(target, batch_number=5)
    again = pair_maker(task)(target, batch_number=5)  # a fresh maker, as after a resume
    halves = [pair_maker(task, rank, 2)(target[4 * rank : 4 * rank + 4], batch_number=5) for rank in range(2)]
    for i, part in enumerate(one):
        if part is None:
            assert again[i] is None and halves[0][i] is None
            continue
        torch.testing.assert_close(part, again[i], rtol=0, atol=0)
        torch.testing.assert_close(part, torch.cat([h[i] for h in halves]), rtol=0, atol=0)
    if task != "super_resolution":
        other = pair_maker(task)(target, batch_number=6)
        assert any(a is not None and not torch.equal(a, b) for a, b in zip(one[:2], other[:2]))


def test_pairs_are_identical_in_another_process(tmp_path):
    code = f"""
        import sys, types, numpy as np, torch
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_image_to_image import pair_maker, targets
        condition, mask, _ = pair_maker("restoration")(targets(), batch_number=3)
        np.save({str(tmp_path / "c.npy")!r}, condition.numpy()); np.save({str(tmp_path / "m.npy")!r}, mask.numpy())
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    condition, mask, _ = pair_maker("restoration")(targets(), batch_number=3)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), condition.numpy())
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), mask.numpy())


def test_masks_and_noise_are_what_the_task_says():
    condition, mask, target = pair_maker("inpainting", batch=64, mask_type="half")(targets(64), batch_number=0)
    assert torch.equal(condition, target) and set(mask.sum((1, 2, 3)).tolist()) == {32.0}  # half of 8x8
    noisy, mask, _ = pair_maker("denoising", batch=64)(torch.zeros(64, 1, 8, 8), batch_number=0)
    assert mask is None and noisy.min() >= -1 and noisy.max() <= 1
    # std 0.5 of the range 0..1 is std 1 in [-1, 1]: 68.3 % of N(0, 1) lies inside (-1, 1), the rest is clipped
    assert abs((noisy.abs() < 1).float().mean() - 0.683) < 0.03
    low, _, _ = pair_maker("super_resolution")(targets(), batch_number=0)
    torch.testing.assert_close(low[:, :, 0, 0], targets()[:, :, :4, :4].mean((2, 3)))


# -- the models -----------------------------------------------------------------------------------------------------


def test_generator_and_discriminator_depend_on_the_condition_image():
    pipe = make_i2i_pipeline(mask_channel=True)
    g, d = pipe.generator.eval(), pipe.discriminator.eval()
    a, b = targets(4, seed=2), targets(4, seed=3)
    latents = torch.zeros(4, 4)
    out_a, out_b = g(a, None, latents), g(b, None, latents)
    assert (out_a - out_b).abs().mean() > 0.05 * out_a.abs().mean()
    # the same output scored with another condition: D judges the pair, not the output alone
    assert not torch.allclose(d(a, out_a), d(b, out_a))
    # the mask is seen: pixels under it are hidden from G, so changing them changes nothing
    mask = torch.zeros(4, 1, 8, 8)
    mask[:, :, 4:] = 1
    hidden = a.clone()
    hidden[:, :, 4:] = b[:, :, 4:]
    torch.testing.assert_close(g(a, mask, latents), g(hidden, mask, latents))
    assert not torch.allclose(g(a, mask, latents), g(a, None, latents))


def test_known_pixels_are_kept_only_where_a_mask_marks_pixels_to_repaint():
    """A restorer trained on masks and noise marks a noisy image by a mask with nothing to repaint: that image is
    the generator's output throughout (its pixels are not to be trusted), a masked one keeps its known pixels."""
    output, image = torch.full((2, 1, 8, 8), 0.5), torch.full((2, 1, 8, 8), -0.5)
    mask = torch.zeros(2, 1, 8, 8)
    mask[1, :, 4:] = 1
    composed = compose(output, image, mask)
    torch.testing.assert_close(composed[0], output[0])
    torch.testing.assert_close(composed[1, :, 4:], output[1, :, 4:])
    torch.testing.assert_close(composed[1, :, :4], image[1, :, :4])
    torch.testing.assert_close(compose(output, image, None), output)


# -- the pipeline ---------------------------------------------------------------------------------------------------


def test_batch_equals_one_by_one_with_per_image_generators():
    pipe = make_i2i_pipeline(mask_channel=True)
    images = (targets(3).numpy()[:, 0] + 1) / 2
    masks = np.zeros((3, 8, 8), dtype=bool)
    masks[:, 2:6, 1:7] = True
    batch = pipe(images, masks, generator=[torch.Generator().manual_seed(i) for i in range(3)], output_type="pt")
    for i in range(3):
        one = pipe(images[i], masks[i], generator=torch.Generator().manual_seed(i), output_type="pt").images
        torch.testing.assert_close(batch.images[i : i + 1], one, rtol=1e-5, atol=1e-6)
    # the known pixels are the input's, the masked ones repainted
    torch.testing.assert_close(batch.images[:, 0][~torch.from_numpy(masks)], torch.from_numpy(images)[~masks])
    assert not torch.allclose(batch.images[:, 0][torch.from_numpy(masks)], torch.from_numpy(images)[masks])
    other = pipe(images, masks, generator=[torch.Generator().manual_seed(i + 9) for i in range(3)], output_type="pt")
    assert not torch.equal(other.images, batch.images)  # z matters


def test_inputs_as_pil_numpy_torch_or_lists_agree():
    pipe = make_i2i_pipeline(condition_size=2)
    images = ((targets(2, seed=4)[:, :, :2, :2] + 1) * 127.5).round().to(torch.uint8)
    kwargs = dict(latents=torch.zeros(2, 4), output_type="np")
    pil = [PIL.Image.fromarray(image[0].numpy()) for image in images]
    reference = pipe(images, **kwargs).images
    for form in (pil, images.numpy()[:, 0], images.numpy().transpose(0, 2, 3, 1), list(images), images.float() / 255):
        np.testing.assert_allclose(pipe(form, **kwargs).images, reference, atol=1e-6)
    out = pipe(pil, latents=torch.zeros(2, 4)).images
    assert len(out) == 2 and out[0].size == (8, 8)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p: p(np.zeros((9, 9))), ValueError, r"image must be 8x8 with 1 channel\(s\).*got shape \(9, 9\)"),
        (lambda p: p(torch.zeros(1, 3, 8, 8)), ValueError, r"image must be 8x8 with 1 channel\(s\).*\(1, 3, 8, 8\)"),
        (lambda p: p("digit.png"), TypeError, "image must be PIL images, a numpy array or a torch.Tensor, got str"),
        (lambda p: p(np.zeros((8, 8)), np.ones((4, 4))), ValueError, r"mask_image must be 8x8 .*got shape \(4, 4\)"),
        (lambda p: p(np.zeros((8, 8)), np.zeros((8, 8))), ValueError, "mask_image 0 has no pixel to repaint"),
        (lambda p: p(np.zeros((2, 8, 8)), np.ones((3, 8, 8))), ValueError, "3 masks for 2 images"),
        (lambda p: p(np.zeros((8, 8)), "mask"), TypeError, "mask_image must be a PIL image"),
    ],
)
def test_bad_input_is_named_with_the_expected_shape(call, error, message):
    with pytest.raises(error, match=message):
        call(make_i2i_pipeline(mask_channel=True))


def test_a_model_without_masks_refuses_mask_image():
    with pytest.raises(ValueError, match="takes no mask_image"):
        make_i2i_pipeline(condition_size=2)(np.zeros((2, 2)), np.ones((8, 8)))


def test_round_trip_over_the_hub_with_hf_gan_and_with_plain_diffusers(tmp_path):
    pipe = make_i2i_pipeline(mask_channel=True)
    image, mask = (targets(2).numpy()[:, 0] + 1) / 2, np.triu(np.ones((8, 8)))
    expected = pipe(image, mask, generator=torch.manual_seed(0), output_type="pt").images
    pipe.push_to_hub("user/tiny-pix2pix")
    loaded = HfGanPipeline.from_pretrained("user/tiny-pix2pix")
    assert type(loaded) is ImageToImageGANPipeline
    torch.testing.assert_close(loaded(image, mask, generator=torch.manual_seed(0), output_type="pt").images, expected)
    half = loaded.to(dtype=torch.bfloat16)(image, mask, generator=torch.manual_seed(0), output_type="pt").images
    torch.testing.assert_close(half, expected, atol=0.05, rtol=0)
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "mask.npy", mask)
    result = run_python(
        f"""
        import numpy as np, torch
        from diffusers import DiffusionPipeline
        pipe = DiffusionPipeline.from_pretrained("user/tiny-pix2pix", trust_remote_code=True)
        image, mask = np.load("{tmp_path}/image.npy"), np.load("{tmp_path}/mask.npy")
        out = pipe(image, mask, generator=torch.manual_seed(0), output_type="np").images
        np.save("{tmp_path}/remote.npy", out)
        print(type(pipe).__module__)
        """,
        block_hf_gan=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "hf_gan_code" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "remote.npy"), expected.permute(0, 2, 3, 1).numpy(), atol=1e-6)


# -- training -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    images, labels = synthetic_digits()
    write_idx(folder, "train", images, labels, compress=False)
    return str(folder)


def test_training_resumes_to_the_uninterrupted_run_and_writes_an_image_to_image_card(digits, tmp_path):
    common = [*TINY_PIX2PIX, "--task", "restoration", "--checkpointing_steps", "2", "--checkpoints_total_limit", "4"]

    def run(name, *flags):
        train_gan.main(["--dataset_name", digits, "--output_dir", str(tmp_path / name), *common, *flags])
        return str(tmp_path / name)

    straight = run("straight", "--max_train_steps", "4")
    run("stopped", "--max_train_steps", "2")
    resumed = run("stopped", "--max_train_steps", "4", "--resume_from_checkpoint", "latest")
    a, b = weights(straight), weights(resumed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    card = open(os.path.join(straight, "README.md"), encoding="utf-8").read()
    assert "pipeline_tag: image-to-image" in card and "ImageToImageGANPipeline" in card
    pipe = ImageToImageGANPipeline.from_pretrained(straight)
    assert pipe.generator.config.mask_channel and pipe.discriminator is not None


def test_super_resolution_trains_a_smaller_input_and_bad_task_flags_fail_fast(digits, tmp_path):
    out = str(tmp_path / "sr")
    train_gan.main(
        ["--dataset_name", digits, "--output_dir", out, *TINY_PIX2PIX, "--task", "super_resolution", "--scale", "2"]
        + ["--max_train_steps", "2"]
    )
    pipe = ImageToImageGANPipeline.from_pretrained(out)
    assert pipe.generator.config.condition_size == 4
    assert pipe(np.zeros((4, 4)), output_type="np").images.shape == (1, 8, 8, 1)
    tuned = str(tmp_path / "tuned")  # fine-tuning starts from the saved G and D
    flags = [*TINY_PIX2PIX, "--task", "super_resolution", "--scale", "2", "--max_train_steps", "1"]
    train_gan.main(["--dataset_name", digits, "--output_dir", tuned, *flags, "--pretrained_model_name_or_path", out])
    tuned_config = ImageToImageGANPipeline.from_pretrained(tuned).generator.config
    assert {k: v for k, v in tuned_config.items() if k != "_name_or_path"} == {
        k: v for k, v in pipe.generator.config.items() if k != "_name_or_path"
    }
    with pytest.raises(ValueError, match="--model pix2pix and --task go together"):
        train_gan.main(["--dataset_name", digits, "--output_dir", out + "2", "--task", "denoising"])
    with pytest.raises(ValueError, match="--mask_type"):
        train_gan.main(
            ["--dataset_name", digits, "--output_dir", out + "3", *TINY_PIX2PIX, "--task", "inpainting"]
            + ["--mask_type", "box,circle"]
        )
    with pytest.raises(ValueError, match="--architecture and --diffaugment are for --model gan / cgan"):
        train_gan.main(
            ["--dataset_name", digits, "--output_dir", out + "5", *TINY_PIX2PIX, "--task", "denoising"]
            + ["--diffaugment", "color"]
        )
    with pytest.raises(ValueError, match="--d_steps 2: pix2pix alternates one D step and one G step"):
        train_gan.main(
            ["--dataset_name", digits, "--output_dir", out + "6", *TINY_PIX2PIX, "--task", "denoising"]
            + ["--d_steps", "2"]
        )
    with pytest.raises(ValueError, match="--streaming is for --model gan / cgan"):
        train_gan.main(
            ["--dataset_name", digits, "--output_dir", out + "4", *TINY_PIX2PIX, "--task", "denoising", "--streaming"]
        )


# -- latent search --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_restore_keeps_known_pixels_fits_the_rest_and_batches_like_one_by_one(kind):
    pipe = make_pipeline(kind)
    channels = pipe.generator.config.out_channels
    truth = pipe(
        **({"class_labels": [1, 2]} if kind == "cgan" else {"batch_size": 2}),
        generator=torch.manual_seed(5),
        output_type="pt",
    ).images
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 4:, :] = 1
    generators = [torch.Generator().manual_seed(i) for i in range(2)]
    restored = pipe.restore(truth, mask, num_steps=30, generator=generators, output_type="pt").images
    known = (1 - mask).bool().expand(2, channels, 8, 8)
    torch.testing.assert_close(restored[known], truth[known])
    # the search descends the error of the measured pixels: here, all of them
    start, fitted = (
        pipe.restore(truth, num_steps=steps, generator=generators, output_type="pt").images for steps in (0, 30)
    )
    assert ((fitted - truth) ** 2).mean() < 0.8 * ((start - truth) ** 2).mean()
    for i in range(2):
        one = pipe.restore(truth[i], mask, num_steps=30, generator=torch.Generator().manual_seed(i), output_type="pt")
        torch.testing.assert_close(one.images, restored[i : i + 1], rtol=1e-4, atol=1e-5)
    low = torch.nn.functional.avg_pool2d(truth, 2)
    assert pipe.restore(low, scale=2, num_steps=2, output_type="pt").images.shape == truth.shape
    with pytest.raises(ValueError, match=r"image must be 8x8 with"):
        pipe.restore(low, mask)


# -- how much of the class a corruption leaves (benchmarks/restoration_ceiling.py) -----------------------------------


def test_the_classifier_recipe_learns_from_the_corrupted_images_when_given_a_corruption(monkeypatch):
    """restoration_ceiling.py's estimate rests on train_classifier.fit applying `corrupt` to every batch it trains on.
    Two classes that differ in their bottom rows (bright or dark), and a corruption that inverts the bottom half: a
    classifier of the corrupted images must read a bright bottom as the other class."""
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "training"))
    from train_classifier import accuracy, fit

    from hf_gan.metrics.classifier import ImageClassifier

    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(128) % 2
    images = torch.rand(128, 1, 8, 8, generator=generator) * 0.2
    images[:, :, 5:] += labels[:, None, None, None] * 0.8
    invert_bottom = lambda x, _: torch.cat([x[:, :, :4], 1 - x[:, :, 4:]], dim=2)  # noqa: E731
    corrupted = invert_bottom(images, None)
    args = types.SimpleNamespace(epochs=6, batch_size=16, lr=3e-3)
    scores = {}
    for name, corrupt in (("trained on clean", None), ("trained on corrupted", invert_bottom)):
        torch.manual_seed(0)
        model = ImageClassifier(width=4, feature_dim=8, num_classes=2, sample_size=8, mean=0.4, std=0.4)
        fit(model, images, labels, args, torch.Generator().manual_seed(0), lambda: 0.0, corrupt)
        scores[name] = accuracy(model, corrupted, labels)
    assert scores["trained on corrupted"] > 0.95, scores
    # the clean recipe reads the inverted classes the wrong way round, or as one class (0.0 to 0.5 over six seeds)
    assert scores["trained on clean"] <= 0.55, scores
