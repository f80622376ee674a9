"""Four defects of the traced breakdown (totals right, breakdowns wrong), found by running a peer
counter's test suite through hirisearch; each test failed on the code before its fix.

- a bare ``nn.Linear`` as the whole model: the root path was added twice to the linear share
  ("linear 200.0%, attn -100.0%");
- a module shared by two parents: torch's counter files it under the last name a parent gave
  it, ``named_modules()`` keeps the first, so its matmuls were called attention and a child
  outweighed its parent; now counted by call site (:mod:`hirisearch.cost.sites`);
- ``--convention fvcore`` listed the resampling operators it counts as "uncounted";
- ``resolve(ref, input_shape=(10,))`` raised a raw ``IndexError``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from hirisearch.cost.counters import count_module
from hirisearch.errors import HirisearchError
from hirisearch.ops.profile import profile_target
from hirisearch.targets import resolve


def test_a_bare_linear_is_all_linear() -> None:
    tc = count_module(nn.Linear(8, 4).to("meta"), (8,), batch=5)
    root = tc.per_path[""]
    assert root.linear == 5 * 8 * 4 == root.macs
    assert root.attn == 0 and root.conv == 0 and root.other == 0


class Block(nn.Module):
    def __init__(self, shared: nn.Linear) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.shared = shared  # the same module object in both blocks (weight tying)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(torch.relu(self.fc(x)))


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(16, 16)
        self.enc = Block(shared)
        self.dec = Block(shared)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dec(self.enc(x)))


def test_a_shared_module_is_counted_where_it_is_called() -> None:
    tc = count_module(Tied().to("meta"), (16,), batch=2)
    one = 2 * 16 * 16
    assert tc.total.macs == 4 * one + 2 * 16 * 4
    assert tc.total.attn == 0 and tc.total.linear == tc.total.macs  # no attention in it
    for block in ("enc", "dec"):  # each call under the path it was called through
        assert tc.per_path[f"{block}.shared"].linear == one
        assert tc.per_path[f"{block}.fc"].linear == one
        assert tc.per_path[block].linear == 2 * one
        assert tc.per_path[f"{block}.shared"].macs <= tc.per_path[block].macs
    assert tc.total.params == sum(p.numel() for p in Tied().parameters())


NET = """
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = F.interpolate(self.conv(x), scale_factor=2, mode="bilinear")
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


def build():
    return Net()
"""


def test_fvcore_counts_resampling_and_does_not_call_it_uncounted(tmp_path: Path) -> None:
    f = tmp_path / "resampling_net.py"
    f.write_text(NET)
    target = resolve(f"{f}:build")
    fv = profile_target(target, 16, convention="fvcore")
    assert fv.categories_traced is not None and fv.categories_traced["resample"] > 0
    assert "upsample_bilinear2d" not in fv.uncounted_ops
    assert "_adaptive_avg_pool2d" not in fv.uncounted_ops
    ours = profile_target(target, 16)  # not in our convention's GFLOPs: listed as uncounted
    assert {"upsample_bilinear2d", "_adaptive_avg_pool2d"} <= set(ours.uncounted_ops)


def test_a_one_dimensional_input_shape_is_an_input_not_an_index_error(tmp_path: Path) -> None:
    f = tmp_path / "flat_net.py"
    f.write_text("from torch import nn\n\ndef build():\n    return nn.Linear(10, 3)\n")
    target = resolve(f"{f}:build", input_shape=(10,))
    sized = target.at()
    assert sized.input_shape == (10,)
    assert profile_target(target).macs == 30
    with pytest.raises(HirisearchError, match="a resolution applies to an image input"):
        target.at(64)
    for bad in ((), (0,), (10, -1)):
        with pytest.raises(HirisearchError):
            resolve(f"{f}:build", input_shape=bad).at()
