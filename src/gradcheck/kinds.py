"""What each kind of input means, in one table read by every module that needs it.

The loader checks shapes against it (catalogue), the sampler draws by it (sampling),
the point skips measuring the conditioning of matrices well conditioned by construction
(point), and a claim at a symmetric sample is warned about when its layout cannot show
(forms). The JSON Schema's list of kinds is generated from it (schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Kind:
    name: str
    shape: str  # "any", "matrix" (two dimensions) or "square"
    symmetric: bool = False  # every sample is a symmetric matrix
    conditioned: bool = False  # large samples are well conditioned by construction (not measured)
    drawn: str = ""  # what is drawn, in a few words (docs/format.md has the full table)
    since: int = 1  # the format version that introduced it
    complex: bool = False  # its samples are complex (format 6)


_TABLE = (
    Kind("general", "any", drawn="independent standard normal entries"),
    Kind("positive", "any", drawn="entries uniform in [0.5, 2]"),
    Kind("symmetric", "square", symmetric=True, drawn="(A + A^T)/sqrt(2), A Gaussian"),
    Kind("spd", "square", symmetric=True, conditioned=True, drawn="symmetric positive definite, condition <= 10"),
    Kind("invertible", "square", conditioned=True, drawn="U diag(s) V^T, condition <= 10"),
    Kind("orthogonal", "matrix", conditioned=True, drawn="Haar-distributed orthonormal columns (rows, if wide)"),
    Kind("diagonal", "square", conditioned=True, drawn="diagonal with entries +-[0.5, 2]"),
    Kind("lower", "matrix", drawn="lower triangular, diagonal +-[0.5, 2]"),
    Kind("upper", "matrix", drawn="upper triangular, diagonal +-[0.5, 2]"),
    Kind("unit", "any", drawn="Gaussian, scaled to Frobenius norm 1"),
    Kind("simplex", "any", drawn="positive entries summing to 1"),
    Kind("onehot", "any", drawn="in each column a single 1 at a random row, zeros elsewhere", since=2),
    Kind("permutation", "square", conditioned=True, drawn="a random permutation matrix", since=2),
    Kind("index", "any", drawn="integers from 0 below the constant's `below` (a label)", since=2),
    Kind("rowsimplex", "any", drawn="positive entries, each row summing to 1", since=6),
    Kind("complex", "any", drawn="independent standard complex normal entries", since=6, complex=True),
    Kind("hermitian", "square", drawn="(A + A^H)/2, A complex Gaussian", since=6, complex=True),
    Kind("hpd", "square", conditioned=True, drawn="Hermitian positive definite, condition <= 10", since=6,
         complex=True),
    Kind("unitary", "matrix", conditioned=True, drawn="Haar-distributed orthonormal complex columns (rows, if wide)",
         since=6, complex=True),
)

KINDS: MappingProxyType[str, Kind] = MappingProxyType({k.name: k for k in _TABLE})


def shape_problem(kind: str, shape: tuple[str | int, ...]) -> str:
    """Why `shape` does not suit `kind`, or "" (an unknown kind is the caller's business)."""
    want = KINDS[kind].shape
    # an array of three or more dimensions is a stack of matrices (format 6): its last two
    # dimensions are the matrix's
    if want == "square" and (len(shape) < 2 or shape[-1] != shape[-2]):
        stack = " (or a stack [b, n, n])" if len(shape) > 2 else ""
        return f"kind '{kind}' needs a square shape [n, n]{stack}, got {list(shape)}"
    if want == "matrix" and len(shape) < 2:
        return f"kind '{kind}' needs a matrix shape, got {list(shape)}"
    return ""
