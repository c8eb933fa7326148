"""Snapshot a hub repository into a plain directory, atomically, with a record of what it is.

Only the download rule calls this; every other stage reads local paths (the hub stays offline).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import atomic_dir, write_json
from ..errors import UserError
from ..provenance import provenance

RECORD = "xllm_fetch.json"


def fetch_model(repo: str, out: str | Path, revision: str | None = None, token_env: str = "HF_TOKEN") -> dict:
    """Download ``repo`` (at ``revision``) into ``out``; the record names the resolved commit."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    token = os.environ.get(token_env) or None
    try:
        info = HfApi().model_info(repo, revision=revision, token=token)
        with atomic_dir(out) as tmp:
            snapshot_download(repo, revision=info.sha, local_dir=tmp, token=token)
            record = {"repo": repo, "revision": info.sha, "provenance": provenance()}
            write_json(Path(tmp) / RECORD, record)
    except RepositoryNotFoundError:
        raise UserError(f"{repo}: no such model on the hub (or it is gated: set ${token_env})") from None
    except (HfHubHTTPError, OSError) as err:
        raise UserError(f"{repo}: download failed: {err}") from None
    return record
