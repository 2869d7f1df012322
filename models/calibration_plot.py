"""The reliability curve of a calibration as a PNG (the drawing apart from the maths, which
`models/calibration.py` holds and mutation testing covers)."""

from __future__ import annotations


def reliability_plot(
    bins: list[dict], top_bins: list[dict], ece: float, top_ece: float, path
) -> None:
    """The reliability curve (predicted probability against observed frequency) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for table, label, marker in (
        (bins, f"all hits (ECE {ece:.3f})", "o"),
        (top_bins, f"rank-1 hits (ECE {top_ece:.3f})", "s"),
    ):
        ax.plot(
            [b["predicted"] for b in table],
            [b["observed"] for b in table],
            marker=marker,
            label=label,
        )
    ax.set_xlabel("predicted probability that the hit is right")
    ax.set_ylabel("observed fraction right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title("molvis hit probability, held-out spectra\n(truth present and absent)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
