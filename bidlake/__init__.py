"""bidlake: shared settings, paths and the `bidlake` command line."""

__version__ = "0.1.0"
