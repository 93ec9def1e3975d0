"""Each kind of bad input gets a clear error that names the problem."""

import json
import sys

import pytest
import torch
from conftest import call_args, make_pipeline
from safetensors.torch import save_file

from hf_gan import ConditionalGANPipeline, DCGANGenerator, GANPipeline


WEIGHTS = "generator/diffusion_pytorch_model.safetensors"


@pytest.fixture
def saved_gan(tmp_path):
    make_pipeline("gan").save_pretrained(tmp_path)
    return tmp_path


def test_model_index_naming_a_foreign_class_is_refused_without_importing_it(saved_gan, tmp_path_factory):
    module_dir = tmp_path_factory.mktemp("modules")
    (module_dir / "planted_module.py").write_text("raise SystemExit('planted_module was imported')\n")
    sys.path.insert(0, str(module_dir))
    try:
        index = json.loads((saved_gan / "model_index.json").read_text())
        index["generator"] = ["planted_module", "Generator"]
        (saved_gan / "model_index.json").write_text(json.dumps(index))
        with pytest.raises(
            ValueError, match="declares component 'generator' as .*planted_module.*Nothing was imported"
        ):
            GANPipeline.from_pretrained(saved_gan)
        assert "planted_module" not in sys.modules
    finally:
        sys.path.remove(str(module_dir))


def test_model_index_with_another_hf_gan_pipeline_names_the_right_class(saved_gan):
    with pytest.raises(ValueError, match="holds a 'GANPipeline', not a ConditionalGANPipeline"):
        ConditionalGANPipeline.from_pretrained(saved_gan)


def test_folder_without_model_index_and_broken_json(tmp_path_factory, saved_gan):
    with pytest.raises(OSError, match="without model_index.json"):
        GANPipeline.from_pretrained(tmp_path_factory.mktemp("empty"))
    (saved_gan / "model_index.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        GANPipeline.from_pretrained(saved_gan)


def test_truncated_weights(saved_gan):
    path = saved_gan / WEIGHTS
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(OSError, match="(?s)Could not load DCGANGenerator .*truncated or tampered"):
        GANPipeline.from_pretrained(saved_gan)


def test_tampered_weight_header(saved_gan):
    path = saved_gan / WEIGHTS
    data = bytearray(path.read_bytes())
    data[8:20] = b"#!tampered!#"  # inside the JSON header
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="truncated or tampered"):
        GANPipeline.from_pretrained(saved_gan)


def test_weights_with_a_dtype_trick_or_wrong_shapes_do_not_load(saved_gan):
    config_path = saved_gan / "generator" / "config.json"
    config = json.loads(config_path.read_text())
    config["base_channels"] = 8  # config no longer matches the weights' shapes
    config_path.write_text(json.dumps(config))
    with pytest.raises((ValueError, RuntimeError), match="Could not load DCGANGenerator"):
        GANPipeline.from_pretrained(saved_gan)


def test_pickled_weights_are_never_loaded(saved_gan):
    (saved_gan / WEIGHTS).unlink()
    torch.save(
        DCGANGenerator(latent_dim=8, sample_size=8, base_channels=4).state_dict(),
        saved_gan / "generator" / "diffusion_pytorch_model.bin",
    )
    with pytest.raises(OSError, match="Could not load DCGANGenerator"):
        GANPipeline.from_pretrained(saved_gan)
    with pytest.raises(ValueError, match="safetensors weights only"):
        GANPipeline.from_pretrained(saved_gan, use_safetensors=False)


def test_missing_tensor_in_weights(saved_gan):
    from safetensors.torch import load_file

    state = load_file(saved_gan / WEIGHTS)
    state.pop(next(iter(state)))
    save_file(state, saved_gan / WEIGHTS)
    with pytest.raises((ValueError, RuntimeError, OSError), match="Could not load DCGANGenerator"):
        GANPipeline.from_pretrained(saved_gan)


@pytest.mark.parametrize(
    "labels,message",
    [
        ([3], "Unknown class label 3: use a class id in 0..2 or one of the names"),
        ([-1], "Unknown class label -1"),
        (["horse"], "Unknown class label 'horse'"),
        ([1.0], "Unknown class label 1.0"),
        ([True], "Unknown class label True"),
        ([], "class_labels is empty"),
    ],
)
def test_bad_class_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        make_pipeline("cgan")(class_labels=labels)


def test_bad_class_label_tensors():
    pipe = make_pipeline("cgan")
    with pytest.raises(TypeError, match="must be 0-d or 1-d integers"):
        pipe(class_labels=torch.tensor([0.5]))
    with pytest.raises(ValueError, match="Unknown class label 7"):
        pipe(class_labels=torch.tensor([7]))


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, True])
def test_bad_batch_size(kind, batch_size):
    pipe = make_pipeline(kind)
    args = {"class_labels": [0], "num_images_per_label": batch_size} if kind == "cgan" else {"batch_size": batch_size}
    with pytest.raises(ValueError, match="must be a positive integer"):
        pipe(**args)


def test_bad_latents(kind):
    pipe = make_pipeline(kind)
    with pytest.raises(ValueError, match=r"latents must have shape \(2, "):
        pipe(**call_args(kind, 2), latents=torch.randn(2, 99))
    with pytest.raises(ValueError, match=r"latents must have shape \(2, "):
        pipe(**call_args(kind, 2), latents=torch.randn(3, 8))
    with pytest.raises(TypeError, match="latents must be a floating-point torch.Tensor"):
        pipe(**call_args(kind, 2), latents=torch.zeros(2, 8, dtype=torch.long))


def test_bad_output_type_and_generator_list(kind):
    pipe = make_pipeline(kind)
    with pytest.raises(ValueError, match="output_type='latent' is not supported: use one of"):
        pipe(**call_args(kind, 2), output_type="latent")
    with pytest.raises(ValueError, match="list of 1 generators, but 2 images were requested"):
        pipe(**call_args(kind, 2), generator=[torch.Generator()])


def test_wrong_pipeline_for_model_and_bad_id2label():
    conditional = make_pipeline("cgan").generator
    unconditional = make_pipeline("gan").generator
    with pytest.raises(ValueError, match="class-conditional: use ConditionalGANPipeline"):
        GANPipeline(conditional)
    with pytest.raises(ValueError, match="unconditional: use GANPipeline"):
        ConditionalGANPipeline(unconditional)
    with pytest.raises(ValueError, match="id2label must name each class id 0..2 once"):
        ConditionalGANPipeline(conditional, id2label={0: "a", 1: "b"})


def test_bad_autoencoder_images():
    pipe = make_pipeline("autoencoder")
    with pytest.raises(ValueError, match=r"images must be 8x8 with 1 channel\(s\): .*got shape \(2, 3, 8, 8\)"):
        pipe.encode(torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="images must be PIL images, a numpy array or a torch.Tensor"):
        pipe.encode("not an image")


def test_models_demand_labels_exactly_when_conditional():
    conditional, unconditional = make_pipeline("cgan").generator, make_pipeline("gan").generator
    with pytest.raises(ValueError, match="is conditional .*pass class_labels"):
        conditional(torch.randn(1, 8))
    with pytest.raises(ValueError, match="is unconditional: do not pass class_labels"):
        unconditional(torch.randn(1, 8), torch.tensor([0]))


def test_class_logits_need_an_auxiliary_classifier():
    discriminator = make_pipeline("cgan").discriminator
    with pytest.raises(ValueError, match="needs a discriminator built with auxiliary_classifier=True"):
        discriminator(torch.zeros(1, 3, 8, 8), torch.tensor([0]), return_class_logits=True)
