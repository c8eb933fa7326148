import hashlib
import json
import subprocess
import sys

import pytest

from xllm import languages
from xllm.atomic import atomic_dir, atomic_open, file_sha256, read_json, read_jsonl, read_lines, write_jsonl
from xllm.data import squad
from xllm.errors import UserError
from xllm.provenance import config_hash, provenance


def test_atomic_open_leaves_nothing_when_block_fails(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v1")
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "weights").write_text("v2")
            raise ValueError
    assert (target / "weights").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_jsonl_round_trip_keeps_unicode(tmp_path):
    rows = [{"id": 1, "text": "保加利亚"}, {"id": 2, "text": "مرحبا"}]
    assert write_jsonl(tmp_path / "x.jsonl", rows) == 2
    assert read_jsonl(tmp_path / "x.jsonl") == rows


@pytest.mark.parametrize(
    "text, expected, message",
    [
        ('{"a": 1}', list, "items.json: expected a JSON list (plan items)"),
        ("[1, 2]", dict, "items.json: expected a JSON object (plan items)"),
        ("[1, 2", list, "items.json: not JSON ("),
    ],
)
def test_read_json_names_the_file_and_what_is_wrong_in_one_line(tmp_path, text, expected, message):
    (tmp_path / "items.json").write_text(text)
    with pytest.raises(UserError) as err:
        read_json(tmp_path / "items.json", "plan items", expected)
    assert message in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "items.json").write_text('[{"id": 1}]')
    assert read_json(tmp_path / "items.json", "plan items", list) == [{"id": 1}]


def test_file_sha256_is_the_hash_of_the_whole_file_across_blocks(tmp_path):
    data = bytes(range(256)) * 5000  # more than one 1 MiB block
    (tmp_path / "blob").write_bytes(data)
    assert file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


def test_read_lines_drops_line_ends_of_every_kind_and_keeps_empty_lines(tmp_path):
    (tmp_path / "x.txt").write_bytes("a b\r\n\nç\rlast".encode())
    assert read_lines(tmp_path / "x.txt") == ["a b", "", "ç", "last"]


def test_squad_walk_is_in_file_order_and_skips_paragraphs_without_questions(tmp_path):
    doc = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": "c1",
                        "qas": [{"id": 2, "question": "q2", "answers": [{"text": "x"}]}, {"id": "1", "question": "q1"}],
                    },
                    {"context": "c2"},
                ]
            },
            {
                "paragraphs": [
                    {"context": "c3", "qas": [{"id": "3", "question": "q3", "answers": [{"text": "y"}, {"text": "z"}]}]}
                ]
            },
        ]
    }
    assert [(p["context"], q["question"]) for p, q in squad.questions(doc, "t")] == [
        ("c1", "q2"),
        ("c1", "q1"),
        ("c3", "q3"),
    ]
    (tmp_path / "t.json").write_text(json.dumps(doc))
    assert squad.gold_answers(tmp_path / "t.json") == {"2": ["x"], "1": [], "3": ["y", "z"]}
    with pytest.raises(UserError, match="t.json: not SQuAD format"):
        list(squad.questions({"version": "1.1"}, "t.json"))


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_provenance_records_versions_and_seed():
    record = provenance({"seed": 3}, seed=3, signature="sig")
    assert record["seed"] == 3 and record["signature"] == "sig"
    assert record["versions"]["torch"] != "not installed"
    assert len(record["config_hash"]) == 16


def test_languages_custom_and_unknown():
    table = languages.registry({"xx": {"name": "Synthetic"}})
    assert table["xx"].name == "Synthetic" and table["zh"].whitespace_tokenized is False
    with pytest.raises(UserError, match="unknown language 'qq'"):
        languages.get("qq")


def test_cli_lists_commands():
    out = subprocess.run([sys.executable, "-m", "xllm", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "COMMAND" in out.stdout


def test_provenance_takes_the_workflows_config_hash_from_the_environment(monkeypatch):
    monkeypatch.setenv("XLLM_CONFIG_HASH", "abc123")
    assert provenance()["config_hash"] == "abc123"
    assert provenance(config={"seed": 1})["config_hash"] == config_hash({"seed": 1})
