"""Sanity bounds on sizes, shared by every family's spec validators and the CLI.

They sit far beyond any real backbone (ViT-22B has 48 blocks of width 6144) so that nothing sensible
is refused, yet they keep every derived number finite when converted to a float (GMACs, shares) and
every per-block list small enough to hold in memory: depth 10,000, width 1,000,000 and resolution
16,384 are all inside them.
"""

from __future__ import annotations

#: Input resolution (pixels per side).
MAX_IMG_SIZE = 1 << 20
#: Channels, heads, classes and other widths.
MAX_WIDTH = 1 << 32
#: Blocks in one model, summed over its stages (plans and cost trees hold one entry per block).
MAX_BLOCKS = 100_000
#: Expansion and reduction ratios (MLP ratio, downsample ratio).
MAX_RATIO = 1024.0
#: Batch size of a counted forward pass.
MAX_BATCH = 1 << 20
#: The traced count builds the model on the meta device and sends every operator through torch's
#: dispatcher (about a millisecond each), so its time grows with the number of modules while the
#: analytic cost of identical blocks is shared. Above this many modules (nodes of the analytic tree)
#: profile skips the traced count and says so; shipped specs have a few hundred.
TRACED_MODULE_LIMIT = 3_000
