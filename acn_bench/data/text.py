"""Text data: a WordPiece tokenizer trained on the corpus, the MLM corpus packed into sequences,
GLUE tasks encoded as token-id tensors, and BERT's token masking.

* Corpus (``$ACN_BENCH_CORPUS`` or ``<data root>/corpus``): a ``.txt`` file, a folder of ``.txt``
  files (read with ``datasets``' ``text`` loader, one line a document) or a dataset saved with
  ``save_to_disk`` holding a ``text`` column.
* GLUE (``$ACN_BENCH_GLUE`` or ``<data root>/glue``): one folder per task, either a
  ``DatasetDict`` saved with ``save_to_disk`` (``load_dataset("nyu-mll/glue", "sst2").save_to_disk(...)``
  on a machine with internet) or the hub repository's parquet files ``<task>/train-*.parquet``,
  ``<task>/validation-*.parquet``. Columns and labels are those of ``nyu-mll/glue``.

GLUE sets are small enough to keep as int64 tensors ``N x T`` (pad id 0); the packed corpus is an
int32 ``.npy`` file read memory-mapped. Batches are drawn by index like the image sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from acn_bench.data.images import DATA_ENV, DEFAULT_DATA_ROOT
from acn_bench.data.splits import balanced_holdout, validation_count
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.io import atomic_write, write_text_atomic

CORPUS_ENV = "ACN_BENCH_CORPUS"
GLUE_ENV = "ACN_BENCH_GLUE"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0..4
PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 2, 3, 4


@dataclass(frozen=True)
class GlueTask:
    """One GLUE task: its text columns, number of outputs (1: regression), metric and evaluation split."""

    columns: tuple[str, ...]
    num_outputs: int
    metric: str
    eval_split: str = "validation"


GLUE_TASKS: dict[str, GlueTask] = {
    "cola": GlueTask(("sentence",), 2, "mcc"),
    "sst2": GlueTask(("sentence",), 2, "accuracy"),
    "mrpc": GlueTask(("sentence1", "sentence2"), 2, "accuracy"),
    "qqp": GlueTask(("question1", "question2"), 2, "accuracy"),
    "stsb": GlueTask(("sentence1", "sentence2"), 1, "pearson"),
    "mnli": GlueTask(("premise", "hypothesis"), 3, "accuracy", "validation_matched"),
    "qnli": GlueTask(("question", "sentence"), 2, "accuracy"),
    "rte": GlueTask(("sentence1", "sentence2"), 2, "accuracy"),
    "wnli": GlueTask(("sentence1", "sentence2"), 2, "accuracy"),
}


@dataclass(frozen=True)
class TextSet:
    """Token ids ``N x T`` (``[CLS] a [SEP] (b [SEP]) [PAD]...``; int64 tensor, or the int32 memory-mapped
    packed corpus) and targets (class ids or scores)."""

    ids: torch.Tensor | np.ndarray
    targets: torch.Tensor
    name: str

    def __len__(self) -> int:
        return self.ids.shape[0]

    def split_validation(self, size: int | float, seed: int = 0) -> tuple[TextSet, TextSet]:
        """``(train, validation)``: a seeded validation split, class-balanced for class targets
        (random for scores, e.g. STS-B)."""
        count = validation_count(size, len(self))
        if self.targets.is_floating_point():
            held = torch.sort(torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:count]).values
        else:
            held = balanced_holdout(self.targets, count, int(self.targets.max()) + 1, seed)
        keep = torch.ones(len(self), dtype=torch.bool)
        keep[held] = False
        rest = torch.nonzero(keep).flatten()
        return (
            TextSet(self.ids[rest], self.targets[rest], self.name),
            TextSet(self.ids[held], self.targets[held], f"{self.name}-val"),
        )


def _located(env: str, folder: str, root: str | Path | None, what: str, how: str) -> Path:
    if os.environ.get(env):
        path = Path(os.environ[env]).expanduser()
        require(path.exists(), f"{env} is set to {os.environ[env]!r}, which does not exist; point it at the {what}.")
        return path
    base = Path(root if root is not None else os.environ.get(DATA_ENV) or DEFAULT_DATA_ROOT).expanduser()
    if (base / folder).exists():
        return base / folder
    raise UserError(f"{what} not found: ${env} is not set and {base / folder} does not exist. {how}")


def corpus_path(root: str | Path | None = None) -> Path:
    """Where the pre-training corpus is: ``$ACN_BENCH_CORPUS``, else ``<data root>/corpus``."""
    return _located(
        CORPUS_ENV,
        "corpus",
        root,
        "text corpus",
        "Put .txt files (one document per line) in that folder, or set the variable.",
    )


def read_corpus(path: Path, max_lines: int | None = None):
    """The corpus as a ``datasets.Dataset`` with a ``text`` column (memory-mapped Arrow, so a
    Wikipedia-size corpus is not held in memory): a ``.txt`` file, a folder of ``.txt`` files, or a
    dataset saved with ``save_to_disk``. ``max_lines`` keeps the first lines.

    Raises:
        UserError: no ``.txt`` files, no ``text`` column, or no text at all.
    """
    import datasets

    datasets.disable_progress_bars()
    if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
        data = datasets.load_from_disk(str(path))
        if isinstance(data, datasets.DatasetDict):
            data = data["train"]
        require(
            "text" in data.column_names,
            f"the saved dataset {str(path)!r} has no 'text' column (columns: {data.column_names}).",
        )
    else:
        files = [path] if path.is_file() else sorted(path.rglob("*.txt"))
        require(bool(files), f"the corpus folder {str(path)!r} holds no .txt files.")
        data = datasets.load_dataset("text", data_files=[str(f) for f in files], split="train")
    if max_lines is not None and max_lines < len(data):
        data = data.select(range(max_lines))
    require(
        next(corpus_batches(data), None) is not None, f"the corpus {str(path)!r} holds no text (every line is empty)."
    )
    return data


def corpus_batches(corpus, size: int = 10_000) -> Iterator[list[str]]:
    """The corpus's non-empty lines, stripped, in batches of up to ``size`` lines."""
    for start in range(0, len(corpus), size):
        lines = [line.strip() for line in corpus[start : start + size]["text"] if line and line.strip()]
        if lines:
            yield lines


def train_tokenizer(corpus, vocab_size: int, path: Path):
    """A lower-casing BERT WordPiece tokenizer trained on the corpus (``tokenizers``), saved to ``path``.

    Loaded from there when it exists. Special tokens: ``[PAD]`` 0, ``[UNK]`` 1, ``[CLS]`` 2,
    ``[SEP]`` 3, ``[MASK]`` 4.

    The training is deterministic: ``tokenizers`` (0.23) gives the word-internal ``##x`` pieces their
    ids in hash-map order, and merges of equal counts are broken by id (huggingface/tokenizers#1794),
    so two processes could learn different vocabularies from one corpus. Here every ``##x`` piece the
    corpus can produce is handed to the trainer up front, in character order (as reserved tokens,
    which take ids right after the special tokens), so the ids, the merges and the vocabulary are the
    same in every process; the tokenizer is then rebuilt with only the five special tokens.
    """
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer
    from tokenizers.processors import BertProcessing

    if path.is_file():
        return Tokenizer.from_file(str(path))
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    pieces = continuing_pieces(wordpiece, corpus)
    wordpiece.train_from_iterator(
        corpus_batches(corpus), vocab_size=vocab_size, min_frequency=2, special_tokens=[*SPECIAL_TOKENS, *pieces]
    )
    tokenizer = BertWordPieceTokenizer(wordpiece.get_vocab(), lowercase=True)._tokenizer
    tokenizer.post_processor = BertProcessing(("[SEP]", SEP_ID), ("[CLS]", CLS_ID))
    write_text_atomic(path, tokenizer.to_str(pretty=True))  # what ``tokenizer.save`` writes
    return tokenizer


def continuing_pieces(wordpiece, corpus) -> list[str]:
    """``##x`` for every character ``x`` that follows another inside a pre-token of the corpus (after the
    tokenizer's own normalisation and pre-tokenisation), in character order."""
    normalizer, pre_tokenizer = wordpiece._tokenizer.normalizer, wordpiece._tokenizer.pre_tokenizer
    inner = {
        char
        for lines in corpus_batches(corpus)
        for line in lines
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))
        for char in word[1:]
    }
    return [f"##{char}" for char in sorted(inner)]


def pack_corpus(tokenizer, corpus, seq_len: int, path: Path) -> np.ndarray:
    """The corpus as ``[CLS] ... [SEP]`` sequences of exactly ``seq_len`` tokens (BERT's packing of
    consecutive lines; the remainder shorter than a sequence is dropped), as int32, saved to the
    ``.npy`` file ``path`` and returned memory-mapped (read from there when it exists, so processes
    share one copy through the page cache)."""
    if not path.is_file():
        tokenizer.no_truncation()
        tokenizer.no_padding()
        chunks = [
            np.fromiter(
                (i for e in tokenizer.encode_batch(lines, add_special_tokens=False) for i in e.ids), dtype=np.int32
            )
            for lines in corpus_batches(corpus)
        ]
        stream = np.concatenate(chunks)
        body = seq_len - 2
        count = len(stream) // body
        require(count >= 1, f"the corpus has {len(stream)} tokens, fewer than one sequence of {seq_len}.")
        packed = np.empty((count, seq_len), dtype=np.int32)
        packed[:, 0], packed[:, -1] = CLS_ID, SEP_ID
        packed[:, 1:-1] = stream[: count * body].reshape(count, body)
        atomic_write(path, lambda handle: np.save(handle, packed))
    return np.load(path, mmap_mode="r")


def glue_task(name: str) -> GlueTask:
    """The task called ``name`` (``sst2``, ``qnli``, ...)."""
    if name not in GLUE_TASKS:
        raise unknown_choice("GLUE task", name, list(GLUE_TASKS))
    return GLUE_TASKS[name]


def load_glue(name: str, root: str | Path | None = None):
    """The task's ``DatasetDict`` (train and its evaluation split) from the GLUE folder."""
    import datasets

    task = glue_task(name)
    base = _located(
        GLUE_ENV,
        "glue",
        root,
        "GLUE data",
        "Save each task there once, e.g. load_dataset('nyu-mll/glue', 'sst2').save_to_disk('<glue>/sst2').",
    )
    folder = base / name
    require(
        folder.is_dir(),
        f"GLUE task {name!r} not found: no folder {folder}; save it there with "
        f"load_dataset('nyu-mll/glue', {name!r}).save_to_disk({str(folder)!r}).",
    )
    datasets.disable_progress_bars()
    if (folder / "dataset_dict.json").is_file():
        data = datasets.load_from_disk(str(folder))
    else:
        files = {
            split: sorted(str(p) for p in folder.glob(f"{split}-*.parquet")) for split in ("train", task.eval_split)
        }
        missing = [split for split, found in files.items() if not found]
        require(not missing, f"{folder} holds neither a saved DatasetDict nor parquet files for {missing}.")
        data = datasets.load_dataset("parquet", data_files=files)
    for split in ("train", task.eval_split):
        require(split in data, f"GLUE task {name!r} in {folder} has no {split!r} split (found {list(data)}).")
        absent = [c for c in (*task.columns, "label") if c not in data[split].column_names]
        require(not absent, f"GLUE task {name!r} split {split!r} in {folder} lacks columns {absent}.")
    return data


def encode_glue(tokenizer, data, name: str, split: str, max_len: int, limit: int | None = None) -> TextSet:
    """One split of a GLUE task as padded token ids (pairs as ``[CLS] a [SEP] b [SEP]``) and targets."""
    task = glue_task(name)
    rows = data[split] if limit is None else data[split].select(range(min(limit, len(data[split]))))
    tokenizer.enable_truncation(max_len)
    tokenizer.enable_padding(length=max_len, pad_id=PAD_ID, pad_token="[PAD]")
    texts = [rows[c] for c in task.columns]
    encodings = tokenizer.encode_batch(list(zip(*texts)) if len(texts) == 2 else texts[0])
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
    dtype = torch.float32 if task.num_outputs == 1 else torch.int64
    return TextSet(ids, torch.tensor(rows["label"], dtype=dtype), f"glue-{name}")


def mask_tokens(
    ids: torch.Tensor, vocab_size: int, generator: torch.Generator, probability: float = 0.15
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: ``probability`` of the non-special tokens become targets; of those 80% are
    replaced by ``[MASK]``, 10% by a random token, 10% kept. Returns (inputs, labels with -100
    where no prediction is asked). Draws on the CPU from ``generator``, so it is reproducible."""
    shape = ids.shape
    draw = torch.rand((3, *shape), generator=generator).to(ids.device)
    random_ids = torch.randint(len(SPECIAL_TOKENS), vocab_size, shape, generator=generator).to(ids.device)
    chosen = (draw[0] < probability) & (ids >= len(SPECIAL_TOKENS))
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    masked = chosen & (draw[1] < 0.8)
    randomised = chosen & ~masked & (draw[2] < 0.5)
    inputs = torch.where(masked, torch.full_like(ids, MASK_ID), ids)
    return torch.where(randomised, random_ids, inputs), labels
