"""The functions an expression may call, with NumPy meaning.

Each entry of `FUNCTIONS` says how many positional arguments the function
takes and which keywords; `expr.py` checks calls against this table when a file
is loaded, so a wrong call is reported before any numerics. Implementations
raise `EvalError` (a plain message; the caller adds the expression and file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcheck.errors import EvalError
from gradcheck.options import current_limits

Value = Any  # an ndarray, or a Python int/float (dimension sizes and literals)


def check_size(shape: tuple[int, ...], what: str) -> None:
    """Refuse to build an array of `shape` when it would exceed the size limit."""
    size = 1
    for n in shape:
        size *= int(n)
    limit = current_limits().max_elements
    if size > limit:
        raise EvalError(f"{what} would have shape {shape_str(shape)} ({size:,} entries), over the limit of {limit:,}")


def shape_str(shape: tuple[int, ...]) -> str:
    """A shape as users write it: (3,4), (3,) or ()."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ",".join(str(n) for n in shape) + ")"


def shape_of(value: Value) -> tuple[int, ...]:
    return tuple(np.shape(value))


class Labels(np.ndarray):
    """The integers of a constant of kind index (and integer arithmetic on them): positions to
    index with, never numbers. A type of its own, since integer arrays also come from
    where(c, 1, 0), which are numbers."""


def is_labels(value: Value) -> bool:
    return isinstance(value, Labels)


def _array(value: Value, name: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        if isinstance(value, Labels):  # a constant of kind index: a position, not a number
            raise EvalError(f"{name} expects numbers, got an index (integers): index with it instead")
        return value
    if isinstance(value, (int, float, complex, np.number, np.bool_)):
        return np.asarray(value)
    raise EvalError(f"{name} expects an array, got {type(value).__name__}")


def _matrix(value: Value, name: str, square: bool = True) -> np.ndarray:
    a = _array(value, name)
    if a.ndim != 2 or (square and a.shape[0] != a.shape[1]):
        kind = "a square matrix" if square else "a matrix"
        raise EvalError(f"{name} expects {kind}, got shape {shape_str(a.shape)}")
    return a


def _matrices(value: Value, name: str) -> np.ndarray:
    """A square matrix, or a stack of them (an array of three or more dimensions whose last
    two are equal, format 6): the function then applies to each matrix of the stack."""
    a = _array(value, name)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        stack = " or a stack of them" if a.ndim > 2 else ""
        raise EvalError(f"{name} expects a square matrix{stack}, got shape {shape_str(a.shape)}")
    return a


def _count(value: Value, name: str) -> int:
    """A dimension argument such as the n of eye(n)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise EvalError(f"{name} expects a non-negative integer size, got {value!r}")
    return int(value)


def _linalg(fn: Callable[..., np.ndarray], name: str, *args: np.ndarray | int) -> np.ndarray:
    try:
        return np.asarray(fn(*args))
    except np.linalg.LinAlgError as exc:
        raise EvalError(f"{name}: {str(exc).lower()}") from None


LARGE = 1024  # from this order on, inverses are formed in place by LAPACK (worth importing scipy.linalg)


def inv(x: Value) -> np.ndarray:
    a = _matrices(x, "inv")
    if a.ndim > 2:  # a stack: each matrix's inverse
        return _linalg(np.linalg.inv, "inv", a)
    if a.shape[0] >= LARGE and a.dtype in (np.float64, np.complex128):
        return _inv_in_place(a)
    return _linalg(np.linalg.inv, "inv", a)


def _inv_in_place(a: np.ndarray) -> np.ndarray:
    """inv(a) with one working copy of a: numpy's inv solves a X = I, which holds a
    copy of a, I and X at once (four times a's size with a itself)."""
    lapack = _scipy_linalg().lapack
    getrf, getri, getri_lwork = lapack.get_lapack_funcs(("getrf", "getri", "getri_lwork"), (a,))
    # a.T is a Fortran-ordered view of a C-ordered a: no copy to hand it to LAPACK;
    # inv(a.T).T = inv(a).
    lu, piv, info = getrf(a.T if a.flags.c_contiguous else a, overwrite_a=False)
    if info > 0:
        raise EvalError("inv: singular matrix")
    # the blocked algorithm needs its optimal workspace (n times the block size); the
    # default, 3n, runs the unblocked one at two thirds of the speed
    work, info = getri_lwork(a.shape[0])
    out, info = getri(lu, piv, lwork=int(1.01 * np.real(work)) if info == 0 else 3 * a.shape[0], overwrite_lu=True)
    if info != 0:
        raise EvalError("inv: singular matrix" if info > 0 else f"inv: LAPACK error {info}")
    return np.asarray(out.T if a.flags.c_contiguous else out)


def det(x: Value) -> np.ndarray:
    return np.asarray(np.linalg.det(_matrices(x, "det")))


def _real_valued(a: np.ndarray, name: str) -> np.ndarray:
    """`a`, refused if complex: the function orders numbers, which complex ones are not."""
    if np.iscomplexobj(a):
        raise EvalError(f"{name} orders numbers, and complex numbers have no order: take real(...) or abs(...) first")
    return a


def logabsdet(x: Value) -> np.ndarray:
    """log|det X| of a complex matrix: what logdet means where inputs are complex (format 6)."""
    a = _matrices(x, "logdet")
    if not np.iscomplexobj(a):
        return logdet(a)
    _, value = np.linalg.slogdet(a)
    return np.asarray(value)


def logdet(x: Value) -> np.ndarray:
    a = _matrices(x, "logdet")
    if np.iscomplexobj(a):
        # Complex step: log(s det X) with s the sign of det at the real point is the
        # analytic function that equals log|det X| nearby.
        d = np.linalg.det(a)
        return np.asarray(np.log(np.sign(d.real) * d))
    sign, value = np.linalg.slogdet(a)
    return np.asarray(np.where(sign != 0, value, -np.inf))


def adj(x: Value) -> np.ndarray:
    """The adjugate, computed from the SVD so that it is right for singular X too."""
    a = _matrix(x, "adj")
    if a.shape[0] == 1:
        return np.ones_like(a)
    if np.iscomplexobj(a):
        return np.asarray(np.linalg.det(a) * _linalg(np.linalg.inv, "adj", a))
    u, s, vt = np.linalg.svd(a)
    # adj(U S V^T) = adj(V^T) adj(S) adj(U) = det(V) V adj(S) det(U) U^T
    cof = np.array([np.prod(np.delete(s, i)) for i in range(len(s))])
    return np.asarray(np.linalg.det(u) * np.linalg.det(vt) * (vt.T * cof) @ u.T)


def trace(x: Value) -> Value:
    a = _array(x, "trace")
    if a.size == 1 and a.ndim <= 2:
        return a.reshape(())  # "trace of a singleton is itself"
    return np.asarray(np.trace(_matrices(a, "trace"), axis1=-2, axis2=-1))


def diag(x: Value) -> np.ndarray:
    a = _array(x, "diag")
    if a.ndim == 1 or (a.ndim == 2 and 1 in a.shape):
        v = a.reshape(-1)
        check_size((v.size, v.size), "diag")
        return np.diag(v)
    m = _matrix(a, "diag")
    return np.diag(m).reshape(-1, 1).copy()


def kron(a: Value, b: Value) -> np.ndarray:
    x, y = _array(a, "kron"), _array(b, "kron")
    if x.ndim > 2 or y.ndim > 2:
        raise EvalError("kron expects vectors or matrices")
    xs, ys = np.atleast_2d(x).shape, np.atleast_2d(y).shape
    check_size((xs[0] * ys[0], xs[1] * ys[1]), "kron")
    return np.kron(x, y)


def outer(a: Value, b: Value) -> np.ndarray:
    x, y = _array(a, "outer"), _array(b, "outer")
    check_size((x.size, y.size), "outer")
    return np.outer(x, y)


def solve(a: Value, b: Value) -> np.ndarray:
    m, rhs = _matrices(a, "solve"), _array(b, "solve")
    if m.ndim > 2:  # a stack of systems (format 6): right-hand sides stacked alike
        if rhs.ndim != m.ndim or rhs.shape[-2] != m.shape[-1]:
            raise EvalError(f"solve shape mismatch: {shape_str(m.shape)} with right-hand side {shape_str(rhs.shape)}")
        return _linalg(np.linalg.solve, "solve", m, rhs)
    if rhs.ndim not in (1, 2) or rhs.shape[0] != m.shape[0]:
        raise EvalError(
            f"solve shape mismatch: {shape_str(m.shape)} with right-hand side {shape_str(rhs.shape)}"
        )
    return _linalg(np.linalg.solve, "solve", m, rhs)


def pinv(x: Value) -> np.ndarray:
    return _linalg(np.linalg.pinv, "pinv", _matrix(x, "pinv", square=False))


def norm(x: Value, order: Value = None) -> np.ndarray:
    """Vector p-norm (any vector shape) or matrix norm (Frobenius by default)."""
    a = _array(x, "norm")
    if order is not None and not isinstance(order, (int, float)):
        raise EvalError(f"norm order must be a number, got {type(order).__name__}")
    if a.ndim <= 1 or (a.ndim == 2 and 1 in a.shape):
        return np.asarray(np.linalg.norm(a.reshape(-1), order))
    if a.ndim != 2:
        raise EvalError(f"norm expects a vector or a matrix, got shape {shape_str(a.shape)}")
    if order not in (None, 1, 2, -1, -2, np.inf, -np.inf):
        raise EvalError(f"norm of a matrix takes order 1, 2 or none (Frobenius), got {order}")
    return np.asarray(np.linalg.norm(a, order))


def vec(x: Value) -> np.ndarray:
    return _array(x, "vec").reshape(-1, 1, order="F")


def _filled(fill: float, name: str, *dims: Value) -> np.ndarray:
    shape = tuple(_count(d, name) for d in dims)
    check_size(shape, name)
    return np.full(shape, fill)


def ones(*dims: Value) -> np.ndarray:
    return _filled(1.0, "ones", *dims)


def zeros(*dims: Value) -> np.ndarray:
    return _filled(0.0, "zeros", *dims)


def eye(n: Value, m: Value = None) -> np.ndarray:
    rows = _count(n, "eye")
    cols = rows if m is None else _count(m, "eye")
    check_size((rows, cols), "eye")
    return np.eye(rows, cols)


def transpose(x: Value) -> Value:
    return transposed(_array(x, "transpose"))


def transposed(a: Any) -> Any:
    """X^T; of an array of three or more dimensions (a stack of matrices, format 6), each
    matrix's transpose: the last two axes swapped."""
    a = np.asarray(a)
    return np.swapaxes(a, -1, -2) if a.ndim > 2 else a.T


def matrix_power(x: Value, k: Value) -> np.ndarray:
    if isinstance(k, np.ndarray) and k.ndim == 0:
        k = k.item()
    if not isinstance(k, int) or isinstance(k, bool) or abs(k) > 10_000:
        raise EvalError(f"matrix_power expects an integer power up to 10000, got {k!r}")
    return _linalg(np.linalg.matrix_power, "matrix_power", _matrix(x, "matrix_power"), k)


def sym(x: Value) -> np.ndarray:
    a = _matrix(x, "sym")
    return np.asarray((a + a.T) / 2)


def _scipy_linalg() -> Any:
    import scipy.linalg  # imported on first use: most catalogues never need it

    return scipy.linalg


def _spectral(a: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], positive: bool = False) -> np.ndarray | None:
    """f(A) = V f(Λ) V^T for a real, exactly symmetric A (with `positive`, only if its
    eigenvalues are all positive), else None. The same matrix function as SciPy's (to
    rounding), an order of magnitude faster: a symmetric input stays exactly symmetric along
    symmetric directions, which is how matrix functions of spd matrices are checked."""
    if np.iscomplexobj(a) or a.shape[0] > 512 or not np.array_equal(a, a.T):
        return None
    values, vectors = np.linalg.eigh(a)
    if positive and not values[0] > 0:
        return None
    return np.asarray((vectors * fn(values)) @ vectors.T)


def expm(x: Value) -> np.ndarray:
    # SciPy before 1.11 cannot take a read-only array (sampled inputs are read-only)
    a = _matrix(x, "expm")
    fast = _spectral(a, np.exp)
    if fast is not None:
        return fast
    return np.asarray(_scipy_linalg().expm(a if a.flags.writeable else a.copy()))


def _principal(fn_name: str, x: Value) -> np.ndarray:
    """logm or sqrtm; for a real matrix the result must be real (no eigenvalues on the
    negative real axis), else the function is not defined here."""
    a = _matrix(x, fn_name)
    fast = _spectral(a, np.log if fn_name == "logm" else np.sqrt, positive=True)
    if fast is not None:
        return fast
    out = np.asarray(getattr(_scipy_linalg(), fn_name)(a))
    if not np.iscomplexobj(a) and np.iscomplexobj(out):
        if np.abs(out.imag).max(initial=0.0) > 1e-8 * max(np.abs(out.real).max(initial=0.0), 1.0):
            raise EvalError(f"{fn_name} of a real matrix with eigenvalues on the negative real axis is not real")
        out = out.real
    return out


def logm(x: Value) -> np.ndarray:
    return _principal("logm", x)


def sqrtm(x: Value) -> np.ndarray:
    return _principal("sqrtm", x)


def sinm(x: Value) -> np.ndarray:
    """The matrix sine, Im expm(iX) for a real X."""
    return _trigonometric("sinm", x)


def cosm(x: Value) -> np.ndarray:
    """The matrix cosine, Re expm(iX) for a real X."""
    return _trigonometric("cosm", x)


def _trigonometric(name: str, x: Value) -> np.ndarray:
    a = _matrix(x, name)
    if np.iscomplexobj(a):  # not reached from a check: not complex-analytic in floating point
        raise EvalError(f"{name} of a complex matrix is not supported")
    fast = _spectral(a, np.sin if name == "sinm" else np.cos)
    if fast is not None:
        return fast
    e = np.asarray(_scipy_linalg().expm(1j * a))
    return np.asarray(e.imag if name == "sinm" else e.real)


def signm(x: Value) -> np.ndarray:
    """The matrix sign function: X (X^2)^(-1/2), for X without eigenvalues on the imaginary axis."""
    a = _matrix(x, "signm")
    out = np.asarray(_scipy_linalg().signm(a if a.flags.writeable else a.copy()))
    if not np.all(np.isfinite(out)):
        raise EvalError("signm of a matrix with eigenvalues on the imaginary axis is not defined")
    return out


def powm(x: Value, p: Value) -> np.ndarray:
    """X^p for a real p, the principal power (SciPy); of a real matrix it must be real."""
    if isinstance(p, np.ndarray) and p.ndim == 0:
        p = p.item()
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not abs(p) <= 1_000:
        raise EvalError(f"powm expects a real power up to 1000 in size, got {p!r}")
    a = _matrix(x, "powm")
    fast = _spectral(a, lambda values: np.power(values, float(p)), positive=True)
    if fast is not None:
        return fast
    out = np.asarray(_scipy_linalg().fractional_matrix_power(a if a.flags.writeable else a.copy(), float(p)))
    if np.iscomplexobj(out):
        if np.abs(out.imag).max(initial=0.0) > 1e-8 * max(np.abs(out.real).max(initial=0.0), 1.0):
            raise EvalError("powm of a real matrix with eigenvalues on the negative real axis is not real")
        out = out.real
    return out


def _hermitian_part(a: np.ndarray) -> np.ndarray:
    """sym(A) = (A + A^T)/2 of a real matrix, (A + A^H)/2 of a complex one (format 6)."""
    return np.asarray((a + a.conj().T) / 2)


def eigvalsh(x: Value) -> np.ndarray:
    """Eigenvalues of sym(X) (of the Hermitian part, for a complex X), ascending, as a column [n, 1]."""
    a = _matrix(x, "eigvalsh")
    return np.linalg.eigvalsh(_hermitian_part(a)).reshape(-1, 1)


# -- decompositions (format 2): factors with a fixed sign convention ----------------------

def _phases(values: np.ndarray) -> np.ndarray:
    """The signs of real numbers, the phases z/|z| of complex ones; 1 for a zero."""
    size = np.abs(values)
    return np.where(size == 0, 1.0, values / np.where(size == 0, 1.0, size))


def _column_phases(v: np.ndarray) -> np.ndarray:
    """The conjugated sign (phase) of each column's entry of largest size (the first, in a tie)."""
    rows = np.argmax(np.abs(v), axis=0)
    return np.asarray(np.conj(_phases(v[rows, np.arange(v.shape[1])])))


def _signed_columns(v: np.ndarray) -> np.ndarray:
    """Each column times the sign of its entry of largest size (for a complex column: its
    conjugated phase, making that entry real and positive): the convention that makes
    eigen- and singular vectors functions of the matrix."""
    return np.asarray(v * _column_phases(v))


def funm(x: Value, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """f(sym(X)) = V f(Λ) V^T for the eigen-decomposition of sym(X) (the Hermitian part of a
    complex X): a spectral function of a symmetric matrix (format 6)."""
    a = _matrix(x, "funm")
    values, vectors = np.linalg.eigh(_hermitian_part(a))
    mapped = np.asarray(fn(values))
    if mapped.shape != values.shape:
        raise EvalError("funm's function must map each eigenvalue to one number")
    return np.asarray((vectors * mapped) @ vectors.conj().T)


def eigvecsh(x: Value) -> np.ndarray:
    """Unit eigenvectors of sym(X) as columns, in the order of eigvalsh (ascending), each
    with its largest entry positive."""
    a = _matrix(x, "eigvecsh")
    _, v = np.linalg.eigh(_hermitian_part(a))
    return _signed_columns(v)


def _svd(x: Value, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = _matrix(x, name, square=False)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    # X = U diag(s) V^H; a column of U times a phase c and V's column times the same c
    # leave it unchanged (|c| = 1)
    c = _column_phases(u)
    return u * c, s, vt.conj().T * c


def svdvals(x: Value) -> np.ndarray:
    """Singular values, descending, as a column [min(m, n), 1]."""
    return _svd(x, "svdvals")[1].reshape(-1, 1)


def svdu(x: Value) -> np.ndarray:
    """The thin U of X = U diag(s) V^T (singular values descending), each column of U with
    its largest entry positive and V's column signed to match."""
    return _svd(x, "svdu")[0]


def svdv(x: Value) -> np.ndarray:
    """The thin V of X = U diag(s) V^T (see svdu for the signs)."""
    return _svd(x, "svdv")[2]


def _qr(x: Value, name: str) -> tuple[np.ndarray, np.ndarray]:
    a = _matrix(x, name, square=False)
    if a.shape[0] < a.shape[1]:
        raise EvalError(f"{name} expects a matrix with at least as many rows as columns, got shape {shape_str(a.shape)}")
    q, r = np.linalg.qr(a)
    signs = _phases(np.diag(r))  # Q P and P^H R, P = diag(phases): R's diagonal real and positive
    return q * signs, r * np.conj(signs)[:, None]


def qrq(x: Value) -> np.ndarray:
    """The thin Q of X = Q R with R's diagonal positive (unique for X of full column rank)."""
    return _qr(x, "qrq")[0]


def qrr(x: Value) -> np.ndarray:
    """The R of X = Q R, upper triangular with a positive diagonal."""
    return _qr(x, "qrr")[1]


def chol(x: Value) -> np.ndarray:
    """The lower-triangular L with L L^T = sym(X) (L L^H = (X + X^H)/2 for a complex X)."""
    a = _matrix(x, "chol")
    return _linalg(np.linalg.cholesky, "chol", _hermitian_part(a))


# -- structure: triangles, half-vectorisation, the commutation matrix, blocks (format 2) --

def _offset(k: Value, name: str) -> int:
    if isinstance(k, np.ndarray) and k.ndim == 0:
        k = k.item()
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise EvalError(f"{name} expects an integer diagonal offset, got {k!r}")
    return int(k)


def tril(x: Value, k: Value = 0) -> np.ndarray:
    """The lower triangle of a matrix (on and below diagonal k), zeros elsewhere."""
    return np.tril(_matrix(x, "tril", square=False), _offset(k, "tril"))


def triu(x: Value, k: Value = 0) -> np.ndarray:
    """The upper triangle of a matrix (on and above diagonal k), zeros elsewhere."""
    return np.triu(_matrix(x, "triu", square=False), _offset(k, "triu"))


def _lower_positions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the lower triangle of an n-by-n matrix, column by column."""
    cols, rows = np.triu_indices(n)  # (j, i) with i >= j, ordered by j then i
    return rows, cols


def vech(x: Value) -> np.ndarray:
    """The half-vectorisation: the lower triangle's columns stacked, a column [n(n+1)/2, 1]."""
    a = _matrix(x, "vech")
    rows, cols = _lower_positions(a.shape[0])
    return np.asarray(a[rows, cols]).reshape(-1, 1)


def unvec(x: Value, m: Value) -> np.ndarray:
    """The inverse of vec: a vector of m * n entries as an m-by-n matrix, column by column."""
    a = _array(x, "unvec")
    rows = _count(m, "unvec")
    if a.ndim > 2 or (a.ndim == 2 and 1 not in a.shape) or rows == 0 or a.size % rows:
        raise EvalError(f"unvec expects a vector whose length is a multiple of {rows}, got shape {shape_str(a.shape)}")
    return a.reshape(rows, a.size // rows, order="F")


def commutation(m: Value, n: Value) -> np.ndarray:
    """K_mn, the mn-by-mn permutation with K vec(A) = vec(A^T) for every m-by-n A."""
    rows, cols = _count(m, "commutation"), _count(n, "commutation")
    check_size((rows * cols, rows * cols), "commutation")
    k = np.zeros((rows * cols, rows * cols))
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    k[(i * cols + j).ravel(), (j * rows + i).ravel()] = 1.0  # vec(A^T)[i n + j] = vec(A)[j m + i]
    return k


def duplication(n: Value) -> np.ndarray:
    """D_n, the n^2-by-n(n+1)/2 matrix with D vech(A) = vec(A) for every symmetric A."""
    size = _count(n, "duplication")
    half = size * (size + 1) // 2
    check_size((size * size, half), "duplication")
    d = np.zeros((size * size, half))
    rows, cols = _lower_positions(size)
    for k, (i, j) in enumerate(zip(rows, cols)):
        d[j * size + i, k] = d[i * size + j, k] = 1.0
    return d


def _stacked(name: str, axis: int, parts: tuple[Value, ...]) -> np.ndarray:
    # a number is a 1-by-1 block and a vector a column, as vec makes them
    arrays = [_array(p, name).reshape(-1, 1) if np.ndim(p) < 2 else _array(p, name) for p in parts]
    if any(a.ndim != 2 for a in arrays):
        raise EvalError(f"{name} expects vectors or matrices")
    other = 1 - axis
    if len({a.shape[other] for a in arrays}) > 1:
        shapes = ", ".join(shape_str(a.shape) for a in arrays)
        side = "columns" if other == 1 else "rows"
        raise EvalError(f"{name} needs the same number of {side}, got {shapes}")
    check_size(tuple(sum(a.shape[axis] for a in arrays) if d == axis else arrays[0].shape[d] for d in (0, 1)), name)
    return np.concatenate(arrays, axis=axis)


def hstack(*parts: Value) -> np.ndarray:
    """Matrices side by side (the same number of rows)."""
    return _stacked("hstack", 1, parts)


def vstack(*parts: Value) -> np.ndarray:
    """Matrices one above the other (the same number of columns)."""
    return _stacked("vstack", 0, parts)


def concat(*parts: Value, axis: Value = 0) -> np.ndarray:
    """Arrays joined along `axis` (their other dimensions equal): of matrices, axis 0 is vstack
    and axis 1 hstack; of stacks of matrices (format 6), any axis."""
    arrays = [_array(p, "concat") for p in parts]
    if any(a.ndim != arrays[0].ndim or a.ndim == 0 for a in arrays):
        raise EvalError("concat expects arrays of the same number of dimensions, got "
                        + ", ".join(shape_str(a.shape) for a in arrays))
    ax = _axis(arrays[0], axis, "concat")
    assert ax is not None
    ax %= arrays[0].ndim
    if len({a.shape[:ax] + a.shape[ax + 1:] for a in arrays}) > 1:
        raise EvalError(f"concat along axis {ax} needs the other dimensions equal, got "
                        + ", ".join(shape_str(a.shape) for a in arrays))
    check_size((*arrays[0].shape[:ax], sum(a.shape[ax] for a in arrays), *arrays[0].shape[ax + 1:]), "concat")
    return np.concatenate(arrays, axis=ax)


def reshape(x: Value, m: Value, n: Value) -> np.ndarray:
    """The entries of X, taken column by column (as vec does), as an m-by-n matrix:
    reshape(X, m, n) = unvec(vec(X), m)."""
    a = _array(x, "reshape")
    rows, cols = _count(m, "reshape"), _count(n, "reshape")
    if rows * cols != a.size:
        raise EvalError(f"reshape of {a.size} entries (shape {shape_str(a.shape)}) into {rows}-by-{cols}")
    return a.reshape(-1, order="F").reshape(rows, cols, order="F")


def _lu(x: Value, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = _matrix(x, name)
    p, lower, upper = _scipy_linalg().lu(a)
    if np.any(np.diag(upper) == 0):
        raise EvalError(f"{name}: singular matrix")
    return p, lower, upper


def lup(x: Value) -> np.ndarray:
    """The permutation P of X = P L U (partial pivoting, SciPy's convention)."""
    return _lu(x, "lup")[0]


def lul(x: Value) -> np.ndarray:
    """The unit lower-triangular L of X = P L U."""
    return _lu(x, "lul")[1]


def luu(x: Value) -> np.ndarray:
    """The upper-triangular U of X = P L U."""
    return _lu(x, "luu")[2]


def block(a: Value, b: Value, c: Value, d: Value) -> np.ndarray:
    """The block matrix [[A, B], [C, D]]."""
    return _stacked("block", 0, (_stacked("block", 1, (a, b)), _stacked("block", 1, (c, d))))


def _vector(x: Value, name: str) -> np.ndarray:
    """A vector given as [n], [n, 1] or [1, n], flattened."""
    a = _array(x, name)
    if a.ndim > 2 or (a.ndim == 2 and 1 not in a.shape):
        raise EvalError(f"{name} expects a vector, got shape {shape_str(a.shape)}")
    return a.reshape(-1)


def toeplitz(c: Value, r: Value) -> np.ndarray:
    """The Toeplitz matrix with first column c and first row r (whose first entry is c's)."""
    col, row = _vector(c, "toeplitz"), _vector(r, "toeplitz")
    check_size((col.size, row.size), "toeplitz")
    i, j = np.indices((col.size, row.size))
    below = col[np.clip(i - j, 0, col.size - 1)]
    return np.asarray(np.where(i >= j, below, row[np.clip(j - i, 0, row.size - 1)]))


def circulant(c: Value) -> np.ndarray:
    """The circulant matrix with first column c: entry (i, j) is c[(i - j) mod n]."""
    col = _vector(c, "circulant")
    check_size((col.size, col.size), "circulant")
    i, j = np.indices((col.size, col.size))
    return np.asarray(col[(i - j) % col.size])


def hankel(c: Value, r: Value) -> np.ndarray:
    """The Hankel matrix with first column c and last row r (whose first entry is c's last)."""
    col, row = _vector(c, "hankel"), _vector(r, "hankel")
    check_size((col.size, row.size), "hankel")
    i, j = np.indices((col.size, row.size))
    k = i + j
    above = col[np.clip(k, 0, col.size - 1)]
    return np.asarray(np.where(k < col.size, above, row[np.clip(k - col.size + 1, 0, row.size - 1)]))


def vander(x: Value, n: Value) -> np.ndarray:
    """NumPy's Vandermonde matrix: columns x^(n-1), ..., x, 1."""
    v = _vector(x, "vander")
    cols = _count(n, "vander")
    check_size((v.size, cols), "vander")
    return np.asarray(v[:, None] ** np.arange(cols - 1, -1, -1))


def arange(n: Value) -> np.ndarray:
    """The positions 0, 1, ..., n - 1, as an index (to pair with another: Z[y, arange(b)])."""
    size = _count(n, "arange")
    check_size((size,), "arange")
    return np.arange(size).view(Labels)


def argmax(x: Value, axis: Value = None) -> np.ndarray:
    """The position of the largest entry (of a vector), or along `axis=k` of a matrix, one
    per column (axis 0) or row (axis 1), as an index; the first one in a tie."""
    a = _real_valued(_array(x, "argmax"), "argmax")
    ax = _axis(a, axis, "argmax")
    if ax is None:
        if a.ndim == 2 and 1 not in a.shape:
            raise EvalError(f"argmax of a matrix needs axis=0 or axis=1, got shape {shape_str(a.shape)}")
        return np.asarray(np.argmax(a.reshape(-1))).view(Labels)
    return np.asarray(np.argmax(a, axis=ax)).view(Labels)


def sigmoid(x: Value) -> Value:
    a = _array(x, "sigmoid")
    # exp of a number with a non-positive real part only, so no overflow for large |x|
    # (at a complex point, for the complex step, as at a real one)
    positive = np.real(a) >= 0
    e = np.exp(np.where(positive, -a, a))
    return np.where(positive, 1 / (1 + e), e / (1 + e))


def relu(x: Value) -> Value:
    return np.maximum(_real_valued(_array(x, "relu"), "relu"), 0.0)


def _sign(x: Value) -> Value:
    a = _array(x, "sign")
    if np.iscomplexobj(a):
        raise EvalError("sign of a complex number is ambiguous: write Z / abs(Z) for its phase")
    return np.sign(a)


def conj(x: Value) -> Value:
    return np.conj(_array(x, "conj"))


def real(x: Value) -> Value:
    return np.real(_array(x, "real"))


def imag(x: Value) -> Value:
    return np.imag(_array(x, "imag"))


def softplus(x: Value) -> Value:
    a = _array(x, "softplus")
    if np.iscomplexobj(a):
        # log(1 + e^a) = a + log(1 + e^-a): exp of a non-positive real part only
        positive = np.real(a) > 0
        return np.where(positive, a, 0) + np.log1p(np.exp(np.where(positive, -a, a)))
    return np.logaddexp(0.0, a)


def step(x: Value) -> Value:
    """Heaviside step: 1 where x > 0, else 0 (the derivative of relu)."""
    return (_real_valued(_array(x, "step"), "step") > 0).astype(float)


def _cs_step(x: Value) -> Value:
    # inside d(...): the branch the real part picks
    return (np.real(_array(x, "step")) > 0).astype(float)


def _axis(a: np.ndarray, axis: Value, name: str) -> int | None:
    if axis is None:
        return None
    if not isinstance(axis, int) or not -a.ndim <= axis < max(a.ndim, 1):
        raise EvalError(f"{name}: axis {axis!r} is out of range for shape {shape_str(a.shape)}")
    return axis


def _reduction(fn: Callable[..., Any], name: str) -> Callable[[Value, Value], Value]:
    """A reduction over all entries (a scalar), or along `axis=k` keeping that axis."""
    def reduce(x: Value, axis: Value = None) -> Value:
        a = _array(x, name)
        ax = _axis(a, axis, name)
        return fn(a) if ax is None else fn(a, axis=ax, keepdims=True)

    reduce.__name__ = name
    return reduce


total = _reduction(np.sum, "sum")
mean = _reduction(np.mean, "mean")
maximum_of = _reduction(lambda a, **kw: np.max(_real_valued(a, "max"), **kw), "max")
minimum_of = _reduction(lambda a, **kw: np.min(_real_valued(a, "min"), **kw), "min")


def logsumexp(x: Value, axis: Value = None) -> Value:
    a = _array(x, "logsumexp")
    ax = _axis(a, axis, "logsumexp")
    m = np.max(np.real(a), axis=ax, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = m + np.log(np.sum(np.exp(a - m), axis=ax, keepdims=True))
    return out.reshape(()) if ax is None else out


def softmax(x: Value, axis: Value = None) -> Value:
    a = _array(x, "softmax")
    return np.exp(a - logsumexp(a, axis))


def where(cond: Value, a: Value, b: Value) -> Value:
    c = _real_valued(_array(cond, "where"), "where")
    _broadcast_within_limits("where", c, np.asarray(a), np.asarray(b))
    return np.where(c, a, b)


def _broadcast_within_limits(name: str, *arrays: np.ndarray) -> None:
    """The shape that broadcasting `arrays` together builds, checked against the element
    limit before it is built (a column and a row make a matrix)."""
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise EvalError(f"{name} shape mismatch {' and '.join(shape_str(a.shape) for a in arrays)}") from None
    check_size(shape, name)


def _elementwise(fn: Callable[[Any], Any], name: str) -> Callable[[Value], Value]:
    def apply(x: Value) -> Value:
        return fn(_array(x, name))

    apply.__name__ = name
    return apply


def _pair(a: Value, b: Value, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Two arguments that broadcast to a shape within the limits."""
    x, y = _array(a, name), _array(b, name)
    try:
        check_size(np.broadcast_shapes(x.shape, y.shape), name)
    except ValueError:
        raise EvalError(f"{name} shape mismatch {shape_str(x.shape)} and {shape_str(y.shape)}") from None
    return x, y


def _pairwise(fn: Callable[[Any, Any], Any], name: str) -> Callable[[Value, Value], Value]:
    def apply(a: Value, b: Value) -> Value:
        x, y = _pair(a, b, name)
        return fn(_real_valued(x, name), _real_valued(y, name))

    apply.__name__ = name
    return apply


@dataclass(frozen=True)
class Function:
    """A callable of the expression language and how it may be called."""

    fn: Callable[..., Value]
    min_args: int
    max_args: int
    keywords: frozenset[str] = frozenset()
    # Complex-analytic: safe to evaluate at complex points (complex-step derivatives).
    analytic: bool = True
    since: int = 1  # the format version that introduced it
    # what it means where the identity's values are complex (format 6), if that differs from
    # the analytic continuation the complex step takes (logdet: log|det Z|, not log det Z)
    complex_form: Callable[..., Value] | None = None


def _f(fn: Callable[..., Value], lo: int, hi: int | None = None, *, axis: bool = False,
       analytic: bool = True, since: int = 1) -> Function:
    kw = frozenset({"axis"}) if axis else frozenset()
    return Function(fn, lo, lo if hi is None else hi, kw, analytic, since)


FUNCTIONS: dict[str, Function] = {
    "inv": _f(inv, 1), "det": _f(det, 1), "adj": _f(adj, 1), "logdet": replace(_f(logdet, 1), complex_form=logabsdet),
    "trace": _f(trace, 1), "tr": _f(trace, 1), "diag": _f(diag, 1), "kron": _f(kron, 2),
    "outer": _f(outer, 2), "solve": _f(solve, 2), "pinv": _f(pinv, 1, analytic=False),
    "norm": _f(norm, 1, 2, analytic=False), "vec": _f(vec, 1), "eye": _f(eye, 1, 2),
    "ones": _f(ones, 1, 2), "zeros": _f(zeros, 1, 2), "transpose": _f(transpose, 1),
    "matrix_power": _f(matrix_power, 2), "sym": _f(sym, 1),
    "exp": _f(_elementwise(np.exp, "exp"), 1), "log": _f(_elementwise(np.log, "log"), 1),
    "sqrt": _f(_elementwise(np.sqrt, "sqrt"), 1), "sin": _f(_elementwise(np.sin, "sin"), 1),
    "cos": _f(_elementwise(np.cos, "cos"), 1), "tanh": _f(_elementwise(np.tanh, "tanh"), 1),
    "abs": _f(_elementwise(np.abs, "abs"), 1, analytic=False),
    "sign": _f(_sign, 1, analytic=False),
    "sigmoid": _f(sigmoid, 1), "relu": _f(relu, 1, analytic=False), "softplus": _f(softplus, 1),
    "step": _f(step, 1, analytic=False),
    "maximum": _f(_pairwise(np.maximum, "maximum"), 2, analytic=False),
    "minimum": _f(_pairwise(np.minimum, "minimum"), 2, analytic=False),
    "where": _f(where, 3, analytic=False), "sum": _f(total, 1, axis=True),
    "mean": _f(mean, 1, axis=True), "logsumexp": _f(logsumexp, 1, axis=True),
    "softmax": _f(softmax, 1, axis=True),
    # logm and sqrtm go through a Schur form, whose unitary factors are not analytic:
    # a complex step through them is lost in rounding.
    "expm": _f(expm, 1), "logm": _f(logm, 1, analytic=False), "sqrtm": _f(sqrtm, 1, analytic=False),
    "eigvalsh": _f(eigvalsh, 1, analytic=False), "chol": _f(chol, 1, analytic=False),
    # format 2
    "tril": _f(tril, 1, 2, since=2), "triu": _f(triu, 1, 2, since=2), "vech": _f(vech, 1, since=2),
    "unvec": _f(unvec, 2, since=2), "commutation": _f(commutation, 2, since=2),
    "duplication": _f(duplication, 1, since=2), "hstack": _f(hstack, 2, 16, since=2),
    "vstack": _f(vstack, 2, 16, since=2), "block": _f(block, 4, since=2),
    "max": _f(maximum_of, 1, axis=True, analytic=False, since=2),
    "min": _f(minimum_of, 1, axis=True, analytic=False, since=2),
    "sinm": _f(sinm, 1, analytic=False, since=2), "cosm": _f(cosm, 1, analytic=False, since=2),
    "eigvecsh": _f(eigvecsh, 1, analytic=False, since=2), "svdvals": _f(svdvals, 1, analytic=False, since=2),
    "svdu": _f(svdu, 1, analytic=False, since=2), "svdv": _f(svdv, 1, analytic=False, since=2),
    "qrq": _f(qrq, 1, analytic=False, since=2), "qrr": _f(qrr, 1, analytic=False, since=2),
    "toeplitz": _f(toeplitz, 2, since=2), "circulant": _f(circulant, 1, since=2),
    "arange": _f(arange, 1, since=2), "argmax": _f(argmax, 1, axis=True, analytic=False, since=2),
    "hankel": _f(hankel, 2, since=2), "vander": _f(vander, 2, since=2),
    "signm": _f(signm, 1, analytic=False, since=2), "powm": _f(powm, 2, analytic=False, since=2),
    # format 6: complex values
    "conj": _f(conj, 1, analytic=False, since=6), "real": _f(real, 1, analytic=False, since=6),
    "imag": _f(imag, 1, analytic=False, since=6),
    # format 6: arrays and factors
    "concat": _f(concat, 2, 16, axis=True, since=6), "reshape": _f(reshape, 3, since=6),
    "lup": _f(lup, 1, analytic=False, since=6), "lul": _f(lul, 1, analytic=False, since=6),
    "luu": _f(luu, 1, analytic=False, since=6), "funm": _f(funm, 2, analytic=False, since=6),
}

CONSTANTS: dict[str, float] = {"pi": float(np.pi)}


# -- the complex step through functions that are not analytic -------------------------
# At a real point, away from its kinks, |x| is x or -x, relu(x) is x or 0, max picks one
# argument: each is analytic on a neighbourhood, and the variant below continues that
# branch to x + ih (the branch chosen by the real part), so a complex step through it
# gives the derivative at the real point exactly (d(...) uses them). Every other
# non-analytic function (a decomposition, a matrix function) has no such form here.

def _cs_abs(x: Value) -> Value:
    a = _array(x, "abs")
    return a * np.sign(np.real(a))


def _cs_sign(x: Value) -> Value:
    return np.sign(np.real(_array(x, "sign")))


def _cs_relu(x: Value) -> Value:
    a = _array(x, "relu")
    return a * (np.real(a) > 0)


def _cs_pick(name: str, first: Callable[[Any, Any], Any]) -> Callable[[Value, Value], Value]:
    def pick(a: Value, b: Value) -> Value:
        x, y = _pair(a, b, name)
        return np.where(first(np.real(x), np.real(y)), x, y)

    return pick


def _cs_norm(x: Value, order: Value = None) -> Value:
    """The 2-norm of a vector and the Frobenius norm of a matrix as sqrt(sum(x * x))."""
    a = _array(x, "norm")
    vector = a.ndim <= 1 or (a.ndim == 2 and 1 in a.shape)
    if order is not None and not (vector and order == 2):
        raise EvalError(f"d(...) of norm with order {order} is not supported: write its differential out")
    if not vector and a.ndim != 2:
        raise EvalError(f"norm expects a vector or a matrix, got shape {shape_str(a.shape)}")
    return np.sqrt(np.sum(a * a))


def _cs_extreme(name: str, arg: Callable[..., Any]) -> Callable[[Value, Value], Value]:
    def extreme(x: Value, axis: Value = None) -> Value:
        a = _array(x, name)
        ax = _axis(a, axis, name)
        if ax is None:
            return a.reshape(-1)[arg(np.real(a).reshape(-1))]
        return np.take_along_axis(a, np.expand_dims(arg(np.real(a), axis=ax), ax), ax)

    return extreme


def _cs_where(cond: Value, a: Value, b: Value) -> Value:
    c = _array(cond, "where")
    _broadcast_within_limits("where", c, np.asarray(a), np.asarray(b))
    return np.where(np.real(c) != 0, a, b)


# The functions above, by name: what d(E) may call besides the analytic functions.
COMPLEX_STEP: dict[str, Callable[..., Value]] = {
    "abs": _cs_abs, "sign": _cs_sign, "relu": _cs_relu, "step": _cs_step, "norm": _cs_norm, "where": _cs_where,
    "maximum": _cs_pick("maximum", np.greater_equal), "minimum": _cs_pick("minimum", np.less_equal),
    "max": _cs_extreme("max", np.argmax), "min": _cs_extreme("min", np.argmin),
}
