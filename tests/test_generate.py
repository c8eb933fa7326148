"""Generation: batched decoding equals one-at-a-time decoding, token-id slicing, EOS, plans,
resume from staging, limits and one-line errors, on a tiny random Llama built in the test."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from xllm.cli import main  # noqa: E402
from xllm.demo.tiny_model import make_tiny_llama  # noqa: E402
from xllm.errors import UserError  # noqa: E402
from xllm.generate.engine import Settings, generate_texts, length_sorted_batches, load_model  # noqa: E402
from xllm.generate.run import run_plan, staging_fingerprint  # noqa: E402
from xllm.generate.tasks import qa_prompt  # noqa: E402

PROMPTS = [
    "Translate the following sentences from English to Farish.\nthe cat sees a dog .\n>>> ",
    "hi\n>>> ",
    "Answer the final question with following context.\nContext: a b c . d e f .\nQuestion: what ?\n>>> ",
    "Repeat the sentence.\nthe old man carries the red box under a tree .\n>>> ",
    "x",
    "Name the subject of the sentence.\na dog watches the cat .\n>>> ",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """The demo's tiny Llama with large random weights: at the usual init scale a random model
    repeats one token, which would hide a decoding bug; these weights give varied outputs."""
    from transformers import AutoModelForCausalLM

    path = make_tiny_llama(
        tmp_path_factory.mktemp("m") / "tiny", hidden_size=32, layers=2, heads=2, max_length=256, seed=3
    )
    model = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0, 0.5)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def loaded(model_dir):
    torch.set_num_threads(1)  # as run_plan does for small models: the test machine's cores are shared
    return load_model(str(model_dir), "cpu")


def ids_of(outputs):
    return [o.token_ids for o in outputs]


def test_length_sorted_batches_cover_every_index_longest_first():
    batches = length_sorted_batches([3, 9, 1, 9, 5], 2)
    assert batches == [[1, 3], [4, 0], [2]]


def test_left_padded_batches_equal_unbatched_greedy(loaded):
    model, tok = loaded
    alone = generate_texts(model, tok, PROMPTS, Settings(batch_size=1, max_new_tokens=12, backend="loop"))
    batched = generate_texts(model, tok, PROMPTS, Settings(batch_size=4, max_new_tokens=12, backend="loop"))
    reference = generate_texts(model, tok, PROMPTS, Settings(batch_size=6, max_new_tokens=12, backend="hf"))
    # One shape for every batch (bucketed widths, a padded last batch, a shared cache).
    static = generate_texts(model, tok, PROMPTS, Settings(batch_size=4, max_new_tokens=12, backend="static", bucket=16))
    hf_static = generate_texts(
        model, tok, PROMPTS, Settings(batch_size=4, max_new_tokens=12, backend="hf-static", bucket=16)
    )
    assert ids_of(batched) == ids_of(alone)
    assert ids_of(static) == ids_of(alone)
    assert ids_of(hf_static) == ids_of(alone)
    assert ids_of(reference) == ids_of(alone)  # the lean loop decodes as model.generate does
    assert all(o.n_new_tokens == 12 and not o.stopped for o in alone)


def test_the_static_decoding_step_compiles_as_one_graph(loaded):
    """fullgraph=True fails on any graph break: the GPU path (CUDA graphs) needs one graph."""
    model, tok = loaded
    settings = Settings(batch_size=4, max_new_tokens=6, backend="static", bucket=16)
    eager = generate_texts(model, tok, PROMPTS, settings)
    compiled = generate_texts(model, tok, PROMPTS, Settings(**{**settings.to_dict(), "compile": "backend:eager"}))
    assert ids_of(compiled) == ids_of(eager)


def test_new_tokens_are_sliced_by_id_after_the_prompt(loaded):
    model, tok = loaded
    outputs = generate_texts(model, tok, PROMPTS, Settings(batch_size=3, max_new_tokens=5, backend="loop"))
    for prompt, out in zip(PROMPTS, outputs):
        ids = tok(prompt)["input_ids"]
        assert out.n_prompt_tokens == len(ids)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
        assert out.token_ids[0] == int(logits.argmax())  # the first new token follows the prompt
        assert out.prediction == tok.decode(out.token_ids, skip_special_tokens=True).strip()


def test_generation_stops_at_eos_and_drops_it(loaded):
    model, tok = loaded
    free = generate_texts(model, tok, PROMPTS[:1], Settings(batch_size=1, max_new_tokens=10, backend="loop"))[0]
    eos = free.token_ids[3]
    cut = free.token_ids.index(eos)
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = eos
    try:
        for backend in ("loop", "hf"):
            out = generate_texts(model, tok, PROMPTS[:2], Settings(batch_size=2, max_new_tokens=10, backend=backend))
            assert out[0].stopped and out[0].token_ids == free.token_ids[:cut]
            assert out[0].n_new_tokens == cut
    finally:
        model.generation_config.eos_token_id = saved


def test_rows_that_end_early_leave_the_batch_without_changing_the_others(loaded):
    model, tok = loaded
    unbatched = generate_texts(model, tok, PROMPTS, Settings(batch_size=1, max_new_tokens=24))
    free = [o.token_ids for o in unbatched]
    assert len({tuple(ids) for ids in free}) == len(PROMPTS)  # varied outputs, not one repeated token

    def ends(token):  # per row: how many tokens precede the first `token` (None: never)
        return [ids.index(token) if token in ids else None for ids in free]

    def spread(token):  # rows that end while at least as many others still run
        stops = sorted(e for e in ends(token) if e is not None)
        last = max((e for e in ends(token) if e is not None), default=0) if None not in ends(token) else 10**9
        return sum(e < last for e in stops)

    eos = max(sorted({t for ids in free for t in ids}), key=spread)
    assert spread(eos) >= len(PROMPTS) // 2  # so the loop really drops ended rows mid-batch
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = eos
    try:
        batched = generate_texts(model, tok, PROMPTS, Settings(batch_size=6, max_new_tokens=24, backend="loop"))
    finally:
        model.generation_config.eos_token_id = saved
    for ids, end, alone, out in zip(free, ends(eos), unbatched, batched):
        assert out.token_ids == (ids if end is None else ids[:end])
        assert out.stopped == (end is not None or alone.stopped)


def test_beams_and_seeded_sampling_go_through_generate(loaded):
    model, tok = loaded
    beams = generate_texts(model, tok, PROMPTS[:3], Settings(batch_size=3, max_new_tokens=6, num_beams=2))
    assert all(o.n_new_tokens == 6 for o in beams)
    sample = Settings(batch_size=3, max_new_tokens=6, do_sample=True, seed=5)
    first, second = (generate_texts(model, tok, PROMPTS[:3], sample) for _ in range(2))
    assert ids_of(first) == ids_of(second)


def test_no_room_for_a_prompt_is_an_error(loaded):
    model, tok = loaded
    with pytest.raises(UserError, match="--max-new-tokens 256: the model's context is 256 tokens"):
        generate_texts(model, tok, PROMPTS[:1], Settings(max_new_tokens=256, backend="loop"))


def test_long_prompts_are_cut_from_the_left_and_counted(loaded):
    model, tok = loaded
    long = "a b c d " * 100  # 800 bytes > 256 positions
    out = generate_texts(model, tok, [long, PROMPTS[0]], Settings(batch_size=2, max_new_tokens=6, backend="loop"))
    assert out[0].truncated and out[0].n_prompt_tokens == 256 - 6
    assert not out[1].truncated


# ---------------------------------------------------------------- plans


def make_testsets(root: Path) -> list[dict]:
    en = [f"the cat number {i} sees a dog ." for i in range(7)]
    far = [f"фози {i} гуфатаек ." for i in range(7)]
    (root / "en.txt").write_text("\n".join(en) + "\n", encoding="utf-8")
    (root / "far.txt").write_text("\n".join(far) + "\n", encoding="utf-8")
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "ab cd . ef gh .",
                        "qas": [
                            {"id": "q1", "question": "what ab ?", "answers": [{"text": "cd", "answer_start": 3}]},
                            {
                                "id": "q2",
                                "question": "what ef ?",
                                "answers": [{"text": "gh", "answer_start": 12}, {"text": "gh .", "answer_start": 12}],
                            },
                        ],
                    },
                    {
                        "context": "ij kl .",
                        "qas": [{"id": "q3", "question": "what ij ?", "answers": [{"text": "kl", "answer_start": 3}]}],
                    },
                ],
            }
        ],
    }
    (root / "far.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    (root / "zh.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    plan = [
        {
            "task": "flores",
            "direction": "en-far",
            "src_lang": "en",
            "tgt_lang": "far",
            "lang": "far",
            "source": str(root / "en.txt"),
            "reference": str(root / "far.txt"),
        },
        {
            "task": "flores",
            "direction": "far-en",
            "src_lang": "far",
            "tgt_lang": "en",
            "lang": "en",
            "source": str(root / "far.txt"),
            "reference": str(root / "en.txt"),
        },
        {"task": "xquad", "direction": "far", "lang": "far", "testset": str(root / "far.json")},
        {"task": "xquad", "direction": "zh", "lang": "zh", "testset": str(root / "zh.json")},
    ]
    (root / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return plan


def cli_args(model_dir, root: Path, *extra) -> list[str]:
    return [
        "generate",
        "--model",
        str(model_dir),
        "--plan",
        str(root / "plan.json"),
        "--out-dir",
        str(root / "out"),
        "--staging",
        str(root / "staging"),
        "--batch-size",
        "3",
        "--max-new-tokens",
        "4",
        "--lang-name",
        "far=Farish",
        "--quiet",
        *extra,
    ]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_plan_writes_every_item_in_file_order_with_prompts_and_references(model_dir, tmp_path):
    make_testsets(tmp_path)
    assert main(cli_args(model_dir, tmp_path)) == 0
    out = tmp_path / "out"
    rows = read(out / "flores" / "en-far.jsonl")
    assert [r["id"] for r in rows] == [str(i) for i in range(7)]
    assert rows[2]["prompt"] == (
        "Translate the following sentences from English to Farish.\nthe cat number 2 sees a dog .\n>>> "
    )  # compact style of the demo model
    assert rows[2]["reference"] == "фози 2 гуфатаек ."
    assert all(r["n_new_tokens"] == 4 and r["n_prompt_tokens"] > 0 for r in rows)
    assert read(out / "flores" / "far-en.jsonl")[0]["prompt"].startswith(
        "Translate the following sentences from Farish to English."
    )
    qa = read(out / "xquad" / "far.jsonl")
    assert [r["id"] for r in qa] == ["q1", "q2", "q3"]
    assert qa[1]["reference"] == ["gh", "gh ."]
    # Demo languages fall back to the English QA prompt (the authors' by default), which is the
    # wording of the demo's Alpaca QA items.
    assert qa[0]["prompt"] == (
        "Answer the final question with following context\n"
        "Context: ab cd . ef gh .\nQuestion: what ab ?\nAnswer: \n>>> "
    )
    zh = read(out / "xquad" / "zh.jsonl")
    assert zh[0]["prompt"] == "请根据以下段落，回答问题\n段落: ab cd . ef gh .\n问题: what ab ?\n答案: \n>>> "
    summary = json.loads((out / "generation.json").read_text(encoding="utf-8"))
    assert summary["items"]["flores/en-far"]["n"] == 7 and summary["n_examples"] == 20
    assert summary["provenance"]["versions"]["torch"] and summary["settings"]["max_new_tokens"] == 4
    assert not (tmp_path / "staging").exists()  # moved into the output directory
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary leftovers


def test_limit_keeps_the_first_examples(model_dir, tmp_path):
    make_testsets(tmp_path)
    assert main(cli_args(model_dir, tmp_path, "--limit", "2")) == 0
    assert [r["id"] for r in read(tmp_path / "out" / "flores" / "far-en.jsonl")] == ["0", "1"]
    assert [r["id"] for r in read(tmp_path / "out" / "xquad" / "zh.jsonl")] == ["q1", "q2"]


def test_resume_reuses_staged_progress_of_the_same_model_only(model_dir, tmp_path):
    plan = make_testsets(tmp_path)
    settings = Settings(batch_size=3, max_new_tokens=4)
    staging = tmp_path / "staging"
    fingerprint = staging_fingerprint(model_dir, settings, None, plan)
    (staging / "flores").mkdir(parents=True)
    (staging / "fingerprint.json").write_text(json.dumps({"fingerprint": fingerprint}))
    row = {
        "id": "5",
        "prompt": "p",
        "prediction": "FROM STAGING",
        "n_prompt_tokens": 1,
        "n_new_tokens": 1,
        "reference": "r",
    }
    # A finished batch, then a line cut short by a kill.
    (staging / "flores" / "en-far.partial.jsonl").write_text(json.dumps(row) + '\n{"id": "6", "pre')
    summary = run_plan(
        str(model_dir),
        str(tmp_path / "plan.json"),
        str(tmp_path / "out"),
        str(staging),
        settings,
        lang_names={"far": "Farish"},
        progress=False,
    )
    rows = {r["id"]: r for r in read(tmp_path / "out" / "flores" / "en-far.jsonl")}
    assert rows["5"]["prediction"] == "FROM STAGING" and rows["6"]["n_new_tokens"] == 4
    assert summary["this_run"]["n_prompts"] == 20 - 1

    # Other settings (here: more new tokens) make staged rows stale: they are discarded.
    (staging / "flores").mkdir(parents=True)
    (staging / "fingerprint.json").write_text(json.dumps({"fingerprint": fingerprint}))
    (staging / "flores" / "en-far.partial.jsonl").write_text(json.dumps(row) + "\n")
    run_plan(
        str(model_dir),
        str(tmp_path / "plan.json"),
        str(tmp_path / "out"),
        str(staging),
        Settings(batch_size=3, max_new_tokens=5),
        lang_names={"far": "Farish"},
        progress=False,
    )
    assert "FROM STAGING" not in (tmp_path / "out" / "flores" / "en-far.jsonl").read_text(encoding="utf-8")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_outputs(model_dir, tmp_path):
    make_testsets(tmp_path)
    # One example a batch and 40 new tokens each, so that the kill lands inside the second item.
    args = cli_args(model_dir, tmp_path, "--batch-size", "1", "--max-new-tokens", "40")
    assert main(args) == 0
    expected = {
        p.relative_to(tmp_path / "out"): p.read_text(encoding="utf-8") for p in (tmp_path / "out").rglob("*.jsonl")
    }
    args[args.index("--out-dir") + 1] = str(tmp_path / "out2")
    proc = subprocess.Popen([sys.executable, "-m", "xllm", *args])
    partial = tmp_path / "staging" / "flores" / "far-en.partial.jsonl"  # the second item
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (partial.exists() and partial.stat().st_size):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-item"
    assert (tmp_path / "staging" / "flores" / "en-far.jsonl").exists()  # first item finished
    assert not (tmp_path / "out2").exists()  # nothing that looks complete
    assert main(args) == 0
    summary = json.loads((tmp_path / "out2" / "generation.json").read_text(encoding="utf-8"))
    assert summary["this_run"]["n_prompts"] < 20 - 7
    out2 = tmp_path / "out2"
    assert {p.relative_to(out2): p.read_text(encoding="utf-8") for p in out2.rglob("*.jsonl")} == expected


@pytest.mark.parametrize(
    "plan, message",
    [
        ("{not json", "plan.json: not JSON"),
        ('[{"task": "wmt", "direction": "en-x"}]', "unknown task 'wmt'"),
        ('[{"task": "xquad", "direction": "ar", "lang": "ar"}]', "missing testset"),
        ('[{"task": "xquad", "direction": "../ar", "lang": "ar"}]', "direction '../ar' is not a plain name"),
        ('{"task": "xquad"}', "expected a JSON list (plan items)"),
    ],
)
def test_bad_plans_are_one_line_errors(model_dir, tmp_path, capsys, plan, message):
    (tmp_path / "plan.json").write_text(plan)
    assert main(cli_args(model_dir, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_asking_for_a_missing_gpu_is_a_one_line_error(model_dir, tmp_path, capsys):
    make_testsets(tmp_path)
    assert main(cli_args(model_dir, tmp_path, "--device", "cuda")) == 2
    assert "--device cuda: no CUDA device" in capsys.readouterr().err


def test_sampling_and_beams_through_the_command_line(model_dir, tmp_path):
    make_testsets(tmp_path)
    sampling = ("--limit", "2", "--do-sample", "--seed", "3", "--temperature", "0.7")
    assert main(cli_args(model_dir, tmp_path, *sampling)) == 0
    summary = json.loads((tmp_path / "out" / "generation.json").read_text(encoding="utf-8"))
    assert summary["settings"]["do_sample"] and summary["this_run"]["backends"] == {"hf": 8}
    assert main(cli_args(model_dir, tmp_path, "--limit", "1", "--num-beams", "2")) == 0
    assert len(read(tmp_path / "out" / "xquad" / "zh.jsonl")) == 1


def test_staging_inside_the_output_directory_is_refused(model_dir, tmp_path, capsys):
    make_testsets(tmp_path)
    args = cli_args(model_dir, tmp_path)
    args[args.index("--staging") + 1] = str(tmp_path / "out" / "staging")
    assert main(args) == 2
    assert "must lie outside" in capsys.readouterr().err


def test_an_item_can_ask_for_another_prompt_language(tmp_path):
    from xllm.generate.tasks import load_examples

    make_testsets(tmp_path)
    item = {"task": "xquad", "direction": "zh", "lang": "zh", "testset": str(tmp_path / "zh.json")}
    assert load_examples(item, str)[0].instruction == qa_prompt("zh")["instruction"]
    english = load_examples({**item, "prompt_lang": "en"}, str)[0]
    assert english.instruction == qa_prompt("en")["instruction"]
    assert english.input == "Context: ab cd . ef gh .\nQuestion: what ab ?\nAnswer: "


def test_qa_prompts_are_the_papers_per_language_with_an_english_fallback():
    assert qa_prompt("tr")["instruction"] == "Lütfen soruları aşağıdaki paragraflara göre cevaplayınız"
    assert qa_prompt("near") == qa_prompt("en")
    from xllm.demo.english import QA_INSTRUCTION

    assert qa_prompt("en", prompts="ours")["instruction"] == QA_INSTRUCTION
    assert qa_prompt("near", prompts="ours") == qa_prompt("en", prompts="ours")
    for lang in ("ar", "el", "hi", "tr", "vi", "zh"):
        for prompts in ("authors", "ours"):
            text = qa_prompt(lang, prompts=prompts)["input"].format(context="C", question="Q")
            assert "C" in text and "Q" in text


# The authors' strings (NJUNLP/x-LLM data/xquad/xquad.py), copied here so that a change of
# tasks.yaml cannot pass unnoticed.
AUTHORS_QA = {
    "en": ("Answer the final question with following context", "Context: {context}\nQuestion: {question}\nAnswer: "),
    "el": (
        "Απαντήστε στις ερωτήσεις με βάση τις παρακάτω παραγράφους",
        "παράγραφος: {context}\nερώτηση: {question}\nΑπάντηση: ",
    ),
    "tr": (
        "Lütfen soruları aşağıdaki paragraflara göre cevaplayınız",
        "paragraf: {context}\nsoru: {question}\nCevap: ",
    ),
    "vi": ("Hãy trả lời các câu hỏi theo đoạn văn sau", "đoạn văn: {context}\ncâu hỏi: {question}\nTrả lời: "),
    "zh": ("请根据以下段落，回答问题", "段落: {context}\n问题: {question}\n答案: "),
    "ar": ("الرجاء الإجابة على الأسئلة بناءً على الفقرات التالية", "فقرة: {context}\nسؤال: {question}\nإجابة: "),
    "hi": ("कृपया निम्नलिखित पैराग्राफ के अनुसार प्रश्नों के उत्तर दें", "अनुच्छेद: {context}\nसवाल: {question}\nउत्तर: "),
}


def test_authors_qa_prompts_are_their_code_s_and_strip_context_and_question(tmp_path):
    from xllm.generate.tasks import load_examples
    from xllm.prompts import format_prompt

    for lang, (instruction, template) in AUTHORS_QA.items():
        assert qa_prompt(lang) == {"instruction": instruction, "input": template}
    squad = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": "  ab cd .\n",
                        "qas": [{"id": "q", "question": " what ab ? ", "answers": [{"text": "cd", "answer_start": 5}]}],
                    }
                ]
            }
        ]
    }
    (tmp_path / "en.json").write_text(json.dumps(squad), encoding="utf-8")
    item = {"task": "xquad", "direction": "en", "lang": "en", "testset": str(tmp_path / "en.json")}
    (ex,) = load_examples(item, str)
    assert format_prompt(ex.instruction, ex.input) == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n### Instruction:\n"
        "Answer the final question with following context\n\n### Input:\nContext: ab cd .\nQuestion: what ab ?\n"
        "Answer: \n\n### Response:"
    )
    (ours,) = load_examples(item, str, qa_prompts="ours")
    assert (ours.instruction, ours.input) == (
        "Answer the final question with following context.",
        "Context:   ab cd .\n\nQuestion:  what ab ? ",
    )
    with pytest.raises(UserError, match="QA prompts 'mine'"):
        load_examples(item, str, qa_prompts="mine")


def test_the_test_time_translation_instruction_is_the_authors_first(tmp_path):
    from xllm.generate.tasks import load_examples

    plan = make_testsets(tmp_path)
    assert load_examples(plan[0], {"en": "English", "far": "Farish"}.get)[0].instruction == (
        "Translate the following sentences from English to Farish."
    )
    assert Settings().max_new_tokens == 512 and not Settings().do_sample and Settings().num_beams == 1


def test_ours_qa_prompts_and_truncated_prompts_in_the_summary(model_dir, tmp_path):
    from xllm.generate.run import run_plan

    make_testsets(tmp_path)
    settings = Settings(batch_size=3, max_new_tokens=250, qa_prompts="ours")  # 256 positions: QA prompts are cut
    summary = run_plan(
        str(model_dir),
        str(tmp_path / "plan.json"),
        str(tmp_path / "out"),
        str(tmp_path / "st"),
        settings,
        limit=2,
        lang_names={"far": "Farish"},
        progress=False,
    )
    qa = read(tmp_path / "out" / "xquad" / "far.jsonl")
    assert qa[0]["prompt"].startswith("Answer the final question with following context.\nContext: ab cd")
    assert summary["settings"]["qa_prompts"] == "ours"
    items = summary["items"]
    assert summary["truncated_prompts"] == {
        task: sum(c["n_truncated_prompts"] for k, c in items.items() if k.startswith(task + "/"))
        for task in ("flores", "xquad")
    }
    assert (
        summary["truncated_prompts"]["xquad"]
        == sum(r["truncated"] for r in qa) + sum(r["truncated"] for r in read(tmp_path / "out" / "xquad" / "zh.jsonl"))
        > 0
    )


def test_mieval_instructions_become_open_examples_that_scoring_leaves_to_the_judge(tmp_path):
    """The authors' mieval/{lang}.jsonl (instruction, input, no reference) -> prepared -> examples."""
    from xllm.data.testsets import prepare_mieval
    from xllm.generate.tasks import load_examples
    from xllm.metrics.registry import MetricOptions
    from xllm.metrics.score import ScoreConfig, score_generations

    raw = tmp_path / "zh.jsonl"
    raw.write_text(
        json.dumps({"instruction": "写一首诗", "input": ""}, ensure_ascii=False)
        + "\n\n"
        + json.dumps({"instruction": "Translate", "input": "hello"})
        + "\n",
        encoding="utf-8",
    )
    prepared = tmp_path / "mieval" / "zh.jsonl"
    assert prepare_mieval(raw, prepared) == 2
    item = {"task": "mieval", "direction": "zh", "lang": "zh", "prompts": str(prepared)}
    examples = load_examples(item, lambda code: code)
    assert [(e.id, e.instruction, e.input, e.reference) for e in examples] == [
        ("0", "写一首诗", "", ""),
        ("1", "Translate", "hello", ""),
    ]
    raw.write_text('{"input": "no instruction"}\n')
    with pytest.raises(UserError, match="line 1 has no instruction"):
        prepare_mieval(raw, tmp_path / "bad.jsonl")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([item]))
    rows, _, _ = score_generations(tmp_path / "gen", plan, "muit/400", ScoreConfig(), MetricOptions())
    assert rows == []  # nothing to score against: MI-Eval is judged pairwise
