"""torchvision's published numbers as tests: every classification weight of ``torchvision.models``
carrying ``num_params`` and ``_ops`` metadata, profiled as ``torchvision:<name>`` at the crop size of
the weight's transforms. The figures are read from torchvision at test time, never copied here.

torchvision's ``_ops`` are GFLOPs in the papers' convention (conv and matmul multiply-adds counted
once, attention included), our convention: the traced MACs must be within 1% of them, and the
params equal ``num_params`` exactly, or a reason below says why not.
"""

from __future__ import annotations

from functools import cache

import pytest

pytest.importorskip("torchvision")

from torchvision import models  # noqa: E402

from hirisearch.cost.counters import TracedCount, count_traced  # noqa: E402
from hirisearch.targets import Target, resolve  # noqa: E402

TOLERANCE = 0.01

#: Where building without weights differs from the model the weights describe (keyword arguments
#: for the factory, with the reason).
BUILD_AS_WEIGHTED = {
    # torchvision builds GoogLeNet's auxiliary classifiers when weights are requested and deletes
    # them after loading; num_params and _ops describe the model without them.
    "googlenet": {"aux_logits": False},
}

#: torchvision states ``_ops`` to three decimals: below 0.05 GFLOPs the rounding alone (half a unit
#: of the last digit, 0.0005) exceeds 1% (ShuffleNetV2 x0.5: 0.0405 is stated as 0.040).
ROUNDING = 0.0005


def _weights() -> list[tuple[str, object]]:
    return [
        (name, w)
        for name in models.list_models(module=models)
        for w in models.get_model_weights(name)
        if "num_params" in w.meta and "_ops" in w.meta
    ]


WEIGHTS = _weights()


@cache
def _target(name: str) -> Target:
    return resolve(f"torchvision:{name}", kwargs=BUILD_AS_WEIGHTED.get(name))


@cache
def _count(name: str, crop: int) -> TracedCount:
    """One count per architecture and size (weights of the same model share it)."""
    t = _target(name)
    sized = t.at(crop)
    return count_traced(sized.build, sized.input_shape, source=t.ref, allow_eager=False)


def test_every_classification_weight_is_enumerated() -> None:
    assert len(WEIGHTS) >= 100  # 115 in torchvision 0.29
    assert {n for n, _ in WEIGHTS} >= {"resnet50", "vit_b_16", "swin_v2_t", "regnet_y_128gf"}


@pytest.mark.parametrize(("name", "weights"), WEIGHTS, ids=[str(w) for _, w in WEIGHTS])
def test_published_params_and_gflops(name: str, weights) -> None:  # noqa: ANN001
    crop = weights.transforms.keywords["crop_size"]
    crop = crop[0] if isinstance(crop, (tuple, list)) else crop
    traced = _count(name, int(crop))
    assert traced.mode == "meta"
    assert traced.total.params == weights.meta["num_params"]
    stated = weights.meta["_ops"]
    gmacs = traced.total.macs / 1e9
    assert abs(gmacs - stated) <= max(TOLERANCE * stated, ROUNDING), (gmacs, stated)
