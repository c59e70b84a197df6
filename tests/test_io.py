"""The one atomic writer: whole files with mode 0644, or nothing (and no stray temporary file)."""

from __future__ import annotations

import stat

import pytest
import torch

from acn_bench.io import atomic_write, torch_save_atomic, write_text_atomic
from acn_bench.results.record import Record
from acn_bench.results.store import read_record, write_record


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


class Interrupted(BaseException):
    """Stands for a kill (or Ctrl-C) in the middle of writing."""


def test_written_files_are_whole_and_readable_by_everyone(tmp_path):
    text = write_text_atomic(tmp_path / "new" / "folder" / "table.md", "± Δ accuracy\n" * 1000)
    assert text.read_text(encoding="utf-8") == "± Δ accuracy\n" * 1000 and mode(text) == 0o644
    binary = atomic_write(tmp_path / "blob.bin", lambda handle: handle.write(bytes(range(256)) * 64))
    assert binary.read_bytes() == bytes(range(256)) * 64 and mode(binary) == 0o644
    saved = torch_save_atomic(tmp_path / "model.pt", {"w": torch.arange(5)})
    assert torch.equal(torch.load(saved, weights_only=True)["w"], torch.arange(5)) and mode(saved) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "model.pt", "new"]


@pytest.mark.parametrize("error", [ValueError, Interrupted])
def test_a_failed_write_leaves_no_file_and_the_old_one_untouched(tmp_path, error):
    def half_then_fail(handle):
        handle.write(b"half a file")
        raise error

    with pytest.raises(error):
        atomic_write(tmp_path / "fresh.json", half_then_fail)
    assert list(tmp_path.iterdir()) == []
    old = write_text_atomic(tmp_path / "old.json", "the old content\n")
    with pytest.raises(error):
        atomic_write(old, half_then_fail)
    assert old.read_text() == "the old content\n" and list(tmp_path.iterdir()) == [old]


def test_records_are_written_with_mode_0644(tmp_path):
    record = Record(
        suite="compression",
        profile="smoke",
        seed=0,
        run_id="abc123",
        probe=[0.1, 0.5],
        config={},
        dataset={"name": "digits"},
        backbone={"name": "mixer_tiny"},
        metrics={"accuracy": 0.5},
    )
    path = write_record(tmp_path, record)
    assert mode(path) == 0o644 and read_record(path).metrics == {"accuracy": 0.5}
    assert [p.name for p in path.parent.iterdir()] == ["abc123.json"]
