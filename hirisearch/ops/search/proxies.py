"""Training-free proxies computed on random inputs (slow: they build and run the model).

- NASWOT (Mellor et al., "Neural Architecture Search without Training", ICML 2021): the binary
  activation pattern of every activation unit for each sample of a random batch; the score is
  ``log|det K|`` with ``K[i, j]`` = the number of units on which samples ``i`` and ``j`` agree.
  Higher means the untrained network tells inputs apart better. For smooth activations (GELU, SiLU)
  the pattern is the sign of the activation's input, as for ReLU.
- SynFlow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
  synaptic flow", NeurIPS 2020): with every parameter replaced by its absolute value and an all-ones
  input, ``R = sum(model(1))``; the score is ``sum |theta * dR/dtheta|``, reported as ``log10`` since
  it spans hundreds of orders of magnitude. Computed in float64, norms in inference mode.

Both run on the CPU at ``ProxySettings.img_size`` (default 224; the spec's own size when the model
cannot take it), seeded, so a configuration always gets the same score.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from hirisearch.errors import ProxyError, SpecError
from hirisearch.models.base import Family, SpecBase
from hirisearch.models.resolution import as_hw, size_label
from hirisearch.ops.search.types import ProxySettings

ACTIVATIONS = (nn.GELU, nn.ReLU, nn.SiLU, nn.Hardswish, nn.ReLU6)


def _plan(family: Family, spec: SpecBase, settings: ProxySettings) -> Any:
    if settings.img_size is not None:
        try:
            return family.plan(spec, as_hw(settings.img_size))
        except SpecError:
            pass
    return family.plan(spec, None)


def _ensure_fits(family: Family, plan: Any, batch: int, dtype: str) -> None:
    """Refuse, before building, a proxy pass whose estimated memory exceeds this machine's."""
    from hirisearch.cost.memory import estimate_memory
    from hirisearch.latency.device import ensure_fits

    est = estimate_memory(family.cost(plan), plan.input_shape, batch=batch, dtype=dtype)
    ensure_fits(
        est.total_bytes, "cpu", what=f"the proxy pass of {plan.name} at {size_label(plan.img_size)}"
    )


def naswot(family: Family, spec: SpecBase, settings: ProxySettings, *, seed: int = 0) -> float:
    """NASWOT score (higher is better) of ``spec`` on a random batch."""
    if settings.batch < 2:
        raise ProxyError("naswot needs a batch of at least 2 samples (proxy.batch)")
    torch.manual_seed(seed)
    plan = _plan(family, spec, settings)
    _ensure_fits(family, plan, settings.batch, "fp32")
    model = family.build(plan)
    model.eval()
    codes: list[torch.Tensor] = []

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        codes.append((inputs[0].detach() > 0).reshape(inputs[0].shape[0], -1))

    handles = [
        m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, ACTIVATIONS)
    ]
    if not handles:
        raise ProxyError(f"naswot: {spec.name} has no activation modules to read patterns from")
    x = torch.randn(settings.batch, *plan.input_shape)
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    c = torch.cat(codes, dim=1).to(torch.float64)
    k = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if float(sign) > 0 else -math.inf


def synflow(family: Family, spec: SpecBase, settings: ProxySettings, *, seed: int = 0) -> float:
    """log10 of the SynFlow score (higher is better) of ``spec``."""
    torch.manual_seed(seed)
    plan = _plan(family, spec, settings)
    _ensure_fits(family, plan, 2 * settings.batch, "fp32")  # float64: twice the fp32 bytes
    model = family.build(plan, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    x = torch.ones(1, *plan.input_shape, dtype=torch.float64)
    model.zero_grad()
    model(x).sum().backward()
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float((p.detach() * p.grad).abs().sum())
    if not math.isfinite(total):
        raise ProxyError(f"synflow overflowed on {spec.name} (score is not finite)")
    return math.log10(total) if total > 0 else -math.inf
