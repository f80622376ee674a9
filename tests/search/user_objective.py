"""A user objective for the tests: total depth of a HIRI-ViT candidate."""


def total_depth(trial) -> float:  # noqa: ANN001 - a hirisearch.ops.search.trial.CandidateTrial
    return float(sum(trial.spec.depths))
