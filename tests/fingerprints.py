"""Fingerprints of the suites' smoke runs: every record's deterministic metrics, rounded, per suite.

``tests/test_protocol_fingerprints.py`` compares them with the pinned ones in ``tests/fingerprints.json``.
A change of what a suite trains or measures changes its fingerprint: when intended, bump the suite's
``protocol`` (``Suite.protocol``) and pin the new fingerprints; when not, the test caught a bug.

    python tests/fingerprints.py --write     # re-pin (after bumping the protocol of a changed suite)

Timings (latency, throughput, seconds) are left out: they are not behaviour. Runs use one CPU thread
and seed 0, so the numbers do not depend on the machine's core count.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
PINNED = Path(__file__).with_name("fingerprints.json")
# every suite: the image suites on the built-in digits, imagenet on digits saved as class folders and
# glue on a tiny corpus and GLUE-layout tasks (both written by tests/conftest.py)
SUITES = ("compression", "robustness", "early_exit", "pruning", "low_data", "transfer", "continual", "imagenet", "glue")
TIMING = re.compile(r"latency|wall|_ms$|_s$|per_s|tflops|mfu|seconds|time")
DIGITS = 4  # accuracies of smoke runs are counts over 128 test images: 4 decimals keep them apart


def record_label(record: dict[str, Any]) -> str:
    """``acn · depth=4 · noise_space=pixel``: what tells a suite's smoke records apart."""
    config = {k: v for k, v in record["config"].items() if k not in ("seed", "normalization", "connectivity")}
    shown = " · ".join(f"{k}={v}" for k, v in sorted(config.items()) if not isinstance(v, (dict, list)))
    return f"{record['backbone']['connectivity']} · {shown}"


def metrics_of(record: dict[str, Any]) -> dict[str, float]:
    """The record's numeric metrics but timings, rounded to :data:`DIGITS` decimals."""
    return {
        name: round(float(value), DIGITS)
        for name, value in sorted(record["metrics"].items())
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not TIMING.search(name)
    }


def data_arguments(suite: str, data: Path) -> list[str]:
    """The ``run`` arguments that point ``suite``'s smoke run at the folders written under ``data``."""
    from conftest import write_class_folders, write_text_data

    if suite == "imagenet":
        folders = data / "digit-folders"
        if not folders.is_dir():
            write_class_folders(folders)
        return ["--dataset", f"imagefolder:{folders}"]
    if suite == "glue":
        if not (data / "text" / "glue").is_dir():
            write_text_data(data / "text")
        return ["--data-root", str(data / "text")]
    return []


def fingerprints(out: Path, suites: tuple[str, ...] = SUITES) -> dict[str, Any]:
    """Run every suite of ``suites`` on its smoke profile (seed 0) into ``out``; their fingerprints."""
    from acn_bench.cli import main
    from acn_bench.suites import get_suite

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        found: dict[str, Any] = {}
        for suite in suites:
            argv = ["run", suite, "--profile", "smoke", "--seeds", "1", "--out", str(out / "records"), "--no-progress"]
            argv += data_arguments(suite, out / "data")
            if main([*argv, "--jobs", "1", "--device", "cpu"]) != 0:
                raise RuntimeError(f"the smoke run of {suite} failed")
            records = [json.loads(p.read_text()) for p in sorted((out / "records" / suite).glob("*.json"))]
            found[suite] = {
                "protocol": getattr(get_suite(suite), "protocol", 1),  # suites before versions: 1
                "runs": dict(sorted((record_label(r), metrics_of(r)) for r in records)),
            }
        return found
    finally:
        torch.set_num_threads(threads)


def differences(found: dict[str, Any], pinned: dict[str, Any]) -> list[str]:
    """What differs between ``found`` and ``pinned`` fingerprints, suite by suite, in words (empty: none)."""
    problems = []
    for suite, now in found.items():
        before = pinned.get(suite)
        if before is None:
            problems.append(f"{suite}: no pinned fingerprint")
        elif now["protocol"] != before["protocol"]:
            problems.append(f"{suite}: protocol {before['protocol']} -> {now['protocol']}: pin the new fingerprint")
        elif now["runs"] != before["runs"]:
            changed = sorted(
                f"{label}: {name} {before['runs'].get(label, {}).get(name)} -> {value}"
                for label, metrics in now["runs"].items()
                for name, value in metrics.items()
                if before["runs"].get(label, {}).get(name) != value
            )
            missing = sorted(set(before["runs"]) ^ set(now["runs"]))
            problems.append(
                f"{suite} (protocol {now['protocol']}) trains or measures something else: "
                + "; ".join(changed[:5] + [f"runs added or gone: {m}" for m in missing[:3]])
                + ". If intended, bump its protocol and re-pin (python tests/fingerprints.py --write)."
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"pin the fingerprints in {PINNED.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        found = fingerprints(Path(folder))
    text = json.dumps(found, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if args.write:
        PINNED.write_text(text)
        print(f"wrote {PINNED}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
