"""Uploading a pipeline folder to the Hub, as training (--push_to_hub) and `hf-gan publish` do."""

from huggingface_hub import create_repo, upload_folder

# Training by-products that stay local: checkpoints (also half-written ones), tracker logs, intermediate grids.
UPLOAD_IGNORE = ["checkpoint-*", "logs/*", "samples/*"]


def push_folder(folder: str, repo_id: str, token: str | None = None, private: bool = False,
                commit_message: str = "Upload hf_gan pipeline") -> str:
    """Creates `repo_id` if needed and uploads `folder` without training by-products; returns the repo id."""
    repo_id = create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
    upload_folder(repo_id=repo_id, folder_path=folder, token=token, ignore_patterns=UPLOAD_IGNORE, commit_message=commit_message)
    return repo_id
