r"""Random augmentations: rotation, scaling and translation, seeded by a NumPy Generator.

Each takes a (C, T, V, M) array, a :class:`numpy.random.Generator` (or a seed) and
returns a new array; absent joints (all coordinates zero) stay zero. One random draw per
call applies to the whole sequence, all persons alike, so the scene stays rigid.
"""

from __future__ import annotations

import numpy as np

from skelgraph.data._checks import as_sequence, check_dims

__all__ = [
    "as_generator",
    "random_rotate",
    "random_scale",
    "random_shift",
    "rotation_matrix_xyz",
]

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A Generator from an int seed, ``None`` (fresh entropy), or a Generator (as is).

    Parameters
    ----------
    seed : int, Generator or None
        Passed to :func:`numpy.random.default_rng` unless it is already a Generator.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _coords(data: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    check_dims(dims, data.shape[0])
    coords = data[:dims].astype(np.float64)
    return coords, coords.any(axis=0, keepdims=True)


def rotation_matrix_xyz(angles: np.ndarray) -> np.ndarray:
    r"""Rotation :math:`R = R_z(\gamma) R_y(\beta) R_x(\alpha)` for angles (α, β, γ) in radians.

    Parameters
    ----------
    angles : numpy.ndarray
        (3,), the angles (α, β, γ) about x, y and z, in radians.

    Returns
    -------
    numpy.ndarray
        (3, 3) float64.
    """
    a, b, g = (float(x) for x in angles)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
    return rz @ ry @ rx


def random_rotate(
    data: np.ndarray,
    rng: SeedLike = None,
    *,
    max_degrees: float = 17.0,
    dims: int = 3,
    axes: str = "xyz",
) -> np.ndarray:
    r"""Rotate the coordinates by random angles, uniform in ±\ ``max_degrees``.

    3-D (``dims=3``): :math:`p' = R_z(\gamma) R_y(\beta) R_x(\alpha)\, p` with α, β, γ
    drawn independently for the ``axes`` named, 0 for the others (``axes="xy"``:
    :math:`R_y(\beta) R_x(\alpha)`, CTR-GCN's N-UCLA view augmentation). 2-D
    (``dims=2``): an in-plane rotation by one angle. Channels from ``dims`` on (e.g. a
    confidence score) are copied.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    rng : Generator or int or None
        The draws (:func:`as_generator`).
    max_degrees : float
        Largest rotation, in degrees, about each axis (17 by default).
    dims : {2, 3}
        Number of leading coordinate channels.
    axes : str
        3-D: the axes rotated about, a non-empty selection of ``"xyz"`` in that order
        (one draw per axis named, in that order).

    Returns
    -------
    numpy.ndarray
        New array, same shape and dtype.
    """
    data = as_sequence(data)
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    _check_axes(axes)
    rng = as_generator(rng)
    limit = np.deg2rad(max_degrees)
    if dims == 3:
        angles = np.zeros(3)
        angles[["xyz".index(a) for a in axes]] = rng.uniform(-limit, limit, size=len(axes))
        rotation = rotation_matrix_xyz(angles)
    else:
        angle = rng.uniform(-limit, limit)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    coords, _ = _coords(data, dims)
    out = data.copy()
    out[:dims] = np.einsum("ij,jtvm->itvm", rotation, coords)
    return out


def _check_axes(axes: str) -> None:
    """``ValueError`` unless ``axes`` names rotation axes: a non-empty, ordered selection
    of ``"xyz"`` ("x", "xy", "yz", ...).

    Parameters
    ----------
    axes : str
        The axes to check.
    """
    if (
        not isinstance(axes, str)
        or not axes
        or any(a not in "xyz" for a in axes)
        or (list(axes) != sorted(set(axes)))
    ):
        raise ValueError(f"axes must be a non-empty ordered selection of 'xyz', got {axes!r}")


def random_scale(
    data: np.ndarray,
    rng: SeedLike = None,
    *,
    low: float = 0.9,
    high: float = 1.1,
    dims: int = 3,
    per_axis: bool = False,
) -> np.ndarray:
    """Scale the coordinates by a factor uniform in [``low``, ``high``).

    ``per_axis`` draws one factor per coordinate channel. Zero joints stay zero.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    rng : Generator or int or None
        The draws (:func:`as_generator`).
    low, high : float
        The range of the factor, 0 < low <= high.
    dims : int
        Number of leading coordinate channels scaled; the others are copied.
    per_axis : bool
        One factor per coordinate channel instead of one for all.

    Returns
    -------
    numpy.ndarray
        New array, same shape and dtype.
    """
    data = as_sequence(data)
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got {low}, {high}")
    rng = as_generator(rng)
    coords, _ = _coords(data, dims)
    factor = rng.uniform(low, high, size=dims if per_axis else 1)
    out = data.copy()
    out[:dims] = coords * factor[:, None, None, None]
    return out


def random_shift(
    data: np.ndarray, rng: SeedLike = None, *, max_shift: float = 0.1, dims: int = 3
) -> np.ndarray:
    """Translate present joints by a vector uniform in ±\\ ``max_shift`` per coordinate.

    Absent joints (all coordinates zero) are not moved, so they stay recognisable.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    rng : Generator or int or None
        The draws (:func:`as_generator`).
    max_shift : float
        The largest shift per coordinate, >= 0.
    dims : int
        Number of leading coordinate channels shifted; the others are copied.

    Returns
    -------
    numpy.ndarray
        New array, same shape and dtype.
    """
    data = as_sequence(data)
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    rng = as_generator(rng)
    coords, present = _coords(data, dims)
    shift = rng.uniform(-max_shift, max_shift, size=dims)
    out = data.copy()
    out[:dims] = (coords + shift[:, None, None, None]) * present
    return out
