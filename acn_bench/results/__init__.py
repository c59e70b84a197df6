"""Result records (one JSON per run), their store, and the leaderboard tables built from them."""

from acn_bench.results.record import SCHEMA_VERSION, Record, environment, git_dirty, record_problems, run_id
from acn_bench.results.regime import chance_level, regime_flags
from acn_bench.results.store import has_record, load_records, read_record, record_path, write_record

__all__ = [
    "SCHEMA_VERSION",
    "Record",
    "chance_level",
    "environment",
    "git_dirty",
    "has_record",
    "load_records",
    "read_record",
    "record_path",
    "record_problems",
    "regime_flags",
    "run_id",
    "write_record",
]
