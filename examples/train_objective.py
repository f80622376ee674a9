"""An expensive search objective: train each candidate a few steps on random data.

``hirisearch search examples/train_space.yaml --allow-code`` calls ``train_loss`` once per trial.
It reports the training loss after every step; the space's pruner stops a candidate whose loss
is worse than the median of the earlier trials at the same step.
"""

import torch

import hirisearch

STEPS = 6
BATCH = 4


def train_loss(trial: "hirisearch.ops.search.trial.CandidateTrial") -> float:
    torch.manual_seed(0)  # the same candidate trains the same way
    model = trial.build()  # on this worker's GPU (see --gpus), else on the CPU
    device = next(model.parameters()).device
    images = torch.randn(BATCH, *trial.input_shape, device=device)
    labels = torch.randint(0, trial.spec.num_classes, (BATCH,), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        trial.report(step, loss.item())
        if trial.should_prune():
            raise hirisearch.Pruned()
    return loss.item()
