"""``acn-bench submit``: run a suite's grid for a new backbone and add its records to the leaderboards.

Steps: load the plugin, check the backbone contract, run the grid into a scratch folder,
validate every record (schema, hash, backbone, no duplicate of a committed run), and only then
copy the records under ``leaderboards/records/<suite>/``. Any failure leaves ``leaderboards/``
untouched.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from acn_bench import progress
from acn_bench.backbones import backbone_entry
from acn_bench.backbones.contract import contract_problems
from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.plugins import load_plugin
from acn_bench.results.store import has_record, iter_record_files
from acn_bench.results.validate import validate_records
from acn_bench.suites import RunContext, get_suite, plan_runs, run_suite

CPU = torch.device("cpu")


@dataclass
class Submission:
    """What a submission wrote."""

    written: list[Path]
    seconds: float


def submit(
    plugins: list[Path],
    backbone: str,
    suite_name: str,
    profile: str,
    leaderboards_records: Path,
    *,
    dataset: str | None = None,
    seeds: int = 1,
    device: torch.device = CPU,
    log: Callable[[str], None] = print,
    show_progress: bool = False,
) -> Submission:
    """Run ``suite_name`` for ``backbone`` and add the validated records to ``leaderboards_records``.

    ``show_progress``: a bar through the steps (contract, runs, validation), the runs' bars under it.

    Raises:
        UserError: a plugin that fails to import, a broken contract, a failed run or an invalid or
            duplicate record; nothing is written to ``leaderboards_records`` then.
    """
    start = time.perf_counter()
    for plugin in plugins:
        log(f"loaded {plugin}: {load_plugin(plugin).summary()}")
    entry = backbone_entry(backbone)
    with (
        progress.display(show_progress),
        progress.task(f"submit {backbone}: contract", total=3) as steps,
        tempfile.TemporaryDirectory(prefix="acn-bench-submit-") as scratch,
    ):
        problems = contract_problems(backbone)
        if problems:
            raise UserError(f"backbone {backbone!r} ({entry.origin}) breaks the contract: " + "; ".join(problems) + ".")
        log(f"contract kept by {backbone!r}: forward, probe, truncate, equal twins, determinism")
        suite = get_suite(suite_name)
        configs = plan_runs(suite, profile, dataset, seeds, axes={"backbone": [backbone]})
        steps.update(advance=1, description=f"submit {backbone}: {len(configs)} run(s) of {suite.name}")
        context = RunContext(out_dir=Path(scratch), device=device, log=log, progress=show_progress)
        outcome = run_suite(suite, configs, context)
        steps.update(advance=1, description=f"submit {backbone}: validation")
        count, problems = validate_records(Path(scratch))
        if problems:
            raise UserError("the submission's records are invalid: " + "; ".join(problems))
        for record in outcome.records:
            if has_record(leaderboards_records, suite.name, record.run_id):
                raise UserError(
                    f"duplicate run: {leaderboards_records / suite.name / (record.run_id + '.json')} exists already."
                )
        texts = {path.name: path.read_text() for path in iter_record_files(Path(scratch), suite.name)}
        steps.advance()
    for name, text in texts.items():
        if json.loads(text)["backbone"]["name"] != backbone:
            raise UserError(f"record {name} is not of backbone {backbone!r}.")
    written = [write_text_atomic(leaderboards_records / suite.name / name, text) for name, text in texts.items()]
    return Submission(written=written, seconds=time.perf_counter() - start)
