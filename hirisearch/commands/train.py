"""The training options shared by profile, compare, sweep and bench (``--train`` and its
setting)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hirisearch.errors import TrainError

if TYPE_CHECKING:
    from hirisearch.train.config import TrainConfig

Train = Annotated[
    bool,
    typer.Option("--train", help="Cost a training step: forward + backward GFLOPs and memory."),
]
TrainBatch = Annotated[
    int, typer.Option("--batch", min=1, help="With --train: samples per step on one device.")
]
TrainDtype = Annotated[
    str, typer.Option("--dtype", help="With --train: fp32, or bf16/fp16 autocast.")
]
TrainOptimizer = Annotated[
    str, typer.Option("--optimizer", help="With --train: adamw, sgd or none.")
]
TrainCheckpoint = Annotated[
    str,
    typer.Option("--checkpoint", help="With --train: activation checkpointing none|stages|blocks."),
]
TrainShard = Annotated[
    int,
    typer.Option(
        "--shard", min=1, help="With --train: devices the model states are split over (ZeRO-3)."
    ),
]
TrainMemory = Annotated[
    list[str] | None,
    typer.Option(
        "--memory",
        help="With --train: a memory size (80GB, 24GiB) or device (h100-80gb, a100-40gb, l4, "
        "rtx-4090, l40s, a100-80gb, h200) for the largest-batch table; repeatable.",
    ),
]


def train_config(
    train: bool,
    batch: int,
    dtype: str,
    optimizer: str,
    checkpoint: str,
    shard: int,
    *,
    measure: bool = False,
    batch_given: bool = False,
) -> TrainConfig | None:
    """The training configuration the options give (None without ``--train``); the training
    options without ``--train`` are an error, not silently ignored (``--batch`` too where
    ``batch_given``: the command has no batch of its own)."""
    if not train:
        given = [
            name
            for name, on in (
                ("--dtype", dtype != "fp32"),
                ("--optimizer", optimizer != "adamw"),
                ("--checkpoint", checkpoint != "none"),
                ("--shard", shard != 1),
                ("--measure", measure),
                ("--batch", batch_given and batch != 1),
            )
            if on
        ]
        if given:
            raise TrainError(f"{', '.join(given)} need --train")
        return None
    from hirisearch.train.config import TrainConfig

    return TrainConfig(
        batch=batch,
        dtype=dtype,  # type: ignore[arg-type]  # validated by TrainConfig
        optimizer=optimizer,  # type: ignore[arg-type]
        checkpoint=checkpoint,  # type: ignore[arg-type]
        shard=shard,
    )
