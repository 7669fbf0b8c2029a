"""The figure of docs/internals/numba_gemm.rst: blocking, packing and the register tile of the CPU
GEMM (microtorch/backends/cpu/gemm.py), drawn with matplotlib from the module's own constants."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle


def _box(ax, x, y, w, h, color="white", edge="black", lw=1.0, alpha=1.0, text=None, **kw):
    ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor=edge, lw=lw, alpha=alpha))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", **kw)


def _blocking(ax, mr, nr, kc, mc):
    """C = A @ B with one A block (mc x kc), one B sliver (kc x nr) and one C tile (mr x nr)."""
    M, N, K = 9.0, 10.0, 7.0
    s_mc, s_kc, s_nr, s_mr = 3.0, 2.5, 1.0, 0.6  # drawing sizes
    ax.set_title("1. Cache blocking", loc="left", fontsize=11)
    # A at left, B on top, C below B
    ax_, ay = 0.0, 0.0
    _box(ax, ax_, ay, K, M, "#f4f4f4")
    ax.text(ax_ + K / 2, ay + M + 0.3, "A (M x K)", ha="center")
    _box(ax, ax_ + 2.0, ay + M - 1.0 - s_mc, s_kc, s_mc, "#9ecae1")
    for q in range(1, int(s_mc / s_mr)):
        ax.plot([ax_ + 2.0, ax_ + 2.0 + s_kc], [ay + M - 1.0 - q * s_mr] * 2, lw=0.4, c="k")
    ax.annotate(f"A block mc x kc (<= {mc} x {kc}), read in place\nby the tile, {mr} rows at "
                "a time: stays in L2", xy=(ax_ + 2.0, ay + M - 1.0 - s_mc / 2), xytext=(-0.6, 2.5),
                ha="right",
                fontsize=8, arrowprops=dict(arrowstyle="->"))
    bx, by = K + 1.0, M + 1.5
    _box(ax, bx, by, N, K, "#f4f4f4")
    ax.text(bx + N / 2, by + K + 0.3, "B (K x N), packed once per call", ha="center")
    for i in range(int(N / s_nr)):
        _box(ax, bx + i * s_nr, by + K - 2.0 - s_kc, s_nr, s_kc, "#fdd0a2", lw=0.5)
    _box(ax, bx + 4 * s_nr, by + K - 2.0 - s_kc, s_nr, s_kc, "#fd8d3c", lw=1.5)
    ax.text(bx + 4.5 * s_nr, by + K - 2.0 - s_kc - 0.45, f"sliver kc x {nr}: in L1",
            ha="center", va="top", fontsize=8)
    cx, cy = bx, ay
    _box(ax, cx, cy, N, M, "#f4f4f4")
    ax.text(cx + N / 2, cy - 0.5, "C (M x N)", ha="center", va="top")
    _box(ax, cx, cy + M - 1.0 - s_mc, N, s_mc, "#deebf7", lw=0.5)
    _box(ax, cx + 4 * s_nr, cy + M - 1.0 - s_mc, s_nr, s_mc, "#fdd0a2", lw=0.5)
    _box(ax, cx + 4 * s_nr, cy + M - 1.0 - s_mr * 2, s_nr, s_mr, "#e6550d", lw=1.5)
    ax.annotate(f"register tile\n{mr} x {nr}", xy=(cx + 4.5 * s_nr, cy + M - 1.0 - s_mr * 1.5),
                xytext=(cx + 7.5, cy + 2.0), fontsize=8, ha="center",
                arrowprops=dict(arrowstyle="->"))
    ax.text(ax_ + K / 2, -1.4, "K is cut into blocks of kc; for each block, the micro-kernel\n"
            "sweeps each B sliver down all micro-panels of the A block", ha="center",
            va="top", fontsize=8)
    ax.set_xlim(-8.0, K + N + 1.5)
    ax.set_ylim(-3.0, M + K + 2.5)


def _packing(ax, nr, kc_show=4, nr_show=6):
    """The order in which a sliver of B is stored: bp[p * NR + j] = B[p, j]."""
    ax.set_title("3. Packing a B sliver", loc="left", fontsize=11)
    n = kc_show * nr_show
    for p in range(kc_show):
        for j in range(nr_show):
            idx = p * nr_show + j
            label = str(p * nr + j) if j < nr_show - 1 else "..."
            _box(ax, j, kc_show - 1 - p, 1, 1, plt.cm.Oranges(0.15 + 0.6 * idx / n),
                 text=label, fontsize=7)
    ax.text(nr_show / 2, kc_show + 0.4, f"kc rows x {nr} columns of B", ha="center", fontsize=8)
    y0 = -2.2
    for idx in range(n):
        _box(ax, idx * 0.4 - 2.0, y0, 0.4, 0.8, plt.cm.Oranges(0.15 + 0.6 * idx / n), lw=0.5)
    ax.text(nr_show / 2, y0 - 0.4, "bp: row after row, contiguous:\n"
            "each step of p loads one row with vector loads", ha="center", va="top", fontsize=8)
    ax.add_patch(FancyArrowPatch((nr_show / 2, -0.2), (nr_show / 2, y0 + 0.95),
                                 arrowstyle="->", mutation_scale=12))
    ax.set_xlim(-2.5, 8.5)
    ax.set_ylim(-4.5, kc_show + 1.2)


def _register_tile(ax, mr, nr):
    """One step p of the micro-kernel: an outer product of MR numbers of A and NR of B."""
    ax.set_title("2. The register tile: one step of p", loc="left", fontsize=11)
    w = 0.5
    for j in range(nr):
        _box(ax, 1.0 + j * w, mr * w + 0.4, w, w, "#fd8d3c", lw=0.5)
    ax.text(1.0 + nr * w / 2, mr * w + 0.4 + w + 0.2, f"b[p, 0:{nr}] (2 vector loads)",
            ha="center", fontsize=8)
    for r in range(mr):
        _box(ax, 0.2, (mr - 1 - r) * w, w, w, "#9ecae1", lw=0.5)
    ax.text(0.0, mr * w / 2, f"a[0:{mr}, p]\n({mr} broadcasts)", ha="right", va="center",
            fontsize=8)
    for r in range(mr):
        for j in range(nr):
            _box(ax, 1.0 + j * w, (mr - 1 - r) * w, w, w, "#e6550d", lw=0.3, alpha=0.35)
    ax.text(1.0 + nr * w / 2, -0.5, f"{mr * nr} sums held in registers: c[r, j] += a[r] * b[j]"
            f"\n= {mr * nr} multiply-adds per step, no memory traffic for C", ha="center",
            va="top", fontsize=8)
    ax.set_xlim(-2.2, 1.0 + nr * w + 0.3)
    ax.set_ylim(-1.8, mr * w + 1.6)


def draw(mr, nr, kc, mc):
    """The three-panel figure for a micro-kernel of ``mr x nr`` and blocks of ``kc``, ``mc``."""
    fig = plt.figure(figsize=(11, 8))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.35, 1], width_ratios=[1.5, 1])
    axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    _blocking(axes[0], mr, nr, kc, mc)
    _register_tile(axes[1], mr, nr)
    _packing(axes[2], nr)
    for ax in axes:
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    from microtorch.backends.cpu import gemm

    draw(gemm.MR, gemm.NR_F32, gemm.KC_MAX, gemm.MC_MAX).savefig("gemm_figure.png", dpi=80)
