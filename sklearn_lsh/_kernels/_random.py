"""Small explicit random number streams for numba kernels.

SplitMix64 (Steele, Lea & Flood 2014) as the generator: the state is a
one-element ``uint64`` array owned by the caller. A stream is derived from a
64-bit seed and a stream number (usually the global query index), so each
query draws the same numbers whatever the batch or chunk it is processed in.
"""

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


@numba.njit(cache=True, inline="always")
def next_uint64(state):
    """Advance ``state`` (uint64[1]) and return the next 64-bit output."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def mix_pair(key, value):
    """One SplitMix64 finalisation of ``key ^ (value * golden)``: a cheap,
    well-mixed 64-bit hash of an integer under a key (usable as the state of
    a fresh stream)."""
    z = np.uint64(key) ^ (np.uint64(value) * _GOLDEN)
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@numba.njit(cache=True)
def seed_stream(state, seed, stream):
    """Set ``state`` to the start of stream ``stream`` of generator ``seed``."""
    state[0] = np.uint64(seed)
    first = next_uint64(state)
    state[0] = first ^ (np.uint64(stream) * _MIX1)
    next_uint64(state)


@numba.njit(cache=True, inline="always")
def uniform(state):
    """Uniform float64 in [0, 1) with 53 random bits."""
    return np.float64(next_uint64(state) >> _S11) * _INV_2_53


@numba.njit(cache=True, inline="always")
def open_uniform(state):
    """Uniform float64 in (0, 1): never exactly 0 or 1 (safe for logs)."""
    return (np.float64(next_uint64(state) >> _S11) + 0.5) * _INV_2_53


@numba.njit(cache=True, inline="always")
def randint(state, high):
    """Integer in [0, high) (modulo bias below high / 2**64)."""
    return np.int64(next_uint64(state) % np.uint64(high))


@numba.njit(cache=True, inline="always")
def gumbel(state):
    """Standard Gumbel(0, 1) variate."""
    return -np.log(-np.log(open_uniform(state)))
