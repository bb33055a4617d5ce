"""Weight-decay lesson: the wd sweep on the collaborative-filtering model, Adam+L2 vs AdamW, and the explorer's update time."""
import statistics, sys, time
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import torch
from results import write_section
from lessonlib.data import set_seed
from lessonlib.embeddings import DotProductBias, collab_learner, movielens_dls
from lessonlib.optimizers import fit_one_cycle
from lessonlib.weight_decay import wd_explorer, wd_sweep

def explorer_ms(n=30):
    "Median and worst ms of a weight-decay slider change (closed-form fit, loss curves, PNG re-render)."
    ex, times = wd_explorer(), []
    for i in range(n):
        start = time.perf_counter(); ex.wd_slider.value = 10 ** (-6 + 6 * i / (n - 1)); times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, max(times) * 1e3

def main():
    torch.set_num_threads(1)
    dls = movielens_dls(device='cpu')
    make = lambda opt=None: (lambda wd: collab_learner(DotProductBias(943, 1682, 50), dls=dls, wd=wd) if opt is None else
                             _with_opt(collab_learner(DotProductBias(943, 1682, 50), dls=dls), opt(wd)))
    one_cycle = lambda lr: (lambda learn, n: fit_one_cycle(learn, n, lr))
    start = time.perf_counter()
    sweep = wd_sweep(make(), [0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 3.0], n_epoch=5, fit=one_cycle(1e-2))
    sweep_s = time.perf_counter() - start
    best = sweep.loc[sweep.valid_loss.idxmin()]
    adam_l2 = lambda wd: partial(torch.optim.Adam, weight_decay=wd, betas=(0.9, 0.99), eps=1e-5)
    l2 = wd_sweep(make(adam_l2), [0, 1e-5, 3e-5, 1e-4, 3e-4], n_epoch=5, fit=one_cycle(5e-3))
    adamw = wd_sweep(make(), [0, 0.05, 0.1, 0.2, 0.5], n_epoch=5, fit=one_cycle(5e-3))
    b_l2, b_w = l2.loc[l2.valid_loss.idxmin()], adamw.loc[adamw.valid_loss.idxmin()]
    median_ms, worst_ms = explorer_ms()
    rows = '\n'.join(f'| {r.wd:g} | {r.train_loss:.4f} | {r.valid_loss:.4f} |' for r in sweep.itertuples())
    print(f"best wd {best.wd:g}: valid MSE {best.valid_loss:.4f}; Adam+L2 {b_l2.valid_loss:.4f} (wd {b_l2.wd:g}), "
          f"AdamW {b_w.valid_loss:.4f} (wd {b_w.wd:g}); explorer {median_ms:.1f} ms")
    write_section('weight_decay', f"""## Weight-decay lesson (issue 4)

`benchmarks/bench_weight_decay.py`: `DotProductBias` (50 factors) on the seeded 80/20 MovieLens split, AdamW
(decoupled decay), 5 epochs of one-cycle at lr 1e-2, one torch thread; {len(sweep)} runs in {sweep_s:.0f} s.

| wd | train MSE | valid MSE |
|---|---|---|
{rows}

**Best: wd = {best.wd:g}, valid MSE {best.valid_loss:.4f}** (no decay: {sweep.valid_loss.iloc[0]:.4f}).

Adam with L2 (`torch.optim.Adam(weight_decay=...)`) against AdamW, each at the best of its own small sweep, lr 5e-3:
Adam + L2 **{b_l2.valid_loss:.4f}** (wd {b_l2.wd:g}), AdamW **{b_w.valid_loss:.4f}** (wd {b_w.wd:g}).

`wd_explorer()` slider change (30 moves across the range; closed-form fit, loss curves, PNG re-render):
**median {median_ms:.1f} ms**, worst {worst_ms:.1f} ms (target: well under 100 ms).""",
                  headline=f"MovieLens wd sweep: best wd {best.wd:g}, valid MSE {best.valid_loss:.4f} (no decay "
                           f"{sweep.valid_loss.iloc[0]:.4f}); Adam+L2 {b_l2.valid_loss:.4f} vs AdamW {b_w.valid_loss:.4f}; "
                           f"explorer {median_ms:.0f} ms", lesson='weight_decay')

def _with_opt(learn, opt_func):
    "Swap a learner's optimizer factory (before its first fit)."
    learn.opt_func = opt_func
    return learn

if __name__ == '__main__':
    main()
