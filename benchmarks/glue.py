"""GLUE: AC-BERT vs Res-BERT, MLM pre-training on a corpus then fine-tuning on a GLUE task (arXiv 2506.09714, §4.2).

For every (backbone, connectivity, seed): train a WordPiece tokenizer on the corpus (once, shared
by all runs), pre-train the twin with masked language modelling (saved once in the model store
``<out>/glue/pretrained/`` and reused by every task), put a fresh pooler + classifier on, fine-tune
on the task and evaluate the task metric (accuracy; MCC for CoLA, Pearson for STS-B) at every depth
through the same head. Reported: the metric, the cutoff layer, the cost of the model truncated
there, MLM masked-token accuracy by depth, and tokens per second.

Data: the corpus (``$ACN_BENCH_CORPUS`` or ``<data root>/corpus``) and the GLUE tasks
(``$ACN_BENCH_GLUE`` or ``<data root>/glue/<task>``), see :mod:`acn_bench.data.text`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.backbones import backbone_options, create_backbone
from acn_bench.backbones.text import TextBackbone
from acn_bench.benchmarks import paper
from acn_bench.data.text import (
    GLUE_TASKS,
    TextSet,
    corpus_path,
    encode_glue,
    glue_task,
    load_glue,
    pack_corpus,
    read_corpus,
    train_tokenizer,
)
from acn_bench.errors import require
from acn_bench.results import Record, environment, run_id
from acn_bench.suites import TWINS, Measured, RunContext, Suite, expand_grid, register_suite
from acn_bench.suites.image import truncation_metrics
from acn_bench.suites.image_data import VALIDATION_SEED, backbone_info
from acn_bench.suites.model_store import stored_model
from acn_bench.training import TrainConfig, TrainResult, distributed, seed_everything
from acn_bench.training.text import TextTrainer


@dataclass(frozen=True)
class GlueRecipe:
    """Pre-training and fine-tuning of one profile.

    Attributes:
        backbone: registry name (a BERT-style text backbone).
        pretrain, finetune: the two training recipes.
        vocab_size: WordPiece vocabulary trained on the corpus.
        seq_len: pre-training sequence length and fine-tuning maximum length.
        max_corpus_lines, max_train, max_test: keep only the first lines / examples (None: all).
        heldout_fraction: share of the packed corpus kept out of pre-training to measure MLM accuracy.
        val_size: the validation split carved from the task's training examples (every choice is
            made on it; GLUE's own validation split is the test split, evaluated once).
    """

    backbone: str
    pretrain: TrainConfig
    finetune: TrainConfig
    vocab_size: int = 32768
    seq_len: int = 128
    max_corpus_lines: int | None = None
    max_train: int | None = None
    max_test: int | None = None
    heldout_fraction: float = 0.01
    val_size: int | float = 0.1


# arXiv 2506.09714, §4.2 and Appendix B: MLM 15%, sequence 128, vocabulary 32,768, AdamW lr 1e-3
# betas (0.9, 0.98) eps 1e-9 wd 0.01, clip 0.5, warm-up ratio 0.5, batch 2048, one epoch; GLUE: AdamW
# lr 2e-5, 6 epochs, batch 64, length 128, linear schedule without warm-up.
PAPER_PRETRAIN = TrainConfig(
    epochs=1,
    batch_size=2048,
    lr=1e-3,
    betas=(0.9, 0.98),
    eps=1e-9,
    weight_decay=0.01,
    clip_grad=0.5,
    warmup_epochs=0.5,
    min_lr=0.0,
    schedule="linear",
    label_smoothing=0.0,
    eval_batch_size=256,
    checkpoint_every=500,
)
PAPER_FINETUNE = TrainConfig(
    epochs=6,
    batch_size=64,
    lr=2e-5,
    weight_decay=0.01,
    warmup_epochs=0,
    min_lr=0.0,
    schedule="linear",
    label_smoothing=0.0,
    clip_grad=1.0,
    eval_batch_size=256,
)

RECIPES: dict[str, GlueRecipe] = {
    "smoke": GlueRecipe(
        "bert_tiny",
        dataclasses.replace(
            PAPER_PRETRAIN, epochs=2, batch_size=16, warmup_epochs=0.5, eval_batch_size=32, checkpoint_every=0
        ),
        dataclasses.replace(PAPER_FINETUNE, epochs=3, batch_size=16, lr=1e-3, eval_batch_size=32),
        vocab_size=400,
        seq_len=32,
        heldout_fraction=0.1,
    ),
    "quick": GlueRecipe(
        "bert_small",
        dataclasses.replace(PAPER_PRETRAIN, batch_size=64, lr=5e-4, checkpoint_every=200),
        dataclasses.replace(PAPER_FINETUNE, epochs=3, batch_size=32, lr=1e-4),
        vocab_size=8192,
        seq_len=128,
        max_corpus_lines=200_000,
        max_train=20_000,
        max_test=2_000,
    ),
    "paper": GlueRecipe("bert_base", PAPER_PRETRAIN, PAPER_FINETUNE),
}


@dataclass
class GlueData:
    """The task's examples (encoded: train, validation carved from train, GLUE's validation split as
    test) and the corpus the twin is pre-trained on."""

    train: TextSet
    val: TextSet
    test: TextSet
    tokenizer: Any
    packed: np.ndarray
    corpus: Path
    corpus_lines: int


@dataclass
class GlueRun:
    """A pre-trained twin fine-tuned on the task: the data, the trainer, its result and the pre-training's facts."""

    data: GlueData
    trainer: TextTrainer
    result: TrainResult
    test_probe: list[float]
    pretrained: dict[str, Any]
    pretrain_seconds: float


@register_suite
class GlueSuite(Suite):
    """AC-BERT vs Res-BERT: MLM pre-training, then one GLUE task, metric at every depth."""

    name = "glue"
    description = "BERT twins: MLM pre-training on a corpus, GLUE fine-tuning; task metric by depth, cutoff, cost"
    key_metrics = ("score", "cutoff_layer", "truncated_score", "truncated_params", "mlm_accuracy")
    metrics = (
        "score",
        "cutoff_layer",
        "truncated_score",
        "params",
        "truncated_params",
        "gflops",
        "truncated_gflops",
        "mlm_accuracy",
        "tokens_per_s",
    )
    datasets = tuple(GLUE_TASKS)
    default_datasets = {profile: "sst2" for profile in RECIPES}
    # 2: the WordPiece tokenizer is trained deterministically (acn_bench.data.text.train_tokenizer);
    #    under version 1 two processes could learn different vocabularies from one corpus.
    protocol = 2
    recipes = {profile: {"*": recipe} for profile, recipe in RECIPES.items()}

    def grid(self, profile: str, dataset: str, backbone: str | None = None) -> list[dict[str, Any]]:
        recipe = self.recipe(profile, dataset, backbone)
        name = backbone or recipe.backbone
        return expand_grid(
            {
                "dataset": [dataset],
                "backbone": [name],
                "connectivity": list(TWINS),
                "depth": [backbone_options(name)["depth"] if name == recipe.backbone else None],
                "cutoff_delta": [DEFAULT_CUTOFF_DELTA],
            }
        )

    def check(self, config: dict[str, Any]) -> None:
        glue_task(config["dataset"])
        require(
            isinstance(config["cutoff_delta"], (int, float)) and 0 <= config["cutoff_delta"] < 1,
            f"cutoff_delta must be a number in [0, 1), got {config['cutoff_delta']!r}.",
        )

    def load_data(self, config: dict[str, Any], recipe: GlueRecipe, context: RunContext) -> GlueData:
        """The task (checked before anything trains), the WordPiece tokenizer and the packed corpus (made once)."""
        task = glue_task(config["dataset"])
        data = load_glue(config["dataset"], context.data_root)  # fail on missing data before pre-training
        corpus = corpus_path(context.data_root)
        lines = read_corpus(corpus, recipe.max_corpus_lines)
        corpus_id = run_id({"corpus": str(corpus.resolve()), "lines": len(lines), "vocab": recipe.vocab_size})
        folder = context.out_dir / self.name / "tokenizers"
        tokenizer_file = folder / f"{corpus_id}.tokenizer"  # JSON, not a record
        packed_file = folder / f"{corpus_id}-{recipe.seq_len}.npy"
        if distributed.is_main():  # one process trains the tokenizer and packs the corpus; the others read them
            pack_corpus(train_tokenizer(lines, recipe.vocab_size, tokenizer_file), lines, recipe.seq_len, packed_file)
        distributed.barrier()
        tokenizer = train_tokenizer(lines, recipe.vocab_size, tokenizer_file)
        packed = pack_corpus(tokenizer, lines, recipe.seq_len, packed_file)
        train = encode_glue(tokenizer, data, config["dataset"], "train", recipe.seq_len, recipe.max_train)
        train, val = train.split_validation(recipe.val_size, VALIDATION_SEED)
        test = encode_glue(tokenizer, data, config["dataset"], task.eval_split, recipe.seq_len, recipe.max_test)
        return GlueData(train, val, test, tokenizer, packed, corpus, len(lines))

    def train(self, config: dict[str, Any], recipe: GlueRecipe, data: GlueData, context: RunContext) -> GlueRun:
        """The MLM-pre-trained twin (trained once, then reused) fine-tuned on the task with a fresh head."""
        task = glue_task(config["dataset"])
        started = time.perf_counter()
        model, pretrained = self._pretrained(config, recipe, data, context)
        pretrain_seconds = time.perf_counter() - started
        seed_everything(config["seed"])  # the head starts alike whether pre-training ran here or was loaded
        model.use_classifier_head(task.num_outputs)
        trainer = TextTrainer(
            model,
            recipe.finetune,
            data.train,
            data.val,
            mode="regress" if task.num_outputs == 1 else "classify",
            metric=task.metric,
            seed=config["seed"],
            device=context.device,
            progress=context.progress,
            checkpoint=context.checkpoint_path(self.name, self.identity(config)),
            identity=config,
            on_epoch=context.log_epoch,
        )
        result = trainer.fit()
        return GlueRun(data, trainer, result, trainer.evaluate(data.test), pretrained, pretrain_seconds)

    def measure(self, config: dict[str, Any], recipe: GlueRecipe, trained: GlueRun, context: RunContext) -> Measured:
        """The task metric on test, the cutoff layer (on validation), truncated score and cost, MLM accuracy and
        tokens per second."""
        task = glue_task(config["dataset"])
        trainer, result, test = trained.trainer, trained.result, trained.test_probe
        cutoff = cutoff_layer(result.val_probe_acc, config["cutoff_delta"])
        metrics = {
            "score": test[-1],
            task.metric: test[-1],
            "metric": task.metric,
            "val_score": result.val_accuracy,
            "chance_accuracy": 1 / task.num_outputs if task.num_outputs > 1 else 0.0,
            "best_epoch": result.best_epoch,
            "best_val_score": result.best_val_acc,
            "steps": result.steps,
            "truncated_score": test[cutoff],
            "truncated_val_score": result.val_probe_acc[cutoff],
            **truncation_metrics(trainer.model, cutoff, trainer.eval_set.ids[:32], 3),
            "mlm_accuracy": trained.pretrained["mlm_probe"][-1],
            "tokens_per_s": result.throughput.get("samples_per_s", 0.0) * trainer.tokens_per_sample,
            **{k: v for k, v in result.throughput.items() if k != "samples_per_s"},
        }
        return Measured(metrics)

    def make_record(self, config: dict[str, Any], recipe: GlueRecipe, trained: GlueRun, measured: Measured) -> Record:
        """The record: task, twin, both recipes, corpus facts, metric by depth, MLM accuracy by depth, timings."""
        task = glue_task(config["dataset"])
        data, trainer, result, pretrained = trained.data, trained.trainer, trained.result, trained.pretrained
        return Record(
            suite=self.name,
            profile=config["profile"],
            seed=config["seed"],
            run_id="",
            probe=trained.test_probe,
            dataset={
                "name": f"glue-{config['dataset']}",
                "source": "glue",
                "train_size": len(data.train),
                "val_size": len(data.val),
                "val_seed": VALIDATION_SEED,
                "test_size": len(data.test),
                "num_classes": task.num_outputs,
                "eval_split": task.eval_split,
            },
            backbone=backbone_info(trainer.model),
            metrics=measured.metrics,
            config={
                **config,
                "pretrain": recipe.pretrain.to_dict(),
                "finetune": recipe.finetune.to_dict(),
                "vocab_size": recipe.vocab_size,
                "seq_len": recipe.seq_len,
                "corpus": data.corpus.name,
                "corpus_lines": data.corpus_lines,
                "corpus_sequences": pretrained["sequences"],
            },
            timings={
                "pretrain_s": trained.pretrain_seconds,
                "pretrain_train_s": pretrained["train_s"],
                "pretrain_tokens_per_s": pretrained["tokens_per_s"],
                "finetune_s": result.train_seconds,
                "eval_s": result.eval_seconds,
                **result.throughput,
            },
            environment={**environment(), "device": str(trainer.device)},
            history={
                "epochs": result.history,
                "val_probe": result.val_probe_acc,
                "mlm_probe": pretrained["mlm_probe"],
                "pretrain_epochs": pretrained["history"],
            },
        )

    def _pretrained(
        self, config: dict[str, Any], recipe: GlueRecipe, data: GlueData, context: RunContext
    ) -> tuple[TextBackbone, dict[str, Any]]:
        """The MLM-pre-trained twin from the model store ``<out>/glue/pretrained/`` (keyed by
        :func:`pretrain_key`): trained once, then reused by every task."""
        identity = pretrain_key(config, recipe, data.corpus, data.corpus_lines, self.protocol_fields())

        def pretrain(checkpoint: Path) -> tuple[TextBackbone, dict[str, Any]]:
            seed_everything(config["seed"])
            overrides = {
                "vocab_size": data.tokenizer.get_vocab_size(),
                "max_len": max(recipe.seq_len, 128),
                "depth": config["depth"],
            }  # depth None: the backbone's own (a submitted backbone)
            model = create_backbone(
                config["backbone"],
                connectivity=config["connectivity"],
                **{k: v for k, v in overrides.items() if v is not None},
            )
            model.use_mlm_head()
            packed = data.packed
            heldout = max(1, int(len(packed) * recipe.heldout_fraction))
            test_ids = torch.from_numpy(np.array(packed[:heldout], dtype=np.int64))
            train, test = TextSet(packed[heldout:], test_ids, "corpus"), TextSet(test_ids, test_ids, "corpus")
            context.log(
                f"  pre-training {config['connectivity']} on {len(train)} sequences of {recipe.seq_len} tokens (MLM)"
            )
            trainer = TextTrainer(
                model,
                recipe.pretrain,
                train,
                test,
                mode="mlm",
                seed=config["seed"],
                device=context.device,
                progress=context.progress,
                identity=identity,
                checkpoint=checkpoint,
                on_epoch=context.log_epoch,
            )
            result = trainer.fit()
            model.use_classifier_head(2)  # saved without the MLM head; every task puts its own head on
            extra = {
                "mlm_probe": result.val_probe_acc,  # the held-out corpus (no choice is made on it)
                "history": result.history,
                "sequences": len(packed),
                "train_s": result.train_seconds,
                "tokens_per_s": result.throughput.get("samples_per_s", 0.0) * recipe.seq_len,
            }
            return model, extra

        folder = context.out_dir / self.name / "pretrained"
        stored = stored_model(folder, identity, pretrain, context, {"connectivity": config["connectivity"]})
        return stored.model, stored.extra

    def paper_records(self) -> list[Record]:
        """The paper's BERT-base GLUE rows."""
        return paper.glue_records()


PRETRAIN_FIELDS = ("backbone", "pretrain", "vocab_size", "seq_len", "max_corpus_lines", "heldout_fraction")


def pretrain_key(
    config: dict[str, Any], recipe: GlueRecipe, corpus: Path, corpus_lines: int, protocol: dict[str, int]
) -> dict[str, Any]:
    """The key of an MLM-pre-trained twin in the model store: backbone, connectivity, depth, seed, the
    recipe's pre-training fields (:data:`PRETRAIN_FIELDS`, which with the corpus determine the tokenizer
    and the packed sequences too), the corpus file and the lines read from it, and the protocol version
    (``protocol``: the suite's :meth:`~acn_bench.suites.Suite.protocol_fields`); never the task or the
    fine-tuning: every task shares the model."""
    recipe_fields = {k: v for k, v in dataclasses.asdict(recipe).items() if k in PRETRAIN_FIELDS}
    return {
        **protocol,
        "recipe": recipe_fields,
        "corpus": str(corpus.resolve()),
        "corpus_lines": corpus_lines,
        **{k: config[k] for k in ("backbone", "connectivity", "depth", "seed")},
    }
