"""Fine-tuning lesson: what a pretrained body is worth, over three seeds.

At 10 and 50 labelled MNIST images per class (64x64): fine_tune, frozen body + new head, the same network from random
init, and a small CNN from scratch (also with 4x the epochs); at 10 per class, the recipe's choices varied one at a
time (one-layer head, lr_mult 10, BatchNorm in train mode, mixed precision) and longer runs. Every run goes to
benchmarks/fine_tuning_runs.csv (which the notebook prints) and the summary to the fine_tuning section of RESULTS.md.

    python benchmarks/bench_fine_tuning.py              # every run (several minutes on 2 cores)
    python benchmarks/bench_fine_tuning.py 'lr_mult 10' # rerun some variants (all budgets), keep the other rows
"""
import csv, os, sys, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import pandas as pd
import torch
from results import write_section

CSV = Path(__file__).with_name('fine_tuning_runs.csv')
SEEDS = (0, 1, 2)
COMPARISON = {'fine_tune': {'method': 'fine_tune'}, 'frozen body + new head': {'method': 'frozen body + new head'},
              'random init': {'method': 'random init'}, 'small CNN': {'method': 'small CNN'},
              'small CNN, 4x the epochs': {'method': 'small CNN', 'epochs': 4 * 9 - 1}}
CHOICES = {'one-layer head': {'method': 'fine_tune', 'hidden': None},
           'lr_mult 10': {'method': 'fine_tune', 'lr_mult': 10.},
           'BatchNorm in train mode': {'method': 'fine_tune', 'bn_eval': False, 'bn_momentum': 0.1},
           'mixed precision': {'method': 'fine_tune', 'mixed_precision': True},
           'fine_tune, 2x the epochs': {'method': 'fine_tune', 'epochs': 2 * 9 - 1},
           'small CNN, 8x the epochs': {'method': 'small CNN', 'epochs': 8 * 9 - 1}}
VARIANTS = {10: {**COMPARISON, **CHOICES}, 50: COMPARISON}
COST = {'random init': 9, 'fine_tune': 8, 'mixed precision': 12, 'frozen body + new head': 3, 'small CNN': 1}

def cost(job):
    "A rough CPU cost, to start the longest jobs first."
    per, name, opts, _ = job
    return per * COST.get(name, COST.get(opts['method'], 8)) * (opts.get('epochs', 8) + 1)

def run(job):
    "Train one variant for one seed on one thread; return its figures (no tensors cross processes)."
    torch.set_num_threads(1)
    from lessonlib.fine_tuning import run_variant
    per, name, opts, seed = job
    r = run_variant(opts, per, seed)
    return dict(per_class=per, variant=name, seed=seed, accuracy=round(r.accuracy, 4), seconds=round(r.seconds, 2),
                cpu_seconds=round(r.cpu_seconds, 2))

def table(rows:pd.DataFrame, per:int, names) -> str:
    "A Markdown table: accuracy per seed, mean, std, mean CPU seconds."
    lines = ['| variant | ' + ' | '.join(f'seed {s}' for s in SEEDS) + ' | mean | std | CPU s per run |',
             '|---|' + '---|' * (len(SEEDS) + 3)]
    for name in names:
        r = rows[(rows.per_class == per) & (rows.variant == name)].sort_values('seed')
        if r.empty: continue
        accs = ' | '.join(f'{a:.3f}' for a in r.accuracy)
        lines.append(f'| {name} | {accs} | **{r.accuracy.mean():.3f}** | {r.accuracy.std():.3f} | {r.cpu_seconds.mean():.0f} |')
    return '\n'.join(lines)

def verdict(rows, per, a, b) -> str:
    "The data lesson's rule: a winner only when the gap of the means exceeds the two stds added."
    from lessonlib.data import verdict as v, with_spread
    t = rows[(rows.per_class == per) & rows.variant.isin([a, b])].pivot(index='variant', columns='seed', values='accuracy')
    t.columns = [f'seed {s}' for s in t.columns]
    return v(with_spread(t), a, b, fmt='.3f')

def main(only=()):
    jobs = [(per, name, opts, seed) for per, vs in VARIANTS.items() for name, opts in vs.items() for seed in SEEDS
            if not only or name in only]
    jobs.sort(key=cost, reverse=True)
    workers = int(os.environ.get('BENCH_WORKERS', '2'))
    start = time.perf_counter()
    out = []
    with ProcessPoolExecutor(workers) as pool:
        for done in as_completed([pool.submit(run, job) for job in jobs]):
            out.append(done.result()); o = out[-1]
            print(f"{len(out)}/{len(jobs)} {o['per_class']}/class {o['variant']}, seed {o['seed']}: {o['accuracy']:.3f} "
                  f"({o['cpu_seconds']:.0f} CPU s, {o['seconds']:.0f} s wall)", flush=True)
    total = time.perf_counter() - start
    new = pd.DataFrame(out, columns=['per_class', 'variant', 'seed', 'accuracy', 'seconds', 'cpu_seconds'])
    if only and CSV.exists():
        old = pd.read_csv(CSV)
        new = pd.concat([old[~old.variant.isin(only)], new], ignore_index=True)
    order = {(p, n): i for i, (p, n) in enumerate((p, n) for p, vs in VARIANTS.items() for n in vs)}
    new = new.assign(_o=[order.get((p, n), 999) for p, n in zip(new.per_class, new.variant)]).sort_values(['_o', 'seed']).drop(columns='_o')
    new.to_csv(CSV, index=False, quoting=csv.QUOTE_MINIMAL)
    rows = new
    scratch = ['random init', 'small CNN', 'small CNN, 4x the epochs']
    best = {per: rows[(rows.per_class == per) & rows.variant.isin(scratch)].groupby('variant').accuracy.mean().idxmax() for per in VARIANTS}
    mean = lambda per, name: rows[(rows.per_class == per) & (rows.variant == name)].accuracy.mean()
    made = f"{len(rows)} runs, {rows.seconds.sum() / 60:.0f} minutes of training wall time in all" + \
           (f"; its latest call made {len(jobs)} of them in {total:.0f} s" if jobs else "")
    lines = [f"- {name}: {verdict(rows, 10, 'fine_tune', name)}" for name in CHOICES if name not in ('small CNN, 8x the epochs', 'fine_tune, 2x the epochs')]
    longer = verdict(rows, 10, 'fine_tune, 2x the epochs', 'small CNN, 8x the epochs')
    write_section('fine_tuning', f"""## Fine-tuning lesson: what the pretrained body is worth (issues 6, 12, 14)

MNIST digits upsampled to 64x64 RGB; a labelled budget of 10 or 50 images per digit (drawn by the seed), a fixed
held-out set of 500 (50 per digit); AdamW (ours, weight decay 0.01), one-cycle, random-affine augmentation;
`RECIPES` in `lessonlib.fine_tuning`: 1 frozen + 8 unfrozen epochs for fine_tune (9 epochs for the other methods),
batches of 16 (10 per class) or 32 (50 per class), two-layer head, lr_mult 100, BatchNorm in eval mode. Seeds
{', '.join(map(str, SEEDS))}; each run on one thread, {workers} at a time (`benchmarks/bench_fine_tuning.py`; {made}); time = CPU seconds of training (about the wall time of an idle core).
Every run is in `benchmarks/fine_tuning_runs.csv`.

**10 labelled images per class**

{table(rows, 10, list(COMPARISON) + ['fine_tune, 2x the epochs', 'small CNN, 8x the epochs'])}

Best from scratch at 10/class: {best[10]}. {verdict(rows, 10, 'fine_tune', best[10])}
Trained longer: {longer}

**50 labelled images per class**

{table(rows, 50, list(COMPARISON))}

Best from scratch at 50/class: {best[50]}. {verdict(rows, 50, 'fine_tune', best[50])}

**The recipe's choices, one at a time (10 per class)**

{table(rows, 10, ['fine_tune'] + [n for n in CHOICES if n not in ('small CNN, 8x the epochs', 'fine_tune, 2x the epochs')])}

{chr(10).join(lines)}""",
                  headline=f"fine_tune (9 epochs) on 10 / 50 labelled MNIST digits per class: {mean(10, 'fine_tune'):.3f} / "
                           f"{mean(50, 'fine_tune'):.3f} held-out accuracy over 3 seeds, against {mean(10, best[10]):.3f} / "
                           f"{mean(50, best[50]):.3f} for the best model from scratch ({best[10]}): "
                           f"{'a tie' if 'tie' in verdict(rows, 10, 'fine_tune', best[10]) else 'a difference'} at 10 per class",
                  lesson='fine_tuning')

if __name__ == '__main__': main(tuple(sys.argv[1:]))
