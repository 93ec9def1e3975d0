"""The checks diffusers' PipelineTesterMixin applies, for each hf_gan pipeline, on tiny seeded models."""

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import NUM_CLASSES, PIPELINE_CLASSES, call_args, images_pt, make_pipeline
from diffusers import ImagePipelineOutput

from hf_gan import ConditionalGANPipeline, GANPipeline


def test_save_load_local_round_trip_gives_identical_images(kind, tmp_path):
    pipe = make_pipeline(kind)
    pipe.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*.safetensors"))  # weights are safetensors
    assert not list(tmp_path.rglob("*.bin"))
    loaded = PIPELINE_CLASSES[kind].from_pretrained(tmp_path)
    torch.testing.assert_close(images_pt(loaded, kind), images_pt(pipe, kind), rtol=0, atol=0)


def test_discriminator_is_optional_and_saved_when_present(tmp_path):
    pipe = make_pipeline("gan")
    pipe.save_pretrained(tmp_path / "with")
    assert GANPipeline.from_pretrained(tmp_path / "with").discriminator is not None
    GANPipeline(pipe.generator).save_pretrained(tmp_path / "without")
    loaded = GANPipeline.from_pretrained(tmp_path / "without")
    assert loaded.discriminator is None
    torch.testing.assert_close(images_pt(loaded, "gan"), images_pt(pipe, "gan"), rtol=0, atol=0)


def test_list_of_generators_equals_images_generated_one_by_one(kind):
    pipe = make_pipeline(kind)
    batch = pipe(
        **call_args(kind, 3), generator=[torch.Generator().manual_seed(s) for s in (1, 2, 3)], output_type="pt"
    ).images
    for i, seed in enumerate((1, 2, 3)):
        args = {"class_labels": [i % NUM_CLASSES]} if kind == "cgan" else {"batch_size": 1}
        single = pipe(**args, generator=torch.manual_seed(seed), output_type="pt").images
        torch.testing.assert_close(batch[i : i + 1], single, rtol=1e-5, atol=1e-5)


def test_same_seed_same_images_other_seed_other_images(kind):
    pipe = make_pipeline(kind)
    first, again, other = images_pt(pipe, kind, seed=0), images_pt(pipe, kind, seed=0), images_pt(pipe, kind, seed=1)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert (first - other).abs().max() > 1e-3


def test_latents_argument_reproduces_seeded_sampling(kind):
    pipe = make_pipeline(kind)
    latent_dim = (pipe.autoencoder if kind == "autoencoder" else pipe.generator).config.latent_dim
    latents = torch.randn(3, latent_dim, generator=torch.manual_seed(0))
    from_latents = pipe(**call_args(kind, 3), latents=latents, output_type="pt").images
    torch.testing.assert_close(from_latents, images_pt(pipe, kind, seed=0), rtol=0, atol=0)


def test_dict_and_tuple_outputs_agree(kind):
    pipe = make_pipeline(kind)
    as_dict = pipe(**call_args(kind, 2), generator=torch.manual_seed(0), output_type="np")
    as_tuple = pipe(**call_args(kind, 2), generator=torch.manual_seed(0), output_type="np", return_dict=False)
    assert isinstance(as_dict, ImagePipelineOutput) and isinstance(as_tuple, tuple) and len(as_tuple) == 1
    np.testing.assert_array_equal(as_dict.images, as_tuple[0])


def test_bfloat16_and_back(kind):
    pipe = make_pipeline(kind)
    reference = images_pt(pipe, kind)
    pipe.to(torch.bfloat16)
    assert all(m.dtype == torch.bfloat16 for m in pipe.components.values() if m is not None)
    low_precision = images_pt(pipe, kind)
    assert low_precision.dtype == torch.float32 and torch.isfinite(low_precision).all()
    assert (low_precision - reference).abs().max() < 0.1  # same noise, bf16 rounding only
    pipe.to(torch.float32)
    torch.testing.assert_close(images_pt(pipe, kind), reference, rtol=1e-2, atol=1e-2)


def test_output_types_shapes_ranges_dtypes(kind):
    pipe = make_pipeline(kind)
    config = (pipe.autoencoder if kind == "autoencoder" else pipe.generator).config
    channels = config.channels if kind == "autoencoder" else config.out_channels
    size = config.sample_size

    pt = images_pt(pipe, kind, count=2)
    assert pt.shape == (2, channels, size, size) and pt.dtype == torch.float32
    assert 0 <= pt.min() and pt.max() <= 1 and pt.std() > 0

    np_images = pipe(**call_args(kind, 2), generator=torch.manual_seed(0), output_type="np").images
    assert isinstance(np_images, np.ndarray) and np_images.shape == (2, size, size, channels)
    assert np_images.dtype == np.float32 and 0 <= np_images.min() and np_images.max() <= 1
    np.testing.assert_allclose(np_images, pt.permute(0, 2, 3, 1).numpy(), atol=1e-6)

    pil = pipe(**call_args(kind, 2), generator=torch.manual_seed(0)).images
    assert len(pil) == 2 and all(isinstance(im, PIL.Image.Image) for im in pil)
    assert pil[0].size == (size, size) and pil[0].mode == ("L" if channels == 1 else "RGB")
    np.testing.assert_allclose(np.asarray(pil[0], dtype=np.float32) / 255, np_images[0].squeeze(), atol=1 / 255 + 1e-6)


def test_conditional_labels_by_id_or_name_and_images_per_label(tmp_path):
    pipe = make_pipeline("cgan")
    by_id = pipe(class_labels=[2, 0], num_images_per_label=2, generator=torch.manual_seed(0), output_type="pt").images
    by_name = pipe(
        class_labels=["bird", "cat"], num_images_per_label=2, generator=torch.manual_seed(0), output_type="pt"
    ).images
    torch.testing.assert_close(by_id, by_name, rtol=0, atol=0)
    assert by_id.shape[0] == 4
    # order is label-major: [2, 2, 0, 0]; the same noise with another label gives another image
    same_noise = torch.randn(4, 8, generator=torch.manual_seed(0))
    as_listed = pipe(class_labels=[2, 2, 0, 0], latents=same_noise, output_type="pt").images
    torch.testing.assert_close(as_listed, by_id, rtol=0, atol=0)
    swapped = pipe(class_labels=[0, 0, 2, 2], latents=same_noise, output_type="pt").images
    assert (swapped - by_id).abs().max() > 1e-3
    assert pipe.get_label_ids(torch.tensor([1, 2])) == [1, 2]

    pipe.save_pretrained(tmp_path)
    loaded = ConditionalGANPipeline.from_pretrained(tmp_path)
    assert loaded.id2label == {0: "cat", 1: "dog", 2: "bird"}
    assert loaded.get_label_ids(["dog"]) == [1]


def test_autoencoder_encode_then_decode_is_reconstruct():
    pipe = make_pipeline("autoencoder")
    images = pipe(batch_size=3, generator=torch.manual_seed(0), output_type="pt").images
    latents = pipe.encode(images)
    assert latents.shape == (3, 4)
    decoded = pipe(batch_size=3, latents=latents, output_type="pt").images
    reconstructed = pipe.reconstruct(images, output_type="pt").images
    torch.testing.assert_close(decoded, reconstructed, rtol=1e-4, atol=1e-4)
    # PIL and numpy inputs give the same encoding as tensors in [0, 1]
    as_pil = pipe(batch_size=3, generator=torch.manual_seed(0)).images
    torch.testing.assert_close(pipe.encode(as_pil), pipe.encode(torch.round(images * 255) / 255), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(pipe.encode(images.permute(0, 2, 3, 1).numpy()), latents, rtol=1e-5, atol=1e-5)


def test_autoencoder_prior_matches_fitted_codes():
    pipe = make_pipeline("autoencoder")
    codes = torch.randn(4000, 4) @ torch.tensor([[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 3]]) + 5
    pipe.autoencoder.fit_latent_prior(codes)
    sampled = pipe.autoencoder.noise_to_codes(torch.randn(20000, 4, generator=torch.manual_seed(0)))
    torch.testing.assert_close(sampled.mean(0), codes.mean(0), atol=0.1, rtol=0)
    torch.testing.assert_close(torch.cov(sampled.T), torch.cov(codes.T), atol=0.25, rtol=0.05)
    torch.testing.assert_close(
        pipe.autoencoder.codes_to_noise(pipe.autoencoder.noise_to_codes(codes[:5])), codes[:5], atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("sample_size,channels", [(28, 1), (32, 3), (64, 3), (16, 1)])
def test_models_support_mnist_and_power_of_two_sizes(sample_size, channels):
    from hf_gan import DCGANDiscriminator, DCGANGenerator

    for conditioning, extra_layers in (("projection", 0), ("concat", 0), ("projection", 2)):
        generator = DCGANGenerator(
            latent_dim=8, sample_size=sample_size, out_channels=channels, base_channels=4, num_classes=10
        )
        discriminator = DCGANDiscriminator(
            sample_size=sample_size,
            in_channels=channels,
            base_channels=4,
            num_classes=10,
            conditioning=conditioning,
            extra_layers=extra_layers,
        )
        labels = torch.tensor([0, 9])
        images = generator(torch.randn(2, 8), labels)
        assert images.shape == (2, channels, sample_size, sample_size)
        assert discriminator(images, labels).shape == (2,)


def test_unsupported_image_size_is_a_clear_error():
    from hf_gan import DCGANGenerator

    with pytest.raises(ValueError, match="sample_size=30 is not supported"):
        DCGANGenerator(sample_size=30)


def test_discriminator_extra_layers_widen_what_each_feature_sees():
    """At 28 px the strided convolutions give each 7x7 feature a 10x10-pixel view; two extra 3x3 layers widen the
    centre feature's view to 26x26, so the discriminator can judge a digit's overall shape."""
    from hf_gan.models.blocks import ConvEncoder

    def view_of_centre_feature(extra_layers):
        feature_map = ConvEncoder(1, 28, 4, "spectral", extra_layers).eval().layers[:-1]  # without the Flatten
        images = torch.rand(1, 1, 28, 28, generator=torch.manual_seed(0), requires_grad=True)
        feature_map(images)[0, :, 3, 3].sum().backward()
        seen = images.grad[0, 0] != 0
        rows, cols = seen.any(1).nonzero(), seen.any(0).nonzero()
        return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)

    assert view_of_centre_feature(0) == (10, 10)
    assert view_of_centre_feature(2) == (26, 26)


def test_categorical_code_is_the_argmax_of_the_last_latents_and_uniform():
    from hf_gan import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    generator = DCGANGenerator(
        latent_dim=8, sample_size=8, base_channels=4, categorical_code=3, class_conditional_norm=True
    ).eval()
    latents = torch.randn(1, 8).repeat(3, 1)
    latents[:, 5:] = torch.eye(3)  # same Gaussian part, codes 0, 1, 2
    images = generator(latents)
    assert not torch.allclose(images[0], images[1]) and not torch.allclose(images[1], images[2])
    rescaled = latents.clone()
    rescaled[:, 5:] = latents[:, 5:] * 4 - 1  # other values, the same argmax: only the argmax counts
    assert torch.equal(generator(rescaled), images)
    _, codes = generator.split_code(torch.randn(30_000, 8, generator=torch.manual_seed(1)))
    assert (torch.bincount(codes, minlength=3) / 30_000 - 1 / 3).abs().max() < 0.015
    # an unconditional pipeline draws the code with the rest of the latents
    assert GANPipeline(generator)(batch_size=2, output_type="pt").images.shape == (2, 1, 8, 8)

    discriminator = DCGANDiscriminator(sample_size=8, base_channels=4, categorical_code=3)
    logits, code_logits = discriminator(images, return_code_logits=True)
    assert logits.shape == (3,) and code_logits.shape == (3, 3)
    with pytest.raises(ValueError, match="return_class_logits needs .*auxiliary_classifier"):
        discriminator(images, return_class_logits=True)  # InfoGAN's head reads the code, not a class
    with pytest.raises(ValueError, match="class label .* or a categorical code, not both"):
        DCGANGenerator(num_classes=10, categorical_code=10)
    with pytest.raises(ValueError, match="below latent_dim"):
        DCGANGenerator(latent_dim=8, categorical_code=8)
    with pytest.raises(ValueError, match="not both"):
        DCGANDiscriminator(num_classes=10, auxiliary_classifier=True, categorical_code=10)
