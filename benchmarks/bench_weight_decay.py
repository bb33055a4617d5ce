"""Weight-decay lesson: the wd sweep on the collaborative-filtering model and Adam + L2 against AdamW, each over three
seeds with fresh loaders per run (the tables the notebook prints), and the explorer's update time.

    python benchmarks/bench_weight_decay.py

Writes benchmarks/weight_decay_sweep.csv, benchmarks/weight_decay_adam_l2_vs_adamw.csv and its RESULTS.md section.
"""
import os, statistics, sys, time
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import pandas as pd
import torch
from results import write_section
from lessonlib.data import SEEDS, verdict
from lessonlib.embeddings import DotProductBias, collab_learner
from lessonlib.optimizers import fit_one_cycle
from lessonlib.weight_decay import wd_explorer, wd_sweep

HERE = Path(__file__).parent
SWEEP_CSV, ADAM_CSV = HERE / 'weight_decay_sweep.csv', HERE / 'weight_decay_adam_l2_vs_adamw.csv'
SWEEP_WDS = [0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 3.0]
L2_WDS, ADAMW_WDS = [0, 1e-5, 3e-5, 1e-4, 3e-4], [0, 0.05, 0.1, 0.2, 0.5]

def explorer_ms(n=30):
    "Median and worst ms of a weight-decay slider change (closed-form fit, loss curves, PNG re-render)."
    ex, times = wd_explorer(), []
    for i in range(n):
        start = time.perf_counter(); ex.wd_slider.value = 10 ** (-6 + 6 * i / (n - 1)); times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, max(times) * 1e3

def ml_learner(wd, l2=False):
    "The notebook's `ml_learner`: DotProductBias in collab_learner on fresh loaders; AdamW with decoupled `wd`, or Adam with L2 `wd`."
    learn = collab_learner(DotProductBias(943, 1682, 50), wd=0. if l2 else wd)  # no dls: fresh loaders, batch order from the seed
    if l2: learn.opt_func = partial(torch.optim.Adam, weight_decay=wd, betas=(0.9, 0.99), eps=1e-5)
    return learn

def one_cycle(lr): return lambda learn, n: fit_one_cycle(learn, n, lr)

def main():
    torch.set_num_threads(1)
    start = time.perf_counter()
    sweep = wd_sweep(ml_learner, SWEEP_WDS, n_epoch=5, fit=one_cycle(1e-2), seeds=SEEDS)
    sweep_s = time.perf_counter() - start
    sweep.to_csv(SWEEP_CSV, float_format='%.6g')
    l2 = wd_sweep(partial(ml_learner, l2=True), L2_WDS, n_epoch=5, fit=one_cycle(5e-3), seeds=SEEDS)
    adamw = wd_sweep(ml_learner, ADAMW_WDS, n_epoch=5, fit=one_cycle(5e-3), seeds=SEEDS)
    both = pd.concat([l2.assign(optimizer='Adam + L2'), adamw.assign(optimizer='AdamW')], ignore_index=True)
    both = both[['optimizer'] + [c for c in both.columns if c != 'optimizer']]
    both.to_csv(ADAM_CSV, index=False, float_format='%.6g')
    best = sweep.loc[sweep['mean'].idxmin()]
    b_l2, b_w = l2.loc[l2['mean'].idxmin()], adamw.loc[adamw['mean'].idxmin()]
    table = pd.DataFrame([adamw.loc[adamw.wd == 0].iloc[0], b_l2, b_w], index=['no decay', 'Adam + L2', 'AdamW'])
    adam_verdicts = ' '.join(verdict(table, a, b, higher_is_better=False)
                             for a, b in (('Adam + L2', 'AdamW'), ('Adam + L2', 'no decay'), ('AdamW', 'no decay')))
    median_ms, worst_ms = explorer_ms()
    load = os.getloadavg()[0]
    rows = '\n'.join(f"| {r.wd:g} | {r.train_loss:.4f} | {r.mean:.4f} ± {r.std:.4f} |" for r in sweep.itertuples())
    pair = lambda r: f"**{r['mean']:.4f}** ± {r['std']:.4f} (wd {r.wd:g})"
    print(f"best wd {best.wd:g}: valid MSE {best['mean']:.4f} ± {best['std']:.4f}; Adam+L2 {b_l2['mean']:.4f} (wd {b_l2.wd:g}), "
          f"AdamW {b_w['mean']:.4f} (wd {b_w.wd:g}); explorer {median_ms:.1f} ms")
    write_section('weight_decay', f"""## Weight-decay lesson (issues 4, 12, 13)

`benchmarks/bench_weight_decay.py`: `DotProductBias` (50 factors) on the seeded 80/20 MovieLens split, in lesson 02's
`collab_learner` (AdamW, decoupled decay), 5 epochs of one-cycle at lr 1e-2, one torch thread; every value over seeds
{', '.join(map(str, SEEDS))}, each run with fresh loaders whose batch order is drawn from the seed (so a seed fixes the run); {len(sweep) * len(SEEDS)} runs in {sweep_s:.0f} s. Valid MSE is mean ± std over the seeds.

| wd | train MSE | valid MSE |
|---|---|---|
{rows}

**Best: wd = {best.wd:g}, valid MSE {best['mean']:.4f} ± {best['std']:.4f}** (no decay: {sweep['mean'].iloc[0]:.4f}).

Adam with L2 (`torch.optim.Adam(weight_decay=...)`) against AdamW, each at the best of its own sweep (five values, three
seeds), lr 5e-3: Adam + L2 {pair(b_l2)}, AdamW {pair(b_w)}, no decay {pair(table.loc['no decay'])}. {adam_verdicts} Data: `benchmarks/weight_decay_sweep.csv`,
`benchmarks/weight_decay_adam_l2_vs_adamw.csv` (the notebook prints both).

`wd_explorer()` slider change (30 moves across the range; closed-form fit, loss curves, PNG re-render):
**median {median_ms:.1f} ms**, worst {worst_ms:.1f} ms (target: well under 100 ms; load average {load:.1f} when measured).""",
                  headline=f"MovieLens wd sweep (3 seeds): best wd {best.wd:g}, valid MSE {best['mean']:.4f} ± {best['std']:.4f} "
                           f"(no decay {sweep['mean'].iloc[0]:.4f}); Adam+L2 {b_l2['mean']:.4f} vs AdamW {b_w['mean']:.4f}; "
                           f"explorer {median_ms:.0f} ms", lesson='weight_decay')

if __name__ == '__main__':
    main()
