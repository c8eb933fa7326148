"""``xllm fetch-model``: the download_hf_model rule's command."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("fetch-model", help="snapshot a Hugging Face hub model into a directory")
    p.add_argument("--repo", required=True, help="hub id, e.g. Unbabel/wmt22-comet-da")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from .fetch import fetch_model

    record = fetch_model(args.repo, args.out, args.revision)
    print(f"fetched {record['repo']}@{record['revision']} into {args.out}")
    return 0
