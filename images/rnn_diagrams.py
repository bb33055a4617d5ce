"""Draw the RNN lesson's diagrams (images/rnn_*.png) with Matplotlib: run `python images/rnn_diagrams.py`."""
from pathlib import Path
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch

HERE = Path(__file__).parent
COLORS = {'input': '#4c9a2a', 'hidden': '#e08214', 'output': '#2166ac'}

def box(ax, x, y, text, color, w=1.1, h=0.6):
    "A rounded box centred on (x, y)."
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle='round,pad=0.05', fc=color, ec='none', alpha=0.85))
    ax.text(x, y, text, ha='center', va='center', color='white', fontsize=10, weight='bold')

def arrow(ax, a, b, color):
    "An arrow between the edges of the boxes centred on a and b (boxes in a row or a column)."
    dx, dy = (0.68, 0) if a[1] == b[1] else (0, 0.4)
    ax.annotate('', xy=(b[0] - dx, b[1] - dy), xytext=(a[0] + dx, a[1] + dy),
                arrowprops=dict(arrowstyle='-|>', color=color, lw=2, shrinkA=0, shrinkB=0))

def legend(ax, x, y):
    "What each arrow colour means: one weight matrix per colour."
    for i, (name, what) in enumerate([('input', 'embedding (word -> hidden)'), ('hidden', 'hidden -> hidden (one Linear)'),
                                      ('output', 'hidden -> scores of the next word')]):
        ax.plot([x, x + 0.4], [y - 0.35 * i] * 2, color=COLORS[name], lw=3)
        ax.text(x + 0.5, y - 0.35 * i, what, va='center', fontsize=8)

def three_words():
    "Three words in, one prediction out: the same arrows repeat at every step."
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for t in range(3):
        box(ax, 1 + 2 * t, 0, f'word {t + 1}', COLORS['input'])
        box(ax, 1 + 2 * t, 1.6, f'hidden {t + 1}', COLORS['hidden'])
        arrow(ax, (1 + 2 * t, 0), (1 + 2 * t, 1.6), COLORS['input'])
        if t: arrow(ax, (2 * t - 1, 1.6), (1 + 2 * t, 1.6), COLORS['hidden'])
    box(ax, 5, 3.1, 'word 4?', COLORS['output'])
    arrow(ax, (5, 1.6), (5, 3.1), COLORS['output'])
    legend(ax, 0.3, 3.4)
    ax.set(xlim=(0, 6.2), ylim=(-0.6, 3.7)); ax.axis('off')
    return fig

def loop():
    "The same model folded: one hidden box with an arrow back to itself."
    fig, ax = plt.subplots(figsize=(4, 3.2))
    box(ax, 1, 0, 'word t', COLORS['input'])
    box(ax, 1, 1.6, 'hidden', COLORS['hidden'])
    box(ax, 1, 3.1, 'word t+1?', COLORS['output'])
    arrow(ax, (1, 0), (1, 1.6), COLORS['input']); arrow(ax, (1, 1.6), (1, 3.1), COLORS['output'])
    ax.plot([1.62, 2.1, 2.1], [1.75, 1.75, 1.45], color=COLORS['hidden'], lw=2)
    ax.annotate('', xy=(1.64, 1.45), xytext=(2.1, 1.45), arrowprops=dict(arrowstyle='-|>', color=COLORS['hidden'], lw=2))
    ax.text(2.2, 1.6, 'for t in\nrange(n)', fontsize=8, color=COLORS['hidden'], va='center')
    ax.set(xlim=(0, 3), ylim=(-0.6, 3.6)); ax.axis('off')
    return fig

def node(ax, x, y, op, color='k'):
    "A small circle holding an elementwise operation ('×' for a product, '+' for a sum)."
    ax.add_patch(Circle((x, y), 0.17, fc='white', ec=color, lw=1.5, zorder=3))
    ax.text(x, y, op, ha='center', va='center', fontsize=11, color=color, zorder=4)

def lstm_cell():
    "An LSTM cell at step t: four gates from x_t and h_(t-1), c carried along the top, h_t and c_t fed back to step t+1."
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    up = dict(arrowstyle='-|>', color=COLORS['output'], lw=1.5, shrinkA=0, shrinkB=0)
    # the cell state: multiplied by f, then i * g added
    ax.annotate('', xy=(6.7, 3), xytext=(0.5, 3), arrowprops=dict(arrowstyle='-|>', color='k', lw=2))
    ax.text(-0.1, 2.8, 'c(t-1)', fontsize=9, va='center'); ax.text(6.8, 3.0, 'c(t)', fontsize=9, va='center')
    ax.text(3.5, 3.3, 'cell state: only multiplied and added elementwise', fontsize=8, ha='center')
    ax.annotate('', xy=(5.9, 0.2), xytext=(0.5, 0.2), arrowprops=dict(arrowstyle='-', color='grey', lw=2))
    ax.text(-0.1, 0.4, 'h(t-1)', fontsize=9, va='center', color='grey')
    ax.annotate('', xy=(1.0, 0.2), xytext=(1.0, -0.5), arrowprops=dict(arrowstyle='-|>', color=COLORS['input'], lw=2))
    ax.text(1.1, -0.45, 'x(t): the word read', fontsize=9, color=COLORS['input'])
    gates = [('f: forget\nsigmoid', 1.3), ('i: input\nsigmoid', 2.6), ('g: candidate\ntanh', 3.9), ('o: output\nsigmoid', 5.2)]
    for name, x in gates:
        box(ax, x, 1.4, name, COLORS['hidden'], w=1.1, h=0.75)
        ax.annotate('', xy=(x, 1.0), xytext=(x, 0.2), arrowprops=dict(arrowstyle='-', color='grey', lw=1.5))
    # f multiplies the old cell state
    node(ax, 1.3, 3, '×'); ax.annotate('', xy=(1.3, 2.83), xytext=(1.3, 1.8), arrowprops=up)
    ax.text(1.4, 2.45, 'c * f', fontsize=9, color=COLORS['output'])
    # i and g meet in one product, which is added to the cell state
    node(ax, 3.25, 2.3, '×', COLORS['output'])
    ax.annotate('', xy=(3.1, 2.22), xytext=(2.6, 1.8), arrowprops=up)
    ax.annotate('', xy=(3.4, 2.22), xytext=(3.9, 1.8), arrowprops=up)
    node(ax, 3.25, 3, '+'); ax.annotate('', xy=(3.25, 2.83), xytext=(3.25, 2.47), arrowprops=up)
    ax.text(3.45, 2.55, 'i * g', fontsize=9, color=COLORS['output'])
    # h(t) = o * tanh(c(t)): tanh of the new cell state times the output gate
    ax.plot([6.2, 6.2], [3.0, 2.55], color=COLORS['output'], lw=1.5)
    ax.text(6.2, 2.3, 'tanh', ha='center', va='center', fontsize=8, color=COLORS['output'],
            bbox=dict(boxstyle='round,pad=0.15', fc='white', ec=COLORS['output']))
    node(ax, 6.2, 1.4, '×', COLORS['output'])
    ax.annotate('', xy=(6.2, 1.57), xytext=(6.2, 2.08), arrowprops=up)
    ax.annotate('', xy=(6.03, 1.4), xytext=(5.75, 1.4), arrowprops=up)
    ax.annotate('', xy=(6.7, 0.6), xytext=(6.3, 1.27), arrowprops=up)
    ax.text(6.35, 1.85, 'h = o * tanh(c)', fontsize=8, color=COLORS['output'])
    ax.text(6.8, 0.6, 'h(t)', fontsize=9, va='center')
    # the recurrence: both states come back as the inputs of step t+1
    kw = dict(arrowstyle='-|>', color=COLORS['hidden'], lw=1.5, ls='--', connectionstyle='arc3,rad=0.0')
    ax.plot([7.25, 7.6, 7.6], [3.0, 3.0, 3.85], color=COLORS['hidden'], lw=1.5, ls='--')
    ax.plot([7.6, -0.6, -0.6], [3.85, 3.85, 3.0], color=COLORS['hidden'], lw=1.5, ls='--')
    ax.annotate('', xy=(0.45, 3.0), xytext=(-0.6, 3.0), arrowprops=kw)
    ax.plot([7.25, 7.6, 7.6], [0.6, 0.6, -0.95], color=COLORS['hidden'], lw=1.5, ls='--')
    ax.plot([7.6, -0.6, -0.6], [-0.95, -0.95, 0.2], color=COLORS['hidden'], lw=1.5, ls='--')
    ax.annotate('', xy=(0.45, 0.2), xytext=(-0.6, 0.2), arrowprops=kw)
    ax.text(3.5, 3.95, 'c(t) becomes c(t-1) of the next step', fontsize=8, ha='center', color=COLORS['hidden'])
    ax.text(3.5, -1.2, 'h(t) becomes h(t-1) of the next step (and is the layer\'s output)', fontsize=8, ha='center', color=COLORS['hidden'])
    ax.set(xlim=(-0.9, 7.9), ylim=(-1.4, 4.2)); ax.axis('off')
    return fig

if __name__ == '__main__':
    for name, draw in [('rnn_three_words', three_words), ('rnn_loop', loop), ('rnn_lstm_cell', lstm_cell)]:
        fig = draw(); fig.tight_layout(); fig.savefig(HERE / f'{name}.png', dpi=80); plt.close(fig)
