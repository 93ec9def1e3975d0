"""Latent controls (truncation, interpolation), pipeline argument errors, pictures, and `hf-gan generate`."""

import os
import re

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import images_pt, make_pipeline

from hf_gan import DCGANGenerator, GANPipeline
from hf_gan.cli import main
from hf_gan.pipelines.pipeline_utils import slerp
from hf_gan.visuals import interpolation_strip, labelled_grid, sample_images, save_images


SCALE = 3


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def infogan_pipeline(code_size=4):
    torch.manual_seed(0)
    generator = DCGANGenerator(
        latent_dim=8, sample_size=8, base_channels=4, categorical_code=code_size, class_conditional_norm=True
    ).eval()
    return GANPipeline(generator)


# -- truncation --------------------------------------------------------------------------------------------------


def test_truncation_scales_the_latents_towards_the_mean(kind):
    pipe = make_pipeline(kind)
    latent_dim = (pipe.generator if kind != "autoencoder" else pipe.autoencoder).config.latent_dim
    drawn = torch.randn(3, latent_dim, generator=seeded(0))
    truncated = images_pt(pipe, kind, seed=0, truncation=0.5)
    assert torch.allclose(truncated, images_pt(pipe, kind, seed=0, latents=0.5 * drawn), atol=1e-6)
    assert torch.equal(images_pt(pipe, kind, seed=0, truncation=1.0), images_pt(pipe, kind, seed=0))
    # psi = 0: every seed gives the mean latent's image
    assert torch.allclose(images_pt(pipe, kind, seed=0, truncation=0.0), images_pt(pipe, kind, seed=1, truncation=0.0))
    assert not torch.allclose(images_pt(pipe, kind, seed=0), images_pt(pipe, kind, seed=1))


def test_truncation_keeps_an_infogan_code():
    pipe = infogan_pipeline()
    latents = torch.randn(4, 8, generator=seeded(0))
    expected = latents.clone()
    expected[:, :4] *= 0.0
    out = pipe(4, latents=latents, truncation=0.0, output_type="pt").images
    assert torch.equal(out, pipe(4, latents=expected, output_type="pt").images)
    assert len({tuple(image.flatten().tolist()) for image in out}) == len(set(latents[:, 4:].argmax(1).tolist()))


@pytest.mark.parametrize("truncation", [-0.1, 1.5, float("nan"), "0.5", True])
def test_truncation_out_of_range(kind, truncation):
    pipe = make_pipeline(kind)
    args = {"class_labels": [0]} if kind == "cgan" else {}
    with pytest.raises(ValueError, match=r"truncation must be a number in \[0, 1\]"):
        pipe(**args, truncation=truncation)


# -- interpolation ------------------------------------------------------------------------------------------------


def test_slerp_keeps_the_norm_of_equal_norm_ends_and_hits_both():
    start, end = torch.randn(16, generator=seeded(0)), torch.randn(16, generator=seeded(1))
    end = end / end.norm() * start.norm()
    path = slerp(start, end, torch.linspace(0, 1, 7))
    assert torch.allclose(path[0], start, atol=1e-6) and torch.allclose(path[-1], end, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), start.norm().expand(7), atol=1e-5)  # a straight line dips inside


def test_interpolation_ends_are_the_seeds_images(kind):
    pipe = make_pipeline(kind)
    args = {"class_labels": [1]} if kind == "cgan" else {}
    frames = pipe.interpolate(3, 4, num_frames=5, output_type="pt", **args).images
    assert frames.shape[0] == 5
    for index, seed in ((0, 3), (-1, 4)):
        single = pipe(**(args or {"batch_size": 1}), generator=seeded(seed), output_type="pt").images[0]
        assert torch.allclose(frames[index], single, atol=1e-5)
    assert not torch.allclose(frames[2], frames[0], atol=1e-3)


def test_cgan_label_blend_goes_from_one_class_to_the_other():
    pipe = make_pipeline("cgan")
    frames = pipe.interpolate(0, 0, class_labels=["cat", "bird"], num_frames=5, output_type="pt").images
    cat = pipe(class_labels=["cat"], generator=seeded(0), output_type="pt").images[0]
    bird = pipe(class_labels=["bird"], generator=seeded(0), output_type="pt").images[0]
    assert torch.allclose(frames[0], cat, atol=1e-5) and torch.allclose(frames[-1], bird, atol=1e-5)
    middle = frames[2]  # the same latent throughout: only the label moves
    assert not torch.allclose(middle, cat, atol=1e-3) and not torch.allclose(middle, bird, atol=1e-3)
    with pytest.raises(ValueError, match="one class .fixed. or two"):
        pipe.interpolate(0, 1, class_labels=[0, 1, 2])


def test_infogan_interpolation_switches_the_code_once_half_way():
    pipe = infogan_pipeline()
    start, end = torch.zeros(8), torch.zeros(8)
    start[:4], end[:4] = torch.randn(4, generator=seeded(0)), torch.randn(4, generator=seeded(1))
    # codes 1 and 2; blending the code entries would pass through code 3 mid-way
    start[4:], end[4:] = torch.tensor([0, 5, 0, 4.9]), torch.tensor([0, 0, 5, 4.9])
    latents, _ = pipe.interpolation_latents(start, end, 6, pipe.generator)
    assert latents[:, 4:].argmax(1).tolist() == [1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize("num_frames", [1, 0, -3, 2.5])
def test_bad_frame_counts(num_frames):
    with pytest.raises(ValueError, match="num_frames must be an integer of at least 2"):
        make_pipeline("gan").interpolate(0, 1, num_frames=num_frames)


def test_bad_interpolation_ends():
    with pytest.raises(TypeError, match="start must be a seed .an integer. or a float tensor of 8 latents"):
        make_pipeline("gan").interpolate("zero", 1)


# -- class_labels, generator and image arguments (issues 12, 13) -----------------------------------------------------


def test_numpy_class_labels_are_accepted():
    pipe = make_pipeline("cgan")
    expected = pipe(class_labels=[2], generator=seeded(0), output_type="pt").images
    assert torch.equal(pipe(class_labels=np.int64(2), generator=seeded(0), output_type="pt").images, expected)
    pair = pipe(class_labels=np.array([2, 0]), generator=seeded(0), output_type="pt").images
    assert torch.equal(pair, pipe(class_labels=[2, 0], generator=seeded(0), output_type="pt").images)


@pytest.mark.parametrize(
    "labels,error,message",
    [
        (3.0, ValueError, r"Unknown class label 3.0 \(class ids are integers\): use a class id in 0..2"),
        (None, ValueError, r"class_labels is required: class ids in 0..2 or names from \['cat', 'dog', 'bird'\]"),
        (np.array([0.0, 1.0]), TypeError, "class_labels as a ndarray must be 0-d or 1-d integers .*float64"),
        (np.array([[0, 1]]), TypeError, r"must be 0-d or 1-d integers .*\(1, 2\)"),
        ({0: 1}, TypeError, "class_labels must be a class id or name, or a list"),
    ],
)
def test_bad_class_labels_get_a_clear_error(labels, error, message):
    with pytest.raises(error, match=message):
        make_pipeline("cgan")(class_labels=labels)


def test_an_integer_generator_is_refused_with_the_fix(kind):
    pipe = make_pipeline(kind)
    args = {"class_labels": [0]} if kind == "cgan" else {}
    with pytest.raises(
        TypeError, match=r"generator must be a torch.Generator .*pass torch.Generator\(\).manual_seed\(0\)"
    ):
        pipe(**args, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        pipe(**args, generator=[5])


def test_autoencoder_encode_takes_one_image_and_uint8():
    pipe = make_pipeline("autoencoder")
    batch = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    expected = pipe.encode(batch)
    assert torch.allclose(pipe.encode(batch[0]), expected[:1], atol=1e-6)  # (H, W, C)
    assert torch.allclose(pipe.encode(batch[0, :, :, 0]), expected[:1], atol=1e-6)  # (H, W), one channel
    as_uint8 = np.round(batch * 255).astype(np.uint8)
    assert torch.allclose(pipe.encode(as_uint8), pipe.encode(as_uint8 / np.float32(255)), atol=1e-6)
    assert torch.allclose(
        pipe.encode(torch.from_numpy(as_uint8).permute(0, 3, 1, 2)), pipe.encode(as_uint8), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\], got values from 1 to 254: divide"):
        pipe.encode(as_uint8.astype(np.float32))
    with pytest.raises(TypeError, match="floats in .0, 1. or uint8 in 0..255, got torch.int64"):
        pipe.encode(as_uint8.astype(np.int64))


# -- pictures ---------------------------------------------------------------------------------------------------


def test_sample_images_use_seed_plus_column():
    pipe = make_pipeline("cgan")
    images, rows = sample_images(pipe, ["dog", 0], num_images=3, seed=5, truncation=0.7)
    assert rows == ["dog", "cat"] and len(images) == 6
    alone = pipe(class_labels=[0], generator=seeded(7), truncation=0.7, output_type="np").images[0]
    assert np.array_equal(
        np.asarray(images[5]), np.asarray(PIL.Image.fromarray((alone * 255).round().astype(np.uint8)))
    )


def test_labelled_grid_is_upscaled_with_a_label_column():
    pipe = make_pipeline("cgan")
    images, rows = sample_images(pipe, None, num_images=4)
    grid = labelled_grid(images, 4, rows, scale=SCALE)
    cell = 8 * SCALE
    assert grid.height == 3 * cell and grid.width > 4 * cell
    label_width = grid.width - 4 * cell
    pixels = np.asarray(grid)
    assert pixels[:, :label_width].max() > 0  # the names are drawn
    first = np.asarray(images[0].resize((cell, cell), PIL.Image.Resampling.NEAREST))
    assert np.array_equal(pixels[:cell, label_width : label_width + cell], first)
    assert np.array_equal(np.asarray(labelled_grid(images, 4, None, scale=SCALE)), pixels[:, label_width:])
    assert interpolation_strip(images[:5], scale=2).size == (5 * 16, 16)


def test_save_images_leaves_no_half_written_file(tmp_path):
    image = PIL.Image.new("L", (4, 4))
    (tmp_path / "taken.png").mkdir()  # os.replace cannot put a file there
    with pytest.raises(OSError, match="Cannot write .*taken.png.*No partial file was left"):
        save_images({str(tmp_path / "first.png"): (image, {}), str(tmp_path / "taken.png"): (image, {})})
    assert sorted(os.listdir(tmp_path)) == ["first.png", "taken.png"]  # first.png was complete before the failure
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".hf_gan-")]

    class Failing:  # a save that dies half-way
        def save(self, file, **_):
            file.write(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_images({str(tmp_path / "never.png"): (Failing(), {})})
    assert not (tmp_path / "never.png").exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".hf_gan-")]


# -- hf-gan generate --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_cgan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cgan")
    make_pipeline("cgan").save_pretrained(folder)
    return folder


def generate(*args):
    return main(["generate", *map(str, args)])


def test_generate_one_image_reproduces_the_pipeline(saved_cgan, tmp_path):
    output = tmp_path / "dog.png"
    generate(saved_cgan, "--labels", "dog", "--seed", 4, "--truncation", 0.8, "--scale", SCALE, "--output", output)
    pipe = make_pipeline("cgan")
    expected = pipe(class_labels=["dog"], generator=seeded(4), truncation=0.8).images[0]
    written = PIL.Image.open(output)
    assert written.size == (8 * SCALE, 8 * SCALE)
    assert np.array_equal(np.asarray(written)[::SCALE, ::SCALE], np.asarray(expected))


def test_generate_folder_grid_and_interpolation(saved_cgan, tmp_path):
    generate(saved_cgan, "--labels", "2,cat", "--num_images", 2, "--output", tmp_path / "out", "--grid")
    assert sorted(os.listdir(tmp_path / "out")) == [
        "bird_seed0.png",
        "bird_seed1.png",
        "cat_seed0.png",
        "cat_seed1.png",
        "grid.png",
    ]
    assert PIL.Image.open(tmp_path / "out" / "grid.png").height == 2 * 8 * 4
    generate(
        saved_cgan, "--interpolate", 0, 1, "--frames", 4, "--labels", "cat,dog", "--output", tmp_path / "path.webp"
    )
    animation = PIL.Image.open(tmp_path / "path.webp")
    assert animation.n_frames == 6  # forth and back
    assert PIL.Image.open(tmp_path / "path.png").size == (4 * 8 * 4, 8 * 4)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--labels", "horse"], r"Unknown class label 'horse': .*names \['cat', 'dog', 'bird'\]"),
        (["--truncation", "1.5"], r"truncation must be a number in \[0, 1\]"),
        (["--interpolate", "0", "1", "--frames", "-2"], "--frames must be at least 2"),
        (["--num_images", "3"], "3 images do not fit one PNG"),
    ],
)
def test_generate_bad_input(saved_cgan, tmp_path, capsys, args, message):
    output = tmp_path / "out.png"
    with pytest.raises(SystemExit) as exit_info:
        generate(saved_cgan, "--output", output, "--labels", "cat", *args)
    assert exit_info.value.code != 0
    assert re.search(message, str(exit_info.value.code))
    assert os.listdir(tmp_path) == []


def test_generate_checks_arguments_before_loading_the_model(tmp_path):
    with pytest.raises(SystemExit, match=r"truncation must be a number in \[0, 1\]"):
        generate(tmp_path / "no-such-model", "--truncation", 2)
    with pytest.raises(SystemExit, match="--frames must be at least 2"):
        generate(tmp_path / "no-such-model", "--interpolate", 0, 1, "--frames", 0)


def test_generate_unwritable_output_keeps_what_was_there(saved_cgan, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    with pytest.raises(SystemExit, match="Cannot write to .*a_file: it is a file, not a folder"):
        generate(saved_cgan, "--labels", "cat", "--output", blocker / "out.png")
    (tmp_path / "existing.png").mkdir()
    with pytest.raises(SystemExit, match="Cannot write .*existing.png"):
        generate(saved_cgan, "--labels", "cat", "--output", tmp_path / "existing.png")
    assert blocker.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["a_file", "existing.png"]
    assert os.listdir(tmp_path / "existing.png") == []


def test_generate_restores_an_image_file_with_a_mask(tmp_path):
    """`hf-gan generate MODEL --image FILE --mask FILE` writes the pipeline's restoration, upscaled; a GAN restores by
    latent search; a missing file is named and nothing is written."""
    from test_image_to_image import make_i2i_pipeline

    pipe = make_i2i_pipeline(mask_channel=True)
    pipe.save_pretrained(tmp_path / "model")
    digit = PIL.Image.fromarray(np.random.default_rng(1).integers(0, 255, (8, 8), dtype=np.uint8))
    mask = PIL.Image.fromarray(np.tril(np.full((8, 8), 255, dtype=np.uint8)))
    digit.save(tmp_path / "digit.png")
    mask.save(tmp_path / "mask.png")
    out = tmp_path / "restored.png"
    main(
        [
            "generate",
            str(tmp_path / "model"),
            "--image",
            str(tmp_path / "digit.png"),
            "--mask",
            str(tmp_path / "mask.png"),
        ]
        + ["--seed", "2", "--scale", "2", "--output", str(out)]
    )
    expected = pipe(digit, mask, generator=torch.Generator().manual_seed(2)).images[0]
    assert np.array_equal(np.asarray(PIL.Image.open(out))[::2, ::2], np.asarray(expected))
    make_pipeline("gan").save_pretrained(tmp_path / "gan")
    gan_out = tmp_path / "gan.png"
    main(
        ["generate", str(tmp_path / "gan"), "--image", str(tmp_path / "digit.png"), "--steps", "2", "--scale", "1"]
        + ["--output", str(gan_out)]
    )
    assert PIL.Image.open(gan_out).size == (8, 8)
    with pytest.raises(SystemExit, match="Cannot read the --mask .*nothing.png"):
        main(
            ["generate", str(tmp_path / "model"), "--image", str(tmp_path / "digit.png"), "--mask"]
            + [str(tmp_path / "nothing.png"), "--output", str(tmp_path / "never.png")]
        )
    assert not (tmp_path / "never.png").exists()
