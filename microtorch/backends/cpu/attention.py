"""Fused scaled dot-product attention for the CPU backend, forward and backward.

Arrays: ``q (N, L, E)``, ``k (N, S, E)``, ``v (N, S, Ev)`` (N = batch * heads, C-contiguous, one
float dtype), ``bias (Nb, L, S)`` the additive mask (``-inf`` where a key is masked; ``Nb`` is
0 for no mask, 1 for one shared by every n, or N), ``causal`` masks key ``j > i``.

Forward (FlashAttention): each task is one ``n`` and one block of ``_QBLOCK`` queries. It walks
the keys once, ``_KBLOCK`` at a time, and keeps per query row a running max ``m``, a running sum
``l`` of ``exp(s - m)`` and a running ``acc = sum_j exp(s_j - m) v_j``; when a block raises the
max, ``l`` and ``acc`` are rescaled by ``exp(m_old - m_new)``. At the end ``out = acc / l`` and
``lse = m + log(l)`` (the log-sum-exp of the row's scores) is all that is saved: the ``(L, S)``
weights are never stored. A row with every key masked gives ``out = 0`` and ``lse = +inf``.

Backward (FlashAttention-2) recomputes ``p_ij = exp(s_ij - lse_i)`` from q, k and the saved lse,
with ``D_i = sum_e g_ie out_ie``::

    dv_j += p_ij g_i      dp_ij = g_i . v_j      ds_ij = p_ij (dp_ij - D_i)
    dq_i += scale ds_ij k_j                     dk_j += scale ds_ij q_i

Threads take tasks (forward) or whole ``n`` (backward, so no two threads add to the same row).
"""

import numpy as np

from .. import contract
from .._numba import jit
from .threads import parallel_for

REGISTRY = contract.registry("cpu")

_FAST = {"reassoc", "contract", "nsz", "arcp"}
#: Queries per forward task, and keys per step of the online softmax.
_QBLOCK = 32
_KBLOCK = 64
#: Smaller problems (N * L * S) run on one thread.
_PARALLEL_WORK = 1 << 14


@jit(fastmath=_FAST)
def _forward_blocks(q, k, v, bias, causal, scale, out, lse, t_lo, t_hi):
    """Tasks t_lo..t_hi of the N * ceil(L / _QBLOCK): the online softmax of one query block.

    Each key block is first copied transposed (``kt (E, _KBLOCK)``), so a row of scores is a
    sum over e of ``q[i, e] * kt[e, :]``: vector operations along the keys, no per-score
    horizontal sum."""
    N, L, E = q.shape
    S = k.shape[1]
    Ev = v.shape[2]
    nb = bias.shape[0]
    nqb = (L + _QBLOCK - 1) // _QBLOCK
    zero = q.dtype.type(0)
    sc = q.dtype.type(scale)
    kt = np.empty((E, _KBLOCK), dtype=q.dtype)
    srow = np.empty(_KBLOCK, dtype=q.dtype)
    m = np.empty(_QBLOCK)
    ls = np.empty(_QBLOCK)
    acc = np.empty((_QBLOCK, Ev), dtype=q.dtype)
    for t in range(t_lo, t_hi):
        n = t // nqb
        bn = n if nb > 1 else 0
        i0 = (t % nqb) * _QBLOCK
        i1 = min(L, i0 + _QBLOCK)
        m[:] = -np.inf
        ls[:] = 0.0
        acc[:] = zero
        s_end = min(S, i1) if causal else S
        for j0 in range(0, s_end, _KBLOCK):
            j1 = min(s_end, j0 + _KBLOCK)
            w = j1 - j0
            for j in range(w):
                for e in range(E):
                    kt[e, j] = k[n, j0 + j, e]
            for i in range(i0, i1):
                r = i - i0
                jend = min(j1, i + 1) if causal else j1
                if jend <= j0:
                    continue
                wi = jend - j0
                srow[:wi] = zero
                e = 0
                while e + 4 <= E:  # four dims per sweep of the row: fewer loads and stores
                    q0, q1 = q[n, i, e] * sc, q[n, i, e + 1] * sc
                    q2, q3 = q[n, i, e + 2] * sc, q[n, i, e + 3] * sc
                    for j in range(wi):
                        srow[j] += (q0 * kt[e, j] + q1 * kt[e + 1, j]) + \
                            (q2 * kt[e + 2, j] + q3 * kt[e + 3, j])
                    e += 4
                for e in range(e, E):
                    qe = q[n, i, e] * sc
                    for j in range(wi):
                        srow[j] += qe * kt[e, j]
                if nb > 0:
                    for j in range(wi):
                        srow[j] += bias[bn, i, j0 + j]
                row_max = -np.inf
                for j in range(wi):
                    if srow[j] > row_max:
                        row_max = srow[j]
                m_new = max(m[r], row_max)
                if m_new == -np.inf:  # every key so far masked
                    continue
                alpha = np.exp(m[r] - m_new)
                if alpha != 1.0:
                    ls[r] *= alpha
                    a = q.dtype.type(alpha)
                    for e in range(Ev):
                        acc[r, e] *= a
                mq = q.dtype.type(m_new)
                total = zero
                for j in range(wi):
                    srow[j] = np.exp(srow[j] - mq)
                    total += srow[j]
                j = 0
                while j + 4 <= wi:  # four keys per sweep of the accumulator row
                    p0, p1, p2, p3 = srow[j], srow[j + 1], srow[j + 2], srow[j + 3]
                    jj = j0 + j
                    for e in range(Ev):
                        acc[r, e] += (p0 * v[n, jj, e] + p1 * v[n, jj + 1, e]) + \
                            (p2 * v[n, jj + 2, e] + p3 * v[n, jj + 3, e])
                    j += 4
                for j in range(j, wi):
                    p = srow[j]
                    for e in range(Ev):
                        acc[r, e] += p * v[n, j0 + j, e]
                ls[r] += total
                m[r] = m_new
        for i in range(i0, i1):
            r = i - i0
            if ls[r] == 0.0:
                lse[n, i] = np.inf
                for e in range(Ev):
                    out[n, i, e] = zero
            else:
                lse[n, i] = m[r] + np.log(ls[r])
                inv = q.dtype.type(1.0 / ls[r])
                for e in range(Ev):
                    out[n, i, e] = acc[r, e] * inv


@jit(fastmath=_FAST)
def _row_times(a, n, i, c, bt, w, row):
    """row[:w] += c * a[n, i, :] @ bt[:, :w], four rows of bt per sweep of ``row``."""
    D = a.shape[2]
    e = 0
    while e + 4 <= D:
        a0, a1, a2, a3 = a[n, i, e] * c, a[n, i, e + 1] * c, a[n, i, e + 2] * c, a[n, i, e + 3] * c
        for j in range(w):
            row[j] += (a0 * bt[e, j] + a1 * bt[e + 1, j]) + (a2 * bt[e + 2, j] + a3 * bt[e + 3, j])
        e += 4
    for e in range(e, D):
        ae = a[n, i, e] * c
        for j in range(w):
            row[j] += ae * bt[e, j]


@jit(fastmath=_FAST)
def _backward_heads(g, q, k, v, bias, causal, scale, out, lse, gq, gk, gv, n_lo, n_hi):
    """Gradients for n_lo..n_hi, recomputing the weights from the saved lse, four query rows
    at a time: their rows of ``p`` and ``ds`` first (from k and v copied transposed), then one
    sweep per key row adds all four rows' terms to ``dk_j`` and ``dv_j``."""
    N, L, E = q.shape
    S = k.shape[1]
    Ev = v.shape[2]
    nb = bias.shape[0]
    zero = q.dtype.type(0)
    one = q.dtype.type(1)
    sc = q.dtype.type(scale)
    kt = np.empty((E, S), dtype=q.dtype)
    vt = np.empty((Ev, S), dtype=q.dtype)
    p = np.zeros((4, S), dtype=q.dtype)
    ds = np.zeros((4, S), dtype=q.dtype)
    for n in range(n_lo, n_hi):
        bn = n if nb > 1 else 0
        gq[n] = zero
        gk[n] = zero
        gv[n] = zero
        for j in range(S):
            for e in range(E):
                kt[e, j] = k[n, j, e]
            for e in range(Ev):
                vt[e, j] = v[n, j, e]
        for i0 in range(0, L, 4):
            rows = min(4, L - i0)
            jend = min(S, i0 + rows) if causal else S
            p[:, :jend] = zero
            ds[:, :jend] = zero
            for r in range(rows):
                i = i0 + r
                li = lse[n, i]
                if li == np.inf:  # every key masked: no gradient (p, ds stay 0)
                    continue
                di = zero
                for e in range(Ev):
                    di += g[n, i, e] * out[n, i, e]
                ji = min(S, i + 1) if causal else S
                _row_times(q, n, i, sc, kt, ji, p[r])
                _row_times(g, n, i, one, vt, ji, ds[r])
                lq = q.dtype.type(li)
                for j in range(ji):
                    s = p[r, j]
                    if nb > 0:
                        s += bias[bn, i, j]
                    pj = np.exp(s - lq)
                    p[r, j] = pj
                    ds[r, j] = pj * (ds[r, j] - di) * sc
            for j in range(jend):
                p0, p1, p2, p3 = p[0, j], p[1, j], p[2, j], p[3, j]
                d0, d1, d2, d3 = ds[0, j], ds[1, j], ds[2, j], ds[3, j]
                if rows == 4:
                    for e in range(Ev):
                        gv[n, j, e] += (p0 * g[n, i0, e] + p1 * g[n, i0 + 1, e]) + \
                            (p2 * g[n, i0 + 2, e] + p3 * g[n, i0 + 3, e])
                    for e in range(E):
                        gk[n, j, e] += (d0 * q[n, i0, e] + d1 * q[n, i0 + 1, e]) + \
                            (d2 * q[n, i0 + 2, e] + d3 * q[n, i0 + 3, e])
                        kje = k[n, j, e]
                        gq[n, i0, e] += d0 * kje
                        gq[n, i0 + 1, e] += d1 * kje
                        gq[n, i0 + 2, e] += d2 * kje
                        gq[n, i0 + 3, e] += d3 * kje
                else:
                    for r in range(rows):
                        pr, dr = p[r, j], ds[r, j]
                        for e in range(Ev):
                            gv[n, j, e] += pr * g[n, i0 + r, e]
                        for e in range(E):
                            gk[n, j, e] += dr * q[n, i0 + r, e]
                            gq[n, i0 + r, e] += dr * k[n, j, e]


def _bias(bias, q):
    """The bias array the kernels take: ``(0, 1, 1)`` for no mask."""
    return np.zeros((0, 1, 1), dtype=q.dtype) if bias is None else np.ascontiguousarray(bias)


@REGISTRY.kernel("attention")
def attention(q, k, v, bias, causal, scale):
    """``(out, lse)``: ``softmax(q k^T * scale + bias (+ causal mask)) v`` and the log-sum-exp of
    each row's scores (``+inf`` for a row with every key masked, whose ``out`` is 0)."""
    q, k, v = (np.ascontiguousarray(a) for a in (q, k, v))
    N, L, _ = q.shape
    out = np.empty((N, L, v.shape[2]), dtype=q.dtype)
    lse = np.empty((N, L), dtype=np.float64)
    if out.size == 0 or L == 0:
        return out, lse
    if k.shape[1] == 0:
        out[:] = 0
        lse[:] = np.inf
        return out, lse
    tasks = N * -(-L // _QBLOCK)
    parallel_for(_forward_blocks, tasks, q, k, v, _bias(bias, q), bool(causal), float(scale),
                 out, lse, serial=N * L * k.shape[1] < _PARALLEL_WORK)
    return out, lse


@REGISTRY.kernel("attention_backward")
def attention_backward(g, q, k, v, bias, causal, scale, out, lse):
    """``(gq, gk, gv)``: the gradients of :func:`attention` given the upstream gradient ``g``,
    its output ``out`` and ``lse``."""
    g, q, k, v, out = (np.ascontiguousarray(a, dtype=q.dtype) for a in (g, q, k, v, out))
    gq, gk, gv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    if q.size + k.size + v.size == 0 or q.shape[1] == 0 or k.shape[1] == 0:
        gq[:], gk[:], gv[:] = 0, 0, 0
        return gq, gk, gv
    N, L, _ = q.shape
    parallel_for(_backward_heads, N, g, q, k, v, _bias(bias, q), bool(causal), float(scale),
                 out, np.ascontiguousarray(lse), gq, gk, gv,
                 serial=N * L * k.shape[1] < _PARALLEL_WORK)
    return gq, gk, gv


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit
def _weights_reference(q, k, bias, causal, scale, n, p):
    """p (L, S) = the scores of head n: q k^T * scale + bias, -inf where masked."""
    L, E = q.shape[1], q.shape[2]
    S = k.shape[1]
    nb = bias.shape[0]
    for i in range(L):
        for j in range(S):
            d = 0.0
            for e in range(E):
                d += q[n, i, e] * k[n, j, e]
            x = d * scale
            if nb > 0:
                x += bias[n if nb > 1 else 0, i, j]
            if causal and j > i:
                x = -np.inf
            p[i, j] = x


@jit
def _attention_reference_loop(q, k, v, bias, causal, scale, out, lse):
    """For each n: the scores matrix, its softmax row by row, then weights @ v."""
    N, L, _ = q.shape
    S = k.shape[1]
    Ev = v.shape[2]
    p = np.empty((L, S))
    for n in range(N):
        _weights_reference(q, k, bias, causal, scale, n, p)
        for i in range(L):
            m = -np.inf
            for j in range(S):
                m = max(m, p[i, j])
            if m == -np.inf:
                lse[n, i] = np.inf
                p[i, :] = 0.0
            else:
                total = 0.0
                for j in range(S):
                    total += np.exp(p[i, j] - m)
                lse[n, i] = m + np.log(total)
                for j in range(S):
                    p[i, j] = np.exp(p[i, j] - lse[n, i])
            for e in range(Ev):
                acc = 0.0
                for j in range(S):
                    acc += p[i, j] * v[n, j, e]
                out[n, i, e] = acc


@REGISTRY.reference("attention")
def attention_reference(q, k, v, bias, causal, scale):
    """Textbook ``attention``: scores matrix, softmax, product with v."""
    N, L, _ = q.shape
    out = np.empty((N, L, v.shape[2]), dtype=q.dtype)
    lse = np.empty((N, L), dtype=np.float64)
    if out.size:
        _attention_reference_loop(q, k, v, _bias(bias, q), bool(causal), float(scale), out, lse)
    else:
        lse[:] = np.inf
    return out, lse


@jit
def _attention_backward_reference_loop(g, q, k, v, bias, causal, scale, lse, gq, gk, gv):
    """For each n: P from the scores and lse, dV = P^T G, dP = G V^T, dS = P * (dP - rowsum(
    dP * P)), dQ = dS K * scale, dK = dS^T Q * scale."""
    N, L, E = q.shape
    S = k.shape[1]
    Ev = v.shape[2]
    p = np.empty((L, S))
    dp = np.empty((L, S))
    for n in range(N):
        _weights_reference(q, k, bias, causal, scale, n, p)
        for i in range(L):
            for j in range(S):
                p[i, j] = np.exp(p[i, j] - lse[n, i])
                acc = 0.0
                for e in range(Ev):
                    acc += g[n, i, e] * v[n, j, e]
                dp[i, j] = acc
            d = 0.0
            for j in range(S):
                d += dp[i, j] * p[i, j]
            for j in range(S):
                dp[i, j] = p[i, j] * (dp[i, j] - d)  # now dS
        for j in range(S):
            for e in range(Ev):
                acc = 0.0
                for i in range(L):
                    acc += p[i, j] * g[n, i, e]
                gv[n, j, e] = acc
            for e in range(E):
                acc = 0.0
                for i in range(L):
                    acc += dp[i, j] * q[n, i, e]
                gk[n, j, e] = acc * scale
        for i in range(L):
            for e in range(E):
                acc = 0.0
                for j in range(S):
                    acc += dp[i, j] * k[n, j, e]
                gq[n, i, e] = acc * scale


@REGISTRY.reference("attention_backward")
def attention_backward_reference(g, q, k, v, bias, causal, scale, out, lse):
    """Textbook ``attention_backward``: recompute the weights matrix, then the products."""
    g = np.ascontiguousarray(g, dtype=q.dtype)
    gq, gk, gv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    if q.size and k.size and v.size:
        _attention_backward_reference_loop(g, q, k, v, _bias(bias, q), bool(causal),
                                           float(scale), lse, gq, gk, gv)
    return gq, gk, gv
