"""The GLUE suite's WordPiece tokenizer is the same in every process (``tokenizers`` alone is not:
huggingface/tokenizers#1794), so a GLUE run is reproducible from its corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import write_text_data

TRAIN = """
import sys
from pathlib import Path
from acn_bench.data.text import corpus_path, read_corpus, train_tokenizer
root = Path(sys.argv[1])
train_tokenizer(read_corpus(corpus_path(root), None), 400, Path(sys.argv[2]))
"""


def test_the_tokenizer_trained_in_separate_processes_is_the_same(tmp_path):
    root = write_text_data(tmp_path / "text")
    vocabularies = []
    for attempt in range(4):  # the library alone gave 4 different vocabularies in 4 processes here
        path = tmp_path / f"tokenizer-{attempt}.json"
        subprocess.run([sys.executable, "-c", TRAIN, str(root), str(path)], check=True, capture_output=True)
        vocabularies.append(json.loads(path.read_text())["model"]["vocab"])
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies)
    assert [vocabularies[0][token] for token in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]
    added = json.loads(Path(tmp_path / "tokenizer-0.json").read_text())["added_tokens"]
    assert [token["content"] for token in added] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
