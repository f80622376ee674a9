"""A user objective for the tests: total depth of a HIRI-ViT spec."""


def total_depth(spec) -> float:  # noqa: ANN001 - any family's spec
    return float(sum(spec.depths))
