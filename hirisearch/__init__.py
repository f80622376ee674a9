"""hirisearch: cost, search and comparison of vision backbones for high-resolution inputs."""

__version__ = "0.1.0"
