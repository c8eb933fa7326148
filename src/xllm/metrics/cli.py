"""Metric subcommands: score-mt, score-qa, score-generations, gather-scores, compare-generations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..args import add_settings_arguments, settings_from_args
from ..errors import UserError
from . import registry


def score_mt(args) -> int:
    from ..atomic import read_lines
    from .registry import MetricOptions, compute

    hyps, refs = read_lines(args.hyp), read_lines(args.ref)
    srcs = read_lines(args.src) if args.src else None
    _check_lang(args.lang)
    if not hyps and not refs:
        raise UserError(f"{args.hyp}: no lines to score (and none in {args.ref})")
    if len(hyps) != len(refs):
        raise UserError(f"{args.hyp}: {len(hyps)} lines but {args.ref} has {len(refs)}")
    if srcs is not None and len(srcs) != len(hyps):
        raise UserError(f"{args.src}: {len(srcs)} lines but {args.hyp} has {len(hyps)}")
    model = {"spbleu": "spm_model", "comet": "comet_model", "bleurt": "bleurt_model"}.get(args.metric)
    options = MetricOptions(
        batch_size=args.batch_size,
        device=args.device,
        comet_encoder=args.comet_encoder,
        **({model: args.model} if model else {}),
    )
    scored = compute(args.metric, hyps, refs, srcs=srcs, lang=args.lang, options=options)
    out = {"metric": args.metric, "score": scored.score, "n": scored.n, "signature": scored.signature}
    if scored.info.get("n_over_max_length") is not None:  # stdout keeps exactly the four keys
        print(
            f"{args.metric}: {scored.info['n_over_max_length']} of {scored.n} inputs over the model's maximum "
            f"length ({scored.info['max_length']} tokens) were truncated",
            file=sys.stderr,
        )
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _check_lang(code: str) -> None:
    """Tokenization and QA normalization depend on the language: an unknown code is a mistake."""
    from ..languages import BUILTIN

    if code not in BUILTIN:
        raise UserError(f"--lang {code!r}: unknown language (known: {', '.join(sorted(BUILTIN))})")


def score_qa(args) -> int:
    from ..atomic import read_jsonl
    from ..data.squad import gold_answers
    from .registry import compute

    _check_lang(args.lang)
    gold = gold_answers(args.references)
    if not gold:
        raise UserError(f"{args.references}: no questions to score")
    preds = read_jsonl(args.predictions)
    by_id = {}
    for i, row in enumerate(preds):
        where = f"{args.predictions}: line {i + 1}"
        if "id" not in row or "prediction" not in row:
            raise UserError(f"{where} needs id and prediction")
        qid = str(row["id"])
        if qid not in gold:
            raise UserError(f"{where}: id {row['id']!r} is not in {args.references}")
        if qid in by_id:
            raise UserError(f"{where}: id {qid!r} appears twice")
        if not isinstance(row["prediction"], str):
            raise UserError(f"{where}: the prediction is {json.dumps(row['prediction'])}, not text")
        by_id[qid] = row["prediction"]
    missing = [qid for qid in gold if qid not in by_id]
    if missing:
        raise UserError(f"{args.predictions}: no prediction for {len(missing)} question(s), e.g. id {missing[0]!r}")
    ids = list(gold)
    hyps, refs = [by_id[q] for q in ids], [gold[q] for q in ids]
    out = {}
    for key, name in (("exact_match", "em"), ("f1", "f1"), ("contains", "contains"), ("match", "match")):
        out[key] = compute(name, hyps, refs, lang=args.lang).score
    out["n"] = len(ids)
    print(json.dumps(out))
    return 0


def score_generations(args) -> int:
    from .registry import MetricOptions
    from .score import ScoreConfig, run

    config, options = settings_from_args(args, ScoreConfig, MetricOptions)
    run(args.generations_dir, args.plan, args.model, args.out, config, options)
    return 0


def gather_scores(args) -> int:
    from .score import gather

    n = gather(args.inputs, args.out, n_boot=args.bootstrap, seed=args.seed)
    print(f"wrote {n} scores to {args.out}")
    return 0


def compare(args) -> int:
    from .compare import compare_generations
    from .registry import MetricOptions

    options = MetricOptions(
        spm_model=args.spm_model, comet_model=args.comet_model, bleurt_model=args.bleurt_model, device=args.device
    )
    result = compare_generations(
        args.a,
        args.b,
        args.task,
        args.direction,
        args.metric,
        n_boot=args.bootstrap,
        seed=args.seed,
        lang=args.lang,
        options=options,
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _judge_client(args):
    from .judge import JudgeClient, JudgeConfig

    config = JudgeConfig(
        endpoint=args.endpoint, model=args.judge_model, api_key_env=args.api_key_env, timeout=args.timeout
    )
    return config, JudgeClient(config, cache=args.cache)


def judge_qa_cmd(args) -> int:
    from ..provenance import provenance
    from . import segments
    from .judge import judge_qa_scores
    from .score import write_scores

    config, client = _judge_client(args)
    scored_items: list = []
    rows, details = judge_qa_scores(
        client,
        args.generations_dir,
        args.plan,
        args.model,
        limit=args.limit,
        n_boot=args.bootstrap,
        seed=args.seed,
        scored_items=scored_items,
    )
    # per-question verdicts beside the table: gather-scores bootstraps them like any score
    segments.save(segments.segments_path(args.out), scored_items)
    write_scores(
        args.out,
        rows,
        {
            "model": args.model,
            "judge_model": config.model,
            "endpoint": config.endpoint,
            "limit": args.limit,
            "requests": client.requests,
            "details": details,
            "provenance": provenance(seed=args.seed),
        },
    )
    print(f"wrote {len(rows)} judge scores to {args.out} ({client.requests} requests)")
    return 0


def judge_pairwise_cmd(args) -> int:
    from ..atomic import read_jsonl, write_json
    from ..provenance import provenance
    from .compare import _item
    from .generations import load_item
    from .judge import judge_pairwise, judge_signature, squad_questions

    config, client = _judge_client(args)
    path = Path(args.a) / args.task / f"{args.direction}.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: no generations")
    item = _item(args.task, args.direction, read_jsonl(path), None)
    a, b = load_item(args.a, item), load_item(args.b, item)
    b_by_id = {str(i): h for i, h in zip(b.ids, b.hyps)}
    if set(b_by_id) != {str(i) for i in a.ids}:
        raise UserError(f"{args.task}/{args.direction}: {args.a} and {args.b} do not hold the same items")
    ids = [str(i) for i in a.ids][: args.limit or None]
    if args.testset:
        questions = squad_questions(args.testset)
        texts = [questions[i] for i in ids]
    elif args.questions:  # open instructions (MI-Eval): the instruction, then its input
        rows = {str(r.get("id", k)): r for k, r in enumerate(read_jsonl(args.questions))}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise UserError(f"{args.questions}: no instruction with id {missing[0]!r}")
        texts = ["\n".join(t for t in (rows[i].get("instruction", ""), rows[i].get("input") or "") if t) for i in ids]
    else:
        prompts = {str(r.get("id", k)): r.get("prompt", "") for k, r in enumerate(read_jsonl(path))}
        texts = [prompts[i] for i in ids]
    result = judge_pairwise(client, texts, a.hyps[: len(ids)], [b_by_id[i] for i in ids])
    result.update(
        a_dir=str(args.a),
        b_dir=str(args.b),
        task=args.task,
        direction=args.direction,
        signature=judge_signature(config, "pairwise"),
        requests=client.requests,
        provenance=provenance(),
    )
    if args.out:
        write_json(args.out, result)
    summary = {k: v for k, v in result.items() if k not in ("items", "provenance")}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _judge_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", required=True, help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1")
    p.add_argument("--judge-model", default="gpt-3.5-turbo")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    p.add_argument("--limit", type=int, default=100, help="first N items per test set (the paper: 100; 0: all)")
    p.add_argument("--cache", help="JSONL cache of replies (reruns ask only for what is missing)")
    p.add_argument("--timeout", type=float, default=60.0)


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spm-model", help="flores101 SentencePiece model file (spbleu)")
    p.add_argument("--comet-model", help="local COMET checkpoint directory (checkpoints/model.ckpt + hparams.yaml)")
    p.add_argument(
        "--comet-encoder", help="local directory of COMET's encoder tokenizer/config (default: from hparams, offline)"
    )
    p.add_argument("--bleurt-model", help="local BLEURT (bleurt-pytorch) model directory")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (COMET, BLEURT)")


def register(sub) -> None:
    from .registry import MetricOptions
    from .score import ScoreConfig

    p = sub.add_parser("score-mt", help="score a translation file; prints {metric, score, n, signature}")
    p.add_argument("--hyp", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--src", help="source sentences (comet)")
    p.add_argument("--lang", required=True, help="target language code")
    p.add_argument("--metric", required=True, choices=registry.names("mt"))
    p.add_argument("--model", help="spm model (spbleu) or checkpoint directory (comet, bleurt)")
    p.add_argument("--comet-encoder")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=score_mt)

    p = sub.add_parser(
        "score-qa", help="EM / F1 / contains / the authors' match of QA predictions against a SQuAD-format file"
    )
    p.add_argument("--predictions", required=True, help="JSONL lines {id, prediction}")
    p.add_argument("--references", required=True, help="SQuAD-format JSON")
    p.add_argument("--lang", required=True, help="answer (context) language: selects MLQA normalization")
    p.set_defaults(func=score_qa)

    p = sub.add_parser("score-generations", help="score a model's generations into the long score table")
    p.add_argument("--generations-dir", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--model", required=True, help="model id, e.g. coit/ar/10000")
    add_settings_arguments(p, ScoreConfig, MetricOptions)
    p.add_argument("--out", required=True, help="score table; its segment statistics and sidecar go beside it")
    p.set_defaults(func=score_generations)

    p = sub.add_parser("gather-scores", help="concatenate per-model score tables, with bootstrap intervals")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for the confidence interval (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=gather_scores)

    p = sub.add_parser("compare-generations", help="paired bootstrap between two models' generations")
    p.add_argument("--a", required=True, help="baseline generations directory")
    p.add_argument("--b", required=True, help="system generations directory")
    p.add_argument("--task", required=True)
    p.add_argument("--direction", required=True)
    p.add_argument("--metric", required=True)
    p.add_argument("--lang")
    _model_flags(p)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=compare)

    p = sub.add_parser("judge-qa", help="LLM-judged QA correctness (the paper's ChatGPT prompt) into the score table")
    p.add_argument("--generations-dir", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--model", required=True)
    _judge_flags(p)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=judge_qa_cmd)

    p = sub.add_parser("judge-pairwise", help="LLM pairwise comparison of two models, both answer orders")
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--direction", required=True)
    p.add_argument("--testset", help="SQuAD-format file: the question is its context and question")
    p.add_argument("--questions", help="JSONL of id, instruction, input (MI-Eval): the question the judge reads")
    _judge_flags(p)
    p.add_argument("--out", help="JSON with per-item scores")
    p.set_defaults(func=judge_pairwise_cmd)
