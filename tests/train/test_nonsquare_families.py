"""Training twins of ResFormer, HRViT and PIIP on non-square inputs: what each module keeps for
the backward pass equals a meta forward pass's census at every module path, and the analytic peak
stays as close to the simulated step's as on square inputs (training MACs on non-square sizes:
tests/train/test_macs.py, through ``Family.test_sizes``)."""

from __future__ import annotations

import pytest

from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainModel
from hirisearch.train.simulate import simulate_train_peak
from tests.conftest import SPECS
from tests.train.conftest import FAMILY_SPECS, sized
from tests.train.test_memory import PEAK_TOLERANCE, assert_kept_parity

#: (spec, non-square size): one per family, height below width as detection inputs are; PIIP
#: also as the windowed, dense detection backbone at COCO's 800x1280 (three branch grids of their
#: own, windows padded per axis).
CASES = {
    "resformer": (FAMILY_SPECS["resformer"], (224, 320)),
    "hrvit": (FAMILY_SPECS["hrvit"], (160, 224)),
    "piip": (FAMILY_SPECS["piip"], (272, 368)),
    "piip-det": (SPECS / "piip" / "tsb_det_1120_896_448.yaml", (800, 1280)),
}
CONFIGS = {
    "fp32": TrainConfig(batch=2, device="cpu"),
    "bf16": TrainConfig(batch=2, dtype="bf16", device="cpu"),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_kept_for_backward_equals_census(case, config) -> None:
    path, size = CASES[case]
    assert_kept_parity(path, CONFIGS[config], size)


@pytest.mark.parametrize("case", sorted(CASES))
def test_analytic_peak_matches_simulated(case) -> None:
    path, size = CASES[case]
    fam, plan, build = sized(path, size)
    assert plan.input_shape[1:] == size
    config = CONFIGS["fp32"]
    model = TrainModel.of(fam, plan)
    analytic = model.cost(config).memory
    sim = simulate_train_peak(
        build, plan.input_shape, config, checkpoint_units=model.units(config.checkpoint)
    )
    assert abs(analytic.peak / sim.peak - 1) <= PEAK_TOLERANCE, (analytic.peak, sim.peak)
