"""Test sets out of their raw files: FLORES-101 sentences, XQuAD and MLQA in SQuAD v1.1 format.

FLORES lines are kept byte for byte (references must be the published ones); only line endings
are unified. QA sets keep the real SQuAD structure; every answer must be a span of its context:
a wrong ``answer_start`` whose text occurs in the context is repaired, a question whose answer
text is nowhere in the context is dropped, and more than ``MAX_DROPPED`` of them is an error.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

from .. import languages
from ..atomic import atomic_open, file_sha256, write_json
from ..errors import UserError
from ..provenance import provenance
from . import squad
from .sources import load_sources, source_for

MAX_DROPPED = 0.01


def _write_lines(lines: list[str], out: Path, origin: str) -> int:
    if not lines:
        raise UserError(f"{origin}: no sentences")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise UserError(f"{origin}: line {i} is empty (FLORES files are line-aligned, one sentence per line)")
    with atomic_open(out) as handle:
        handle.writelines(line + "\n" for line in lines)
    return len(lines)


def _split_lines(data: bytes, origin: str) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{origin}: not UTF-8 ({err})") from None
    return text.replace("\r\n", "\n").removesuffix("\n").split("\n") if text else []


def prepare_flores(lang: str, split: str, path: str | Path, sources: str | Path, out: str | Path, custom=None) -> int:
    """One language's FLORES-101 ``split``, one sentence per line."""
    path = Path(path)
    src = source_for(load_sources(sources), path, sources)
    if src.format == "flores-plain":
        if lang not in src.langs:
            raise UserError(f"{path}: a FLORES file of {src.langs}, not of {lang!r}")
        if src.extra.get("split") not in (None, split):
            raise UserError(f"{path}: the {src.extra['split']} split, not {split}")
        return _write_lines(_split_lines(path.read_bytes(), str(path)), Path(out), str(path))
    if src.format == "flores-tarball":
        code = languages.get(lang, custom).flores
        suffix = f"/{split}/{code}.{split}"
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if member.isfile() and ("/" + member.name).endswith(suffix):
                        data = tar.extractfile(member).read()
                        origin = f"{path}:{member.name}"
                        return _write_lines(_split_lines(data, origin), Path(out), origin)
        except (tarfile.TarError, EOFError, OSError) as err:
            raise UserError(f"{path}: not a readable tarball ({err})") from None
        raise UserError(f"{path}: no member ending in {suffix.lstrip('/')} (FLORES code {code!r} of {lang!r})")
    raise UserError(f"{path}: format {src.format!r} is not a FLORES format (flores-plain, flores-tarball)")


def check_squad(doc, origin: str) -> dict:
    """Validate SQuAD v1.1 structure in place; returns counts (questions, repaired, dropped)."""
    questions = repaired = dropped = 0
    for where, paragraph in squad.paragraphs(doc, origin):
        context = paragraph.get("context")
        if not isinstance(context, str):
            raise UserError(f"{origin}: {where} has no context")
        kept = []
        for qa in paragraph.get("qas") or []:
            if not isinstance(qa.get("question"), str) or "id" not in qa or not qa.get("answers"):
                raise UserError(f"{origin}: {where}: question {qa.get('id')!r} needs id, question and answers")
            ok = True
            for answer in qa["answers"]:
                text, start = answer.get("text"), answer.get("answer_start")
                if not isinstance(text, str) or not isinstance(start, int):
                    raise UserError(f"{origin}: question {qa['id']!r}: an answer needs text and answer_start")
                if context[start : start + len(text)] == text:
                    continue
                found = context.find(text)
                if found >= 0 and text:
                    answer["answer_start"] = found
                    repaired += 1
                else:
                    ok = False
            if ok:
                kept.append(qa)
                questions += 1
            else:
                dropped += 1
        paragraph["qas"] = kept
    if dropped > MAX_DROPPED * (questions + dropped):
        raise UserError(
            f"{origin}: {dropped} of {questions + dropped} questions have an answer that is not in the context"
        )
    if questions == 0:
        raise UserError(f"{origin}: no questions")
    return {"questions": questions, "repaired_answer_starts": repaired, "dropped_questions": dropped}


def _load_json(data: bytes, origin: str):
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{origin}: not valid JSON ({err})") from None


def _write_squad(doc, origin: str, out: Path, input_sha: str, **meta) -> int:
    counts = check_squad(doc, origin)
    doc["validation"] = counts
    doc["provenance"] = provenance(input=origin, input_sha256=input_sha, **meta)
    write_json(out, doc, indent=None)
    return counts["questions"]


def prepare_xquad(lang: str, path: str | Path, sources: str | Path, out: str | Path) -> int:
    path = Path(path)
    src = source_for(load_sources(sources), path, sources)
    if src.format != "squad-json":
        raise UserError(f"{path}: format {src.format!r}; XQuAD files are squad-json")
    if lang not in src.langs:
        raise UserError(f"{path}: an XQuAD file of {src.langs}, not of {lang!r}")
    data = path.read_bytes()
    return _write_squad(_load_json(data, str(path)), str(path), Path(out), file_sha256(path), task="xquad", lang=lang)


def prepare_mlqa(setting: str, split: str, path: str | Path, sources: str | Path, out: str | Path) -> int:
    """MLQA ``setting`` = '<context lang>-<question lang>' from MLQA_V1.zip (or one squad-json file)."""
    parts = setting.split("-")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"--setting {setting!r}: expected CONTEXT-QUESTION languages, e.g. en-ar")
    context_lang, question_lang = parts
    path = Path(path)
    src = source_for(load_sources(sources), path, sources)
    meta = {"task": "mlqa", "setting": setting, "split": split}
    if src.format == "squad-json":
        return _write_squad(_load_json(path.read_bytes(), str(path)), str(path), Path(out), file_sha256(path), **meta)
    if src.format != "mlqa-zip":
        raise UserError(f"{path}: format {src.format!r}; MLQA is mlqa-zip or squad-json")
    member_name = f"{split}/{split}-context-{context_lang}-question-{question_lang}.json"
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if ("/" + m).endswith("/" + member_name)]
            if not members:
                raise UserError(f"{path}: no member {member_name} (MLQA has no setting {setting!r} in {split})")
            data = zf.read(members[0])
    except zipfile.BadZipFile as err:
        raise UserError(f"{path}: not a readable zip ({err})") from None
    origin = f"{path}:{members[0]}"
    return _write_squad(_load_json(data, origin), origin, Path(out), file_sha256(path), **meta)


def prepare_mieval(path: str | Path, out: str | Path) -> int:
    """MI-Eval (the authors' ``mieval/{lang}.jsonl``: one JSON object a line with ``instruction``
    and ``input``, no reference) checked and given ids (the line number), as JSONL."""
    path = Path(path)
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: line {n} is not JSON ({err.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str) or not row["instruction"].strip():
            raise UserError(f"{path}: line {n} has no instruction")
        if not isinstance(row.get("input", ""), str):
            raise UserError(f"{path}: line {n}: input is not a string")
        rows.append({"id": str(len(rows)), "instruction": row["instruction"], "input": row.get("input") or ""})
    if not rows:
        raise UserError(f"{path}: no instruction")
    with atomic_open(out) as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return len(rows)
