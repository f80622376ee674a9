"""Per-block values (one number per block of a stage, ``mlp_ratios[3]: [4, 3, 4, 3, 4, 3]``):
parity of the analytic cost with the built model and its traced count, as for every shipped
spec, on HIRI-ViT (transformer and HR stages), Swin and ViT; a per-block list of the wrong length
is refused in words; a list of equal values is the spec with one number."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from hirisearch.errors import FieldError, SpecError
from hirisearch.models import get_family
from hirisearch.spec import load_spec
from hirisearch.spec.load import spec_error_from
from tests.conftest import ROOT
from tests.harness import assert_parity

#: (shipped spec, changes making some stages per-block, size).
CASES = {
    "hiri_vit": ("hiri_vit/s.yaml", {
        "num_heads": [0, 0, [2, 4, 8, 4], [10, 5, 10, 8, 10, 5], 14],
        "mlp_ratios": [[4, 2], 4, [8, 4, 6, 8], [4, 3, 4, 2, 4, 3], [4, 3, 2]],
    }, 224),
    "swin": ("swin/t.yaml", {
        "num_heads": [3, [6, 4], [12, 8, 6, 12, 8, 6], 24],
        "mlp_ratio": [4.0, [4.0, 3.0], [4.0, 2.0, 3.0, 4.0, 2.0, 3.0], 3.0],
    }, 224),
    "vit": ("deit/t.yaml", {
        "num_heads": [3, 6, 3, 2, 3, 6, 3, 3, 2, 3, 6, 3],
        "mlp_ratio": [4.0, 2.0, 3.0, 4.0, 4.0, 2.0, 3.0, 4.0, 4.0, 2.0, 3.0, 4.0],
    }, 224),
}  # fmt: skip


def _spec(family: str, **changes: Any) -> Any:
    path, per_block, _ = CASES[family]
    base = load_spec(ROOT / "specs" / path)
    data = {**base.model_dump(), **per_block, **changes}
    return get_family(base.family).spec_type.model_validate(data)


@pytest.mark.parametrize("family", sorted(CASES))
def test_per_block_values_keep_parity(family: str) -> None:
    spec = _spec(family)
    assert_parity(spec, CASES[family][2])
    fam = get_family(spec.family)
    plan = fam.plan(spec, fam.forward_size(spec))
    with torch.inference_mode():  # a real forward pass: the per-block modules fit together
        out = fam.build(plan).eval()(torch.randn(1, *plan.input_shape))
    assert tuple(out.shape) == (1, *fam.cost(plan).out_shape) and torch.isfinite(out).all()


@pytest.mark.parametrize("family", sorted(CASES))
def test_per_block_list_of_one_value_is_the_number(family: str) -> None:
    path, _, size = CASES[family]
    base = load_spec(ROOT / "specs" / path)
    fam = get_family(base.family)
    data = base.model_dump()
    if family == "vit":
        data |= {"num_heads": [data["num_heads"]] * data["depth"]}
    else:
        field = "mlp_ratios" if family == "hiri_vit" else "num_heads"
        data[field] = [*data[field][:-1], [data[field][-1]] * data["depths"][-1]]
    listed = fam.spec_type.model_validate(data)
    assert fam.cost(fam.plan(listed, size)).flatten() == fam.cost(fam.plan(base, size)).flatten()


@pytest.mark.parametrize(
    ("family", "changes", "words"),
    [
        ("hiri_vit", {"mlp_ratios": [4, 4, 8, [4, 3], 4]}, "`len(mlp_ratios[3]) == depths[3]`"),
        ("hiri_vit", {"num_heads": [0, 0, 4, [10, 10, 10, 10, 10, 7], 14]},
         "num_heads[3][5]: `dims[3] % num_heads[3][5] == 0`"),
        ("swin", {"num_heads": [3, 6, [12, 12], 24]}, "`len(num_heads[2]) == depths[2]`"),
        ("swin", {"num_heads": [3, 6, [12, 12, 12, 12, 12, 7], 24]}, "num_heads[2][5]"),
        ("vit", {"mlp_ratio": [4.0, 2.0]}, "`len(mlp_ratio) == depth`"),
    ],
)  # fmt: skip
def test_wrong_per_block_lists_are_refused_in_words(
    family: str, changes: dict[str, Any], words: str
) -> None:
    path, _, _ = CASES[family]
    base = load_spec(ROOT / "specs" / path)
    data = {**base.model_dump(), **changes}
    with pytest.raises(Exception) as info:  # noqa: B017, PT011
        get_family(base.family).spec_type.model_validate(data)
    err = info.value
    text = (
        spec_error_from(err, file=None).one_line() if not isinstance(err, FieldError) else str(err)
    )
    assert words in text, text
    assert isinstance(err, (SpecError, FieldError)) or "ValidationError" in type(err).__name__
