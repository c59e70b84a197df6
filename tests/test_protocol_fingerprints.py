"""Every suite's smoke run behaves as its protocol version says: the fingerprints pinned in
``tests/fingerprints.json`` (metrics rounded; see ``tests/fingerprints.py``) match, or the change of
behaviour comes with a bumped protocol and a new pin."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fingerprints import PINNED, SUITES, differences, fingerprints

from acn_bench.suites import get_suite

pytestmark = pytest.mark.slow  # every suite's smoke run, one thread: about 3 minutes here


def test_every_suites_smoke_run_matches_its_pinned_fingerprint(tmp_path):
    pinned = json.loads(PINNED.read_text())
    assert set(pinned) == set(SUITES)
    found = fingerprints(tmp_path / "runs")
    assert differences(found, pinned) == []


def test_a_changed_recipe_value_fails_the_fingerprint_until_the_protocol_is_bumped(tmp_path, monkeypatch):
    pinned = json.loads(PINNED.read_text())
    suite = get_suite("compression")
    smoke = suite.recipe("smoke", "digits")  # the Mixer's (the grid's default)
    longer = dataclasses.replace(smoke, train=dataclasses.replace(smoke.train, lr=smoke.train.lr * 2))
    monkeypatch.setitem(suite.recipes, "smoke", {"*": longer})
    found = fingerprints(tmp_path / "runs", ("compression",))
    [problem] = differences(found, pinned)
    assert problem.startswith("compression (protocol 2) trains or measures something else: ")
    assert "bump its protocol and re-pin" in problem
    monkeypatch.setattr(type(suite), "protocol", suite.protocol + 1)
    found["compression"]["protocol"] = suite.protocol
    assert differences(found, pinned) == ["compression: protocol 2 -> 3: pin the new fingerprint"]
