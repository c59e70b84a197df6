"""The paper's reported numbers (arXiv 2506.09714) as ``source="paper"`` records, suite by suite.

Accuracies are stored in [0, 1] like measured ones; the reported ± spread goes to
``config["reported_std"]``, and ``config["reference"]`` names the table or section of the paper
(or the authors' OpenReview rebuttal, for the numbers given there) that a record comes from. These
records are what ``acn-bench leaderboard`` puts beside the measured rows and what
``acn-bench leaderboard --paper`` checks reproduction against.
"""

from __future__ import annotations

from typing import Any

from acn_bench.results import Record, run_id

PAPER = "Dorovatas et al., Auto-Compressing Networks, NeurIPS 2025, arXiv 2506.09714"
# Numbers the authors reported in their rebuttal (OpenReview forum eIDa6pd9iQ), not in a table of the paper.
REBUTTAL = f"{PAPER}, rebuttal on OpenReview (forum eIDa6pd9iQ)"
# Where each suite's paper numbers are reported.
REFERENCES = {
    "compression": f"{REBUTTAL}: Mixer connectivity comparison, 700 epochs",
    "imagenet": f"{PAPER}, Appendix F, Table 6",
    "glue": f"{PAPER}, Appendix F, Table 6",
    "robustness": f"{PAPER}, §5.1",
    "transfer": f"{PAPER}, Table 4",
    "early_exit": f"{REBUTTAL}: early-exit speedups",
    "continual": f"{PAPER}, §6",
}


def paper_record(
    suite: str,
    dataset: str,
    backbone: str,
    connectivity: str,
    depth: int,
    metrics: dict[str, float],
    reported_std: dict[str, float] | None = None,
    params: int | None = None,
    strategy: str | None = None,
    reference: str | None = None,
    **config: Any,
) -> Record:
    """One row of a paper table as a record (profile ``paper``, seed 0, ``source="paper"``), citing
    ``reference`` (default: the suite's entry of :data:`REFERENCES`)."""
    reference = reference or REFERENCES.get(suite, PAPER)
    identity = {
        "suite": suite,
        "source": "paper",
        "dataset": dataset,
        "backbone": backbone,
        "connectivity": connectivity,
        "depth": depth,
        "strategy": strategy,
        **config,
    }
    return Record(
        suite=suite,
        profile="paper",
        dataset={"name": dataset, "source": "paper"},
        backbone={"name": backbone, "connectivity": connectivity, "depth": depth, "params": params, "config": {}},
        seed=0,
        config={**config, "reported_std": reported_std or {}, "reference": reference},
        metrics=metrics,
        run_id=run_id(identity),
        strategy=strategy,
        source="paper",
        created="2025-06-11T00:00:00+00:00",
        environment={"reference": reference},
    )


def compression_records() -> list[Record]:
    """The Mixer connectivity comparison (700 epochs, CIFAR-10); ViT's and BERT's compression rows are in the
    imagenet and glue suites."""
    records = []
    for connectivity, acc, std, cutoff, best in (
        ("residual", 0.903, 0.0009, 16, 615),
        ("acn", 0.920, 0.0008, 12, 695),
        ("dense", 0.903, 0.001, 16, 600),
        ("denseformer", 0.904, 0.0009, 16, 637),
    ):
        records.append(
            paper_record(
                "compression",
                "cifar10",
                "mixer_cifar",
                connectivity,
                10 if connectivity == "dense" else 16,
                {"accuracy": acc, "cutoff_layer": cutoff, "best_epoch": best},
                {"accuracy": std},
                epochs=700,
            )
        )
    return records


def imagenet_records() -> list[Record]:
    """ViT-B/16 on ImageNet: accuracy and the cost of the model truncated at its cutoff."""
    return [
        paper_record(
            "imagenet",
            "imagenet",
            "vit_b16",
            "residual",
            12,
            {"accuracy": 0.7074, "truncated_params": 86e6, "truncated_gflops": 33.7, "truncated_size_mb": 330},
            {"accuracy": 0.0009},
            params=86_000_000,
        ),
        paper_record(
            "imagenet",
            "imagenet",
            "vit_b16",
            "acn",
            12,
            {"accuracy": 0.7076, "truncated_params": 51e6, "truncated_gflops": 19.7, "truncated_size_mb": 195},
            {"accuracy": 0.0012},
            params=86_000_000,
        ),
    ]


def glue_records() -> list[Record]:
    """BERT-base fine-tuned on SST-2, QNLI and QQP: accuracy and the cost of the model truncated at its cutoff."""
    records = []
    for task, res, ac in (("sst2", 0.8663, 0.8668), ("qnli", 0.8314, 0.8307), ("qqp", 0.872, 0.873)):
        records.append(
            paper_record(
                "glue",
                f"glue-{task}",
                "bert_base",
                "residual",
                12,
                {
                    "score": res,
                    "accuracy": res,
                    "truncated_params": 110e6,
                    "truncated_gflops": 21.72,
                    "truncated_size_mb": 418,
                },
            )
        )
        records.append(
            paper_record(
                "glue",
                f"glue-{task}",
                "bert_base",
                "acn",
                12,
                {
                    "score": ac,
                    "accuracy": ac,
                    "truncated_params": 46e6,
                    "truncated_gflops": 5.44,
                    "truncated_size_mb": 174,
                },
            )
        )
    return records


def robustness_records() -> list[Record]:
    """ViT on ImageNet, trained clean, tested under noise."""
    rows = {
        "residual": (0.7074, 0.6768, 0.6280, 0.4546, 0.5680, 0.2748, 0.1034),
        "acn": (0.7076, 0.6950, 0.6454, 0.5189, 0.5980, 0.3635, 0.1998),
    }
    keys = (
        "accuracy",
        "gaussian_0.1_accuracy",
        "gaussian_0.2_accuracy",
        "gaussian_0.4_accuracy",
        "salt_pepper_0.01_accuracy",
        "salt_pepper_0.05_accuracy",
        "salt_pepper_0.1_accuracy",
    )
    return [
        paper_record("robustness", "imagenet", "vit_b16", conn, 12, dict(zip(keys, values)), noise_space="normalized")
        for conn, values in rows.items()
    ]


VIT_TRANSFER = f"{REBUTTAL}: ImageNet ViT to CIFAR-10 transfer"


def transfer_records() -> list[Record]:
    """ImageNet ViT -> CIFAR-10 (the rebuttal) and CIFAR-100 Mixer -> CIFAR-10 (Table 4)."""
    return [
        paper_record(
            "transfer",
            "cifar10",
            "vit_b16",
            "residual",
            12,
            {"accuracy": 0.9409, "cutoff_layer": 12},
            reference=VIT_TRANSFER,
            source_dataset="imagenet",
            mode="full",
        ),
        paper_record(
            "transfer",
            "cifar10",
            "vit_b16",
            "acn",
            12,
            {"accuracy": 0.9408, "cutoff_layer": 6},
            reference=VIT_TRANSFER,
            source_dataset="imagenet",
            mode="full",
        ),
        paper_record(
            "transfer",
            "cifar10",
            "mixer_cifar",
            "acn",
            16,
            {"accuracy": 0.8538},
            {"accuracy": 0.007},
            source_dataset="cifar100",
            mode="full",
        ),
    ]


def early_exit_records() -> list[Record]:
    """FLOPs speedups of the Mixer on CIFAR-10 against the full 16-layer residual Mixer."""
    rows = (
        ("residual", "inherent", 1.0),
        ("acn", "inherent", 1.5),
        ("residual", "branches", 2.2),
        ("acn", "branches", 2.6),
        ("residual", "shared", 2.4),
        ("acn", "shared", 3.3),
    )
    return [
        paper_record(
            "early_exit",
            "cifar10",
            "mixer_cifar",
            conn,
            16,
            {"flops_speedup": speedup},
            exit_mode=mode,
            exit_weights="uniform",
            branch_layers="auto",
        )
        for conn, mode, speedup in rows
    ]
