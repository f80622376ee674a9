"""Impossible sizes on counting-only paths: depth 10,000, width 1,000,000, resolution 16,384. The
analytic cost stays exact and shares identical blocks; the traced count runs on the meta device or
is skipped with a note, never silently. (Seconds per case: ``benchmarks/extreme_sizes.py``.)"""

from __future__ import annotations

import copy
import json

import yaml

from hirisearch.cost.primitives import attention
from hirisearch.layers.transformer import transformer_block_cost
from hirisearch.limits import MAX_BATCH, MAX_IMG_SIZE, TRACED_MODULE_LIMIT
from hirisearch.ops.profile import analytic_module_count, profile_target
from hirisearch.spec import parse_spec
from hirisearch.targets.spec import target_from_spec
from tests.conftest import SPECS
from tests.fuzzing import assert_refused, run_cli

BASE = yaml.safe_load((SPECS / "hiri_vit" / "s.yaml").read_text())


def _target(**edits):
    d = copy.deepcopy(BASE)
    d.update(edits)
    return target_from_spec(parse_spec(d, file="extreme.yaml"), "extreme.yaml")


def test_depth_10000_costs_exactly_10000_blocks_and_skips_the_trace_with_a_note() -> None:
    t = _target(depths=[2, 3, 4, 10_000, 3])
    tree = t.at(448).tree
    blocks = tree.child("stages.3.blocks")
    one = transformer_block_cost(320, 10, mlp_ratio=4.0, hw=(14, 14))
    assert blocks.total.macs == 10_000 * one.total.macs
    assert blocks.total.params == 10_000 * one.total.params
    assert len(blocks.children) == 10_000 and blocks.child("9999").total == one.total
    small = _target().at(448).tree
    assert tree.total.macs - small.total.macs == (10_000 - 6) * one.total.macs
    assert analytic_module_count(tree) > TRACED_MODULE_LIMIT
    r = profile_target(t, 448)
    assert r.macs == tree.total.macs and r.macs_traced is None and r.traced_mode is None
    assert r.traced_note.startswith("traced count skipped: the model has")
    assert r.traced_note in r.warnings


def test_width_1000000_matches_the_closed_form() -> None:
    c, n = 1_000_000, 14 * 14
    t = _target(dims=[32, 64, 128, c, 448])
    block = t.at(448).tree.child("stages.3.blocks.0").total
    # q, kv, proj, fc1, fc2: (1 + 2 + 1 + 4 + 4) C^2 per token; scores and A.V: 2 N^2 C
    assert block.linear == 12 * n * c * c
    assert block.attn == 2 * n * n * c == attention(10, n, n, c // 10).macs
    assert block.conv == 9 * 4 * c * n  # the MLP's depth-wise 3x3 on the 4C hidden map
    # weights 12 C^2; biases q 1, kv 2, proj 1, fc1 4, fc2 1; dwconv 4C*9 + 4C; two LayerNorms 2C
    assert block.params == 12 * c * c + (1 + 2 + 1 + 4 + 1) * c + 40 * c + 4 * c


def test_width_1000000_traces_on_meta_and_agrees() -> None:
    r = profile_target(_target(dims=[32, 64, 128, 1_000_000, 448]), 448)
    assert r.traced_mode == "meta" and r.macs_traced == r.macs and r.agreement == 0


def test_resolution_16384_plans_and_counts_on_meta() -> None:
    t = _target()
    plan = t.at(16384).plan
    assert plan.stages[-1].hw == (256, 256) and plan.head.hw == (256, 256)  # stride 64
    r = profile_target(t, 16384)
    assert r.traced_mode == "meta" and r.macs_traced == r.macs and r.macs > 10**15
    assert r.stages[1].out_shape == (1, 32, 4096, 4096)


def test_tensors_beyond_64_bit_sizes_skip_the_trace_with_a_note() -> None:
    r = profile_target(_target(), MAX_IMG_SIZE, batch=MAX_BATCH)
    assert r.macs_traced is None and "do not fit torch's 64-bit sizes" in r.traced_note
    assert r.macs > 2**63  # python integers: exact, no overflow


def test_cli_says_when_the_trace_is_skipped(tmp_path) -> None:
    d = copy.deepcopy(BASE)
    d["depths"] = [2, 3, 4, 10_000, 3]
    p = tmp_path / "deep.yaml"
    p.write_text(yaml.safe_dump(d))
    run = run_cli(["profile", str(p), "--json"], "extreme size")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["macs_traced"] is None and "traced count skipped" in doc["traced_note"]
    assert "hirisearch: warning: traced count skipped" in run.err


def test_sizes_beyond_the_limits_are_one_line() -> None:
    s = str(SPECS / "s.yaml")
    assert_refused(
        run_cli(["profile", s, "--res", str(MAX_IMG_SIZE + 32)], "extreme size"), "--res"
    )
    line = assert_refused(
        run_cli(["profile", s, "--no-trace", "--batch", str(MAX_BATCH + 1)], "extreme size")
    )
    assert "batch must be" in line
