"""The tape's bookkeeping beyond what operators keep, against hand-derived bytes: the loss's
backward scratch, gradients that wait for the operator that made their tensor, and what is alive
in the forward pass (its inputs and output, what a module holds), whose peak is the ``forward``
phase. The task models' peaks (tests/train/test_task_train.py) check them against the
simulated step."""

from __future__ import annotations

from hirisearch.train.config import TrainConfig
from hirisearch.train.memory import MemoryModel
from hirisearch.train.tape import F32, LOW, Tape


def test_the_loss_holds_four_fp32_tensors_of_each_output_and_their_gradients_wait() -> None:
    t = Tape()
    x = t.image(12)
    y1 = t.linear(x, 3, 5)  # event 0: 20 elements, in the compute dtype
    h = t.linear(y1, 5, 5)  # event 1
    y2 = t.act(h, "gelu")  # event 2
    t.loss([y1, y2])  # events 3 (y1's term) and 4 (y2's), y2's backward first
    # the fp32 copy the loss keeps: the output itself in fp32 (y1 already kept by event 1), a
    # cast under autocast
    assert [e.saved for e in t.events[3:]] == [(0, 80, 0, 80), (80,) * 4]
    # pow's backward: the incoming gradient, x ** 1, twice it and the product, fp32
    assert t.events[4].scratch == (320,) * 4
    # y2's gradient is alive while y1's term runs backward
    assert t.events[3].scratch == tuple(320 + 20 * b for b in LOW)
    # y1's gradient waits through events 1 and 2 for its maker (event 0 counts it itself)
    assert t.events[1].scratch == tuple(3 * 20 * b for b in LOW)  # y1, h and the wait
    assert t.events[2].scratch == tuple(3 * 20 * b for b in LOW)  # h, y2 and the wait
    assert t.events[0].scratch == tuple(20 * b for b in LOW)  # y1 (the image needs none)


def _held_model(held: int) -> Tape:
    """A map, a copy of it and ``held`` maps needing no gradient that the module holds while a
    ReLU runs on the copy, and a mean."""
    t = Tape()
    a = t.linear(t.image(1000), 2, 2)  # 1000 elements
    b = t.copy(a)
    extra = [t.new(1000, F32, grad=False) for _ in range(held)]
    with t.holding([b, *extra]):
        c = t.act(b, "relu")  # keeps c; b, and what is held, stay alive
    t.loss([t.copy(c, 1)])
    return t


def test_forward_counts_inputs_output_and_what_the_module_holds() -> None:
    t = _held_model(held=2)
    relu = t.events[2]
    # kept so far: c (ReLU keeps its output; the image is the input batch, not counted);
    # alive, kept by nothing: b and the two fp32 maps held
    assert relu.forward[0] == 4000 + 3 * 4000
    assert relu.forward[1] == 2000 + 2000 + 2 * 4000 + 2000  # + the linear's bf16 input
    assert [e.forward[0] for e in t.events[:2]] == [4000, 8000]  # a; a and b


def test_a_forward_transient_above_the_backward_is_the_peak() -> None:
    config = TrainConfig(batch=1, device="cpu")
    phases = []
    for held in (0, 2):
        memory = MemoryModel(_held_model(held), params=6, input_elements=1000).bytes(config)
        phases.append(memory.phase)
    assert phases == ["backward", "forward"]
