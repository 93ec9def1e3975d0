"""Round trips through the real huggingface_hub client and a local Hub server over HTTP (see conftest.py)."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import HUB_STATE, PIPELINE_CLASSES, images_pt, make_pipeline
from huggingface_hub import HfApi

from hf_gan import ConditionalGANPipeline, GANPipeline


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (so huggingface_hub reads the environment anew)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_push_to_hub_then_from_pretrained_by_repo_id(kind):
    pipe = make_pipeline(kind)
    repo_id = f"user/tiny-{kind}"
    pipe.push_to_hub(repo_id)
    files = {f.rfilename for f in HfApi().model_info(repo_id).siblings}
    assert "model_index.json" in files and any(f.endswith(".safetensors") for f in files)
    assert not any(f.endswith(".bin") for f in files)
    loaded = PIPELINE_CLASSES[kind].from_pretrained(repo_id)
    torch.testing.assert_close(images_pt(loaded, kind), images_pt(pipe, kind), rtol=0, atol=0)


def test_revisions_torch_dtype_and_offline_cache():
    repo_id = "user/revisions"
    first, second = make_pipeline("cgan", seed=1), make_pipeline("cgan", seed=2)
    first.push_to_hub(repo_id)
    first_commit = HfApi().model_info(repo_id).sha
    second.push_to_hub(repo_id)
    assert HfApi().model_info(repo_id).sha != first_commit

    latest = ConditionalGANPipeline.from_pretrained(repo_id)
    pinned = ConditionalGANPipeline.from_pretrained(repo_id, revision=first_commit)
    torch.testing.assert_close(images_pt(latest, "cgan"), images_pt(second, "cgan"), rtol=0, atol=0)
    torch.testing.assert_close(images_pt(pinned, "cgan"), images_pt(first, "cgan"), rtol=0, atol=0)

    half = ConditionalGANPipeline.from_pretrained(repo_id, torch_dtype=torch.bfloat16)
    assert half.generator.dtype == torch.bfloat16
    assert (images_pt(half, "cgan") - images_pt(second, "cgan")).abs().max() < 0.1

    # Offline: a fresh process with HF_HUB_OFFLINE=1 and the Hub shut out loads the cached repo.
    expected = images_pt(second, "cgan")
    result = run_python(
        f"""
        import torch, hf_gan
        pipe = hf_gan.ConditionalGANPipeline.from_pretrained("{repo_id}")
        images = pipe(class_labels=[0, 1, 2], generator=torch.manual_seed(0), output_type="pt").images
        torch.save(images, "{os.environ['HF_HOME']}/offline.pt")
        """,
        HF_HUB_OFFLINE="1",
        HF_ENDPOINT="http://127.0.0.1:9",  # nothing listens there
    )
    assert result.returncode == 0, result.stderr
    torch.testing.assert_close(torch.load(f"{os.environ['HF_HOME']}/offline.pt"), expected, rtol=0, atol=0)


def test_diffusion_pipeline_from_pretrained_works_after_import_hf_gan():
    make_pipeline("gan").push_to_hub("user/generic-loader")
    result = run_python(
        """
        import diffusers, hf_gan
        pipe = diffusers.DiffusionPipeline.from_pretrained("user/generic-loader")
        print(type(pipe).__name__, len(pipe(batch_size=2).images))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["GANPipeline", "2"]


def test_unreachable_hub_and_nothing_cached_is_a_clear_error():
    result = run_python(
        """
        import hf_gan
        hf_gan.GANPipeline.from_pretrained("someone/never-downloaded")
        """,
        HF_ENDPOINT="http://127.0.0.1:9",
        HF_HUB_ETAG_TIMEOUT="2",
        HF_HUB_DOWNLOAD_TIMEOUT="2",
    )
    assert result.returncode != 0
    assert "could not be reached and no copy is cached" in result.stderr


def test_missing_repo_and_revision_raise_hub_errors():
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        GANPipeline.from_pretrained("user/does-not-exist")
    make_pipeline("gan").push_to_hub("user/has-main")
    with pytest.raises(RevisionNotFoundError):
        GANPipeline.from_pretrained("user/has-main", revision="no-such-branch")


def test_uploads_went_over_http_with_plain_lfs():
    make_pipeline("gan").push_to_hub("user/lfs-check")
    assert any(r.endswith(".git/info/lfs/objects/batch") for r in HUB_STATE.requests)
    assert any(r.startswith("POST /api/models/user/lfs-check/commit/") for r in HUB_STATE.requests)


def test_download_options_diffusers_accepts_pass_the_model_index_check():
    # from_pretrained reads model_index.json itself before diffusers does; options diffusers takes must not break it
    make_pipeline("gan").push_to_hub("user/options")
    pipe = GANPipeline.from_pretrained("user/options", proxies={}, force_download=True, revision="main")
    assert pipe.generator is not None
