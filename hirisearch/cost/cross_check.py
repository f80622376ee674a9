"""External counters as cross-check columns (fvcore, thop, ptflops), each labelled with what it
misses. They run eagerly on the CPU at batch 1."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from hirisearch.errors import CountingError

aten = torch.ops.aten


# ------------------------------------------------------------------- cross-check counters
@dataclass(frozen=True)
class CrossCheck:
    """One external counter's total on the same model and input, in MACs."""

    counter: str
    macs: int | None
    params: int | None
    misses: str
    seconds: float
    error: str = ""


#: What each external counter misses, as the column label says it.
COUNTER_MISSES = {
    "fvcore": "misses fused SDPA attention; counts BN/LN (2 and 5 per element)",
    "thop": "misses attention matmuls (functional ops) and SDPA; counts BN",
    "ptflops": "misses fused SDPA attention and functional matmuls; counts norms and activations",
}
COUNTERS = tuple(COUNTER_MISSES)


def cross_check(counter: str, model: nn.Module, input_shape: tuple[int, ...]) -> CrossCheck:
    """Count ``model`` (built on the CPU) with an external counter, eagerly, batch 1."""
    if counter not in COUNTER_MISSES:
        raise CountingError(f"unknown counter {counter!r}; valid: {', '.join(COUNTERS)}")
    model.eval()
    x = torch.randn(1, *input_shape)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            macs, params = _COUNTER_FNS[counter](model, x)
    except Exception as e:  # noqa: BLE001 - third-party counters fail in many ways; report, don't crash
        return CrossCheck(
            counter,
            None,
            None,
            COUNTER_MISSES[counter],
            time.perf_counter() - start,
            f"{type(e).__name__}: {e}"[:200],
        )
    return CrossCheck(
        counter,
        int(macs),
        None if params is None else int(params),
        COUNTER_MISSES[counter],
        time.perf_counter() - start,
    )


def _fvcore(model: nn.Module, x: torch.Tensor) -> tuple[float, int | None]:
    import logging

    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis.total(), sum(p.numel() for p in model.parameters())


def _thop(model: nn.Module, x: torch.Tensor) -> tuple[float, int | None]:
    import copy

    from thop import profile

    macs, params = profile(copy.deepcopy(model), inputs=(x,), verbose=False)
    return macs, int(params)


def _ptflops(model: nn.Module, x: torch.Tensor) -> tuple[float, int | None]:
    from ptflops import get_model_complexity_info

    macs, params = get_model_complexity_info(
        model,
        tuple(x.shape[1:]),
        as_strings=False,
        print_per_layer_stat=False,
        verbose=False,
        backend="pytorch",
    )
    return macs, params


_COUNTER_FNS: dict[str, Callable[[nn.Module, torch.Tensor], tuple[float, int | None]]] = {
    "fvcore": _fvcore,
    "thop": _thop,
    "ptflops": _ptflops,
}
