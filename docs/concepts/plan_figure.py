"""The figure of docs/concepts/implementations.rst: the paths of a graph convolution's call,
from the plan's inputs through the rule's decisions to the kernels (drawn by the
``plot`` directive)."""

import matplotlib.pyplot as plt

INPUT, DECISION, REFERENCE, FAST = "#e8e8e8", "#fff2cc", "#dae8fc", "#d5e8d4"


def box(ax, x, y, text, color, width=0.2):
    """A box centred at (x, y) in axes fractions."""
    ax.text(
        x, y, text, ha="center", va="center", fontsize=7.5, wrap=True,
        bbox={"boxstyle": "round,pad=0.4", "facecolor": color, "edgecolor": "#555555"},
    )  # fmt: skip


def arrow(ax, start, end, label=""):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "#333333"})
    if label:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.025)
        ax.text(*middle, label, ha="center", va="bottom", fontsize=7, style="italic")


fig, ax = plt.subplots(figsize=(7.6, 4.4))
ax.set_axis_off()
ax.set_xlim(0, 1)
ax.set_ylim(0, 1)

# The plan's inputs.
box(ax, 0.09, 0.86, "costs of both orders\n(counted when built)", INPUT)
box(ax, 0.09, 0.66, "global setting\nauto · reference · fast", INPUT)
box(ax, 0.09, 0.46, "runtime: trace, compile,\ndropout, gradients,\nbatch norm mode", INPUT)
box(ax, 0.09, 0.18, "stream's first frame\n(kernels kept in\nits declared state)", INPUT)
for y in (0.86, 0.66, 0.46):
    arrow(ax, (0.2, y), (0.3, 0.66))
arrow(ax, (0.2, 0.18), (0.3, 0.6))
box(ax, 0.36, 0.66, "layer.plan()", DECISION, 0.1)

# The rule's decisions, in order.
box(ax, 0.6, 0.88, "traced, or dropout\non aggregated features?", DECISION)
box(ax, 0.6, 0.62, "setting 'reference', or 'auto'\nand the fast order costs more?", DECISION)
box(ax, 0.6, 0.36, "compile / export,\nor a stream step?", DECISION)
box(ax, 0.6, 0.1, "no gradients, eval batch norm,\nReLU, not reference or traced?", DECISION)
arrow(ax, (0.42, 0.7), (0.49, 0.86))
arrow(ax, (0.6, 0.83), (0.6, 0.68), "no")
arrow(ax, (0.6, 0.57), (0.6, 0.41), "no: fast")
arrow(ax, (0.42, 0.62), (0.47, 0.15), "epilogue")

# The kernels.
REFERENCE_KERNELS = "reference\nfunctional.py:\nwindow_graph_conv,\nmultiscale_graph_conv"
box(ax, 0.89, 0.82, REFERENCE_KERNELS, REFERENCE)
FAST_KERNELS = "fast, whole-tensor\n(autograd's backward)\nproject_first.py,\nnode_major.py"
box(ax, 0.89, 0.46, FAST_KERNELS, FAST)
box(ax, 0.89, 0.24, "fast, custom autograd\n(own backward,\nrecomputes)", FAST)
box(ax, 0.89, 0.06, "fused in place\n(else the modules)", FAST)
arrow(ax, (0.72, 0.88), (0.8, 0.84), "yes")
arrow(ax, (0.76, 0.64), (0.8, 0.75), "yes")
arrow(ax, (0.7, 0.38), (0.8, 0.45), "yes")
arrow(ax, (0.7, 0.33), (0.8, 0.26), "no")
arrow(ax, (0.75, 0.09), (0.81, 0.07), "yes")
