"""Defaults and limits shared by every part of the tool.

Kept free of heavy imports (no NumPy, YAML or rich) so that `gradcheck --help` starts
fast. The limits are module attributes: the command line's --max-elements and
--max-file-size set them for the whole process (and the worker processes it forks).
"""

from __future__ import annotations

DEFAULT_SEED = 0
DEFAULT_TRIALS = 3
DEFAULT_TIMEOUT = 120.0  # seconds per identity
# The tolerance is the numerical error estimate plus this floor, which stands for the
# rounding error of evaluating the claim itself.
DEFAULT_RTOL = 1e-11
# A point whose numerical derivative is noisier than this (relative) cannot be judged
# at the default tolerance: the claim is measured again with a better method, or the
# point is resampled, and a claim never judged is an ERROR.
DEFAULT_MAX_NOISE = 1e-6
METHOD_CHOICES = ("central", "richardson", "complex", "auto")

MAX_ELEMENTS = 25_000_000  # entries of any sampled or intermediate array
MAX_FILE_BYTES = 1_000_000  # size of an identity file
