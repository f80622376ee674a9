"""The section-wise front is the enumerated front: the same configurations with the same metrics,
and the same counts, on every shipped space small enough to enumerate and on random small spaces;
its dynamic programme is the brute-force front of random chains (sums and maxima, validity,
budgets either way, objectives either way)."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np
import pytest

from hirisearch.errors import ExactError, SpecError
from hirisearch.ops.search.chain import run_sections
from hirisearch.ops.search.counting import IN, OPEN, OUT, count_inside
from hirisearch.ops.search.enumeration import sweep
from hirisearch.ops.search.exact import Model
from hirisearch.ops.search.exact_run import choose_method
from hirisearch.ops.search.pareto import front_mask
from hirisearch.ops.search.sections import Factor, Problem, front_by_sections
from hirisearch.ops.search.space import load_space, parse_space
from tests.latency.calibrations import synthetic_calibration
from tests.search.conftest import ROOT

SPACES = sorted((ROOT / "specs" / "search").glob("*.yaml"))
#: Shipped spaces up to this size are enumerated by the test.
ENUMERABLE = 6_000_000


def _same(space_path: Path | None = None, space=None) -> None:  # noqa: ANN001
    space = space or load_space(space_path)
    cal = synthetic_calibration()
    by_sections = run_sections(Model(space, cal, seed=space.seed))
    enumerated = sweep(Model(space, cal, seed=space.seed))
    assert by_sections.front_index.tolist() == enumerated.front_index.tolist()
    assert np.array_equal(by_sections.front_points, enumerated.front_points)
    assert by_sections.valid == enumerated.valid
    assert by_sections.invalid_reasons == enumerated.invalid_reasons
    assert by_sections.feasible == enumerated.feasible
    assert by_sections.violations == enumerated.violations


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_sections_equal_enumeration_on_shipped_spaces(path: Path) -> None:
    space = load_space(path)
    if space.size > ENUMERABLE:
        pytest.skip(f"{space.size:,} configurations: too many to enumerate in a test")
    _same(space=space)


#: Axes random spaces draw from, per base spec: (path, values).
POOLS = {
    "hiri_vit/s.yaml": [
        ("depths.1", [1, 2, 3]), ("depths.3", [2, 4, 6]), ("dims.2", [96, 128]),
        ("dims.3", [256, 288, 320]), ("num_heads.3", [8, 9, 10]), ("mlp_ratios.3", [3, 4]),
        ("mlp_ratios.4", [2, 4]), ("sr_ratios.3", [1, 2]), ("dims.4", [384, 448]),
        ("num_heads.4", [12, 14]),
    ],
    "swin/t.yaml": [
        ("embed_dim", [64, 96]), ("depths.2", [2, 4, 6]), ("num_heads.1", [3, 4, 6]),
        ("mlp_ratio", [3.0, 4.0]), ("window_size", [7, 8]), ("depths.1", [2, 4]),
    ],
    "deit/s.yaml": [
        ("embed_dim", [192, 256, 384]), ("depth", [4, 6, 8]), ("num_heads", [3, 4, 6]),
        ("mlp_ratio", [2.0, 4.0]), ("patch_size", [16, 32]),
    ],
}  # fmt: skip
METRIC_NAMES = ("params", "gmacs", "activations", "latency_ms", "params_m")


def _random_space(rng: random.Random) -> dict:
    base = rng.choice(sorted(POOLS))
    axes = rng.sample(POOLS[base], rng.randint(2, 5))
    names = rng.sample(METRIC_NAMES, rng.randint(1, 3))
    objectives = [{rng.choice(["minimize", "maximize"]): n} for n in names]
    budgets = {}
    for n in rng.sample(METRIC_NAMES[:4], rng.randint(0, 2)):
        budgets[n] = {rng.choice(["max", "min"]): None}
    return {
        "base": f"../{base}",
        "img_size": 224,
        "axes": {p: {"choices": v} for p, v in axes},
        "budgets": budgets,
        "objectives": objectives,
        "strategy": "exact",
    }


@pytest.mark.parametrize("seed", range(12))
def test_sections_equal_enumeration_on_random_spaces(seed: int) -> None:
    rng = random.Random(seed)
    file = str(ROOT / "specs" / "search" / "random.yaml")
    while True:  # a space whose every value some configuration takes
        doc = _random_space(rng)
        try:
            parse_space({**doc, "budgets": {}}, file=file)
            break
        except SpecError:
            continue
    names = {"params": 1.0, "params_m": 1e-6, "gmacs": 1e-9, "activations": 1.0}
    if doc["budgets"]:  # limits at a random quantile of the base spec's value
        probe = parse_space({**doc, "budgets": {}}, file=file)
        cal = synthetic_calibration()
        base = Model(probe, cal).oracle(Model(probe, cal).witness or ())
        for name, bound in doc["budgets"].items():
            if name == "latency_ms":
                from hirisearch.latency.predict import predict_latency_ms

                value = predict_latency_ms(base.tree, cal, family=probe.base["family"])
            else:
                c = base.cost
                value = {"params": c.params, "gmacs": c.macs, "activations": c.acts}[name]
                value *= names[name]
            (kind,) = bound
            bound[kind] = float(f"{value * rng.uniform(0.7, 1.3):.4g}")
    _same(space=parse_space(doc, file=file))


def _brute(radix, factors, how, objectives, limits):  # noqa: ANN001, ANN202
    """Every configuration: its sums, validity, feasibility; the front (smallest index wins)."""
    rows = []
    for index, digits in enumerate(itertools.product(*(range(r) for r in radix))):
        sums = np.array([-(1 << 62) if c == "max" else 0 for c in how])
        ok = True
        for f in factors:
            key = sum(digits[a] * m for a, m in zip(f.axes, f.mult, strict=True))
            ok &= bool(f.ok[key])
            if f.values is not None:
                v = f.values[key]
                sums = np.array([max(s, x) if c == "max" else s + x
                                 for s, x, c in zip(sums, v, how, strict=True)])  # fmt: skip
        if ok:
            rows.append((index, sums))
    inside = [(i, s) for i, s in rows if all(_inside(s, lim) for lim in limits)]
    if not inside:
        return rows, inside, set()
    pts = np.array([[s[q] * sign for q, sign in objectives] for _, s in inside], dtype=float)
    keys = np.array([i for i, _ in inside], dtype=np.int64)
    return rows, inside, set(keys[front_mask(pts, keys)].tolist())


def _inside(sums: np.ndarray, limit: tuple[int, str, int]) -> bool:
    q, kind, value = limit
    return bool(sums[q] <= value) if kind == "max" else bool(sums[q] >= value)


def _random_chain(rng: np.random.Generator):  # noqa: ANN202
    n_axes = int(rng.integers(2, 6))
    radix = [int(r) for r in rng.integers(1, 4, size=n_axes)]
    n_q = int(rng.integers(1, 4))
    how = tuple(rng.choice(["sum", "sum", "max"]) for _ in range(n_q))
    factors = []
    for k in range(int(rng.integers(1, 6))):
        axes = tuple(sorted(rng.choice(n_axes, size=int(rng.integers(0, 3)), replace=False)))
        mult = [math.prod(radix[b] for b in axes[j + 1 :]) for j in range(len(axes))]
        size = math.prod(radix[a] for a in axes)
        validity = rng.random() < 0.25
        values = None if validity else rng.integers(-3, 8, size=(size, n_q)).astype(np.int64)
        ok = rng.random(size) < (0.7 if validity else 0.95)
        factors.append(Factor(f"f{k}", tuple(int(a) for a in axes), tuple(mult), values, ok))
    objectives = [(int(rng.integers(n_q)), int(rng.choice([1, -1])))
                  for _ in range(int(rng.integers(1, 3)))]  # fmt: skip
    objectives = list(dict.fromkeys(objectives))
    limits = [(int(rng.integers(n_q)), str(rng.choice(["max", "min"])), int(rng.integers(-2, 12)))
              for _ in range(int(rng.integers(0, 3)))]  # fmt: skip
    return radix, factors, how, objectives, limits


def _verdicts(limits, low, high):  # noqa: ANN001, ANN202
    out = np.full((len(low), len(limits)), OPEN, dtype=np.int8)
    for k, (q, kind, value) in enumerate(limits):
        best, worst = (low, high) if kind == "max" else (high, low)
        out[~_holds(best[:, q], kind, value), k] = OUT
        out[_holds(worst[:, q], kind, value), k] = IN
    return out


def _holds(col: np.ndarray, kind: str, value: int) -> np.ndarray:
    return col <= value if kind == "max" else col >= value


@pytest.mark.parametrize("seed", range(300))
def test_chain_front_and_counts_are_the_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    radix, factors, how, objectives, limits = _random_chain(rng)
    tied = [c for c in objectives if how[c[0]] == "sum"]
    coords = [*tied, *(c for c in objectives if c not in tied)]
    coords += [c for c in ((q, 1 if k == "max" else -1) for q, k, _ in limits) if c not in coords]
    problem = Problem(
        how,
        tuple(coords),
        len(tied),
        lambda low, high: (_verdicts(limits, low, high) != OUT).all(axis=1),
    )
    chain = front_by_sections(factors, radix, problem)
    rows, inside, want = _brute(radix, factors, how, objectives, limits)
    feas = [k for k, s in enumerate(chain.sums) if all(_inside(s, lim) for lim in limits)]
    got: set[int] = set()
    if feas:
        pts = np.array([[chain.sums[k][q] * s for q, s in objectives] for k in feas], dtype=float)
        keys = chain.index[feas]
        got = set(keys[front_mask(pts, keys)].tolist())
    assert got == want
    reads = [(q,) for q, _, _ in limits]
    n = count_inside(factors, radix, how, lambda lo, hi: _verdicts(limits, lo, hi), reads)
    assert n == len(inside)


def test_auto_picks_sections_for_a_large_space_and_says_which_ran() -> None:
    space = load_space(ROOT / "specs" / "search" / "hiri_vit_5g.yaml")
    model = Model(space, synthetic_calibration())
    method, estimates = choose_method(space, model)
    assert method == "sections" and estimates["sections"] < estimates["enumerate"]
    small = load_space(ROOT / "specs" / "search" / "resformer_s.yaml")
    assert choose_method(small, Model(small))[0] in ("enumerate", "sections")


def test_a_chain_that_keeps_too_much_gives_up_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    from hirisearch.ops.search import sections

    monkeypatch.setattr(sections, "KEEP_MAX", 3)
    space = load_space(ROOT / "specs" / "search" / "deit_s_448.yaml")
    with pytest.raises(ExactError, match="partial sums"):
        run_sections(Model(space))


def test_the_space_file_chooses_the_method_and_the_result_says_which_ran(tmp_path: Path) -> None:
    from hirisearch.ops.search.run import SearchOptions, run_search
    from tests.search.conftest import write_space

    for method in ("enumerate", "sections"):
        space = load_space(write_space(tmp_path, strategy="exact", exact={"method": method}))
        assert space.exact_method == method
        result = run_search(space, SearchOptions(out=tmp_path / method, trials=1, verify=False))
        assert result.exact is not None and result.exact["method"] == method
    with pytest.raises(SpecError, match="expected one of auto, enumerate, sections"):
        load_space(write_space(tmp_path, strategy="exact", exact={"method": "fast"}))
    with pytest.raises(SpecError, match="applies to `strategy: exact`"):
        load_space(write_space(tmp_path, strategy="tpe", exact={"method": "sections"}))
