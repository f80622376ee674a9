"""Replaying repeated blocks and memoised meta kernels give exactly the counts of a full trace."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hirisearch.cost.counters import count_module
from hirisearch.cost.replay import MetaKernelCache, Replayer, expand, signatures
from hirisearch.models import get_family
from hirisearch.models.resolution import as_hw, size_key
from hirisearch.spec import load_spec
from hirisearch.targets import resolve
from tests.conftest import spec_id, structural_specs


def _both(model: nn.Module, shape: tuple[int, ...]):
    full = count_module(model, shape, with_acts=True, replay=False)
    fast = count_module(model, shape, with_acts=True)
    return full, fast


def _assert_same(full, fast) -> None:
    assert fast.total == full.total
    assert fast.uncounted_ops == full.uncounted_ops
    diff = {p for p in set(full.per_path) | set(fast.per_path)
            if full.per_path.get(p) != fast.per_path.get(p)}  # fmt: skip
    assert not diff, sorted(diff)[:5]


@pytest.mark.parametrize("path", [pytest.param(p, id=spec_id(p)) for p in structural_specs()])
def test_replayed_count_equals_the_full_trace_for_every_shipped_spec(path) -> None:
    spec = load_spec(path)
    family = get_family(spec.family)
    size = as_hw(min(family.test_sizes(spec), key=size_key))
    plan = family.plan(spec, size)
    with torch.device("meta"):
        model = family.build(plan, device="meta")
    _assert_same(*_both(model, plan.input_shape))


@pytest.mark.parametrize(
    "name", ["timm:resnet18", "timm:convnext_atto", "timm:vit_tiny_patch16_224"]
)
def test_replayed_count_equals_the_full_trace_for_timm_models(name) -> None:
    target = resolve(name)
    with torch.device("meta"):
        model = target.at(224).build(device="meta")
    _assert_same(*_both(model, target.at(224).input_shape))


class Block(nn.Module):
    def __init__(self, dim: int, scale: float = 1.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.scale = scale  # a plain attribute the forward depends on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.fc1(x))
        return x + y if self.scale == 1.0 else torch.cat([x, y], -1)[..., : x.shape[-1]] * 2


class Net(nn.Module):
    def __init__(self, scales: list[float], direct: bool = False, seq: bool = False) -> None:
        super().__init__()
        blocks = [Block(16, s) for s in scales]
        self.blocks = nn.Sequential(*blocks) if seq else nn.ModuleList(blocks)
        self.direct = direct

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b.forward(x) if self.direct else b(x)
        return x


def test_identical_blocks_run_once_and_their_counts_are_replayed() -> None:
    model = Net([1.0] * 5).to("meta")
    replayer = Replayer(model)
    with torch.inference_mode(), replayer.active():
        model(torch.empty(2, 7, 16, device="meta"))
    assert replayer.replays == [(f"blocks.{i}", "blocks.0") for i in range(1, 5)]
    assert "forward" not in vars(model.blocks[0])  # the wrappers are removed afterwards
    full, fast = _both(model, (7, 16))
    _assert_same(full, fast)
    assert fast.per_path["blocks.3.fc1"].linear == 7 * 16 * 32
    assert fast.per_path["blocks"].linear == 5 * 2 * 7 * 16 * 32  # a ModuleList sums its blocks


def test_a_callable_container_that_is_iterated_gets_no_entry_of_its_own() -> None:
    # An nn.Sequential iterated by its parent is never called: as in a full trace, its count is
    # the sum of its children's (not the replayed blocks' share alone).
    model = Net([1.0] * 4, seq=True).to("meta")
    full, fast = _both(model, (7, 16))
    _assert_same(full, fast)
    assert fast.per_path["blocks"].linear == 4 * 2 * 7 * 16 * 32


def test_a_differing_plain_attribute_or_input_shape_prevents_the_replay() -> None:
    model = Net([1.0, 0.5, 1.0]).to("meta")
    sig, _ = signatures(model)
    assert sig[id(model.blocks[0])] == sig[id(model.blocks[2])] != sig[id(model.blocks[1])]
    full, fast = _both(model, (7, 16))
    _assert_same(full, fast)
    wide = nn.Sequential(Block(16), Block(16)).to("meta")  # same blocks, same input: replayed
    replayer = Replayer(wide)
    with torch.inference_mode(), replayer.active():
        wide(torch.empty(1, 3, 16, device="meta"))
        wide[0](torch.empty(1, 5, 16, device="meta"))  # a new input shape runs again
    assert replayer.replays == [("1", "0")]


class SharedBlock(nn.Module):
    def __init__(self, shared: nn.Module) -> None:
        super().__init__()
        self.shared = shared  # the same module object in every block (CoaT's shared CPE)
        self.fc = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.shared(x))


def test_blocks_reaching_a_shared_module_always_run() -> None:
    # A replay could not place a shared module's calls: such models are counted by call site.
    shared = nn.Sequential(nn.Linear(16, 16), nn.GELU())
    model = nn.Sequential(SharedBlock(shared), SharedBlock(shared), SharedBlock(shared)).to("meta")
    _, replayable = signatures(model)
    assert id(model[0]) not in replayable and id(shared) not in replayable
    replayer = Replayer(model)
    with torch.inference_mode(), replayer.active():
        model(torch.empty(1, 4, 16, device="meta"))
    assert replayer.replays == []
    full, fast = _both(model, (4, 16))
    _assert_same(full, fast)
    # Counted by call site (hirisearch.cost.sites): each block's path holds its own call.
    for i in range(3):
        assert fast.per_path[f"{i}.shared"].linear == 4 * 16 * 16
        assert fast.per_path[str(i)].linear == 2 * 4 * 16 * 16
    assert fast.total.linear == 3 * 2 * 4 * 16 * 16


def test_a_block_called_through_forward_directly_always_runs() -> None:
    # The counter attributes such a call to the caller, so a replay could not place its count.
    model = Net([1.0] * 3, direct=True).to("meta")
    replayer = Replayer(model)
    with torch.inference_mode(), replayer.active():
        model(torch.empty(1, 4, 16, device="meta"))
    assert replayer.replays == []
    _assert_same(*_both(model, (4, 16)))


def test_expand_copies_subtrees_and_adds_to_called_ancestors_only() -> None:
    model = Net([1.0] * 2)
    per_path = {"": {"mm": 10}, "blocks.0": {"mm": 10}, "blocks.0.fc1": {"mm": 4},
                "blocks.0.fc2": {"mm": 6}}  # fmt: skip
    out = expand(per_path, [("blocks.1", "blocks.0")], model, {"blocks.0", "blocks.1"})
    assert out["blocks.1"] == {"mm": 10} and out["blocks.1.fc2"] == {"mm": 6}
    assert out[""] == {"mm": 20}
    assert "blocks" not in out  # never called: _categorise sums it from its children


def test_meta_kernel_cache_serves_repeats_and_skips_views_and_mutations() -> None:
    cache = MetaKernelCache()
    aten = torch.ops.aten
    x = torch.empty(2, 3, 8, device="meta")
    a = cache(aten.gelu.default, (x,), {})
    b = cache(aten.gelu.default, (x,), {})
    assert cache.hits == 1 and a.shape == b.shape and a.stride() == b.stride() and a is not b
    cache(aten.transpose.int, (x, 0, 1), {})  # a view: never cached
    cache(aten.transpose.int, (x, 0, 1), {})
    cache(aten.add_.Tensor, (x, x), {})  # a mutation: never cached
    cache(aten.add_.Tensor, (x, x), {})
    assert cache.hits == 1
    y = cache(aten.gelu.default, (torch.empty(2, 3, 9, device="meta"),), {})
    assert cache.hits == 1 and y.shape == (2, 3, 9)
