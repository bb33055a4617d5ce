"""Seconds per epoch of lessonlib's TensorLoader versus torch's DataLoader, one sample at a time and fed whole batches
of indices by a BatchSampler, over the same MovieLens tensors."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset
from results import median_time, write_section
from lessonlib.data import TensorLoader, movielens_100k, split_indices

def epoch(loader):
    "Iterate once over every batch."
    for batch in loader: pass

def main():
    ratings, _ = movielens_100k()
    x = torch.tensor(ratings[['user', 'item']].values)
    y = torch.tensor(ratings.rating.values, dtype=torch.float32)
    train_idx, _ = split_indices(len(x), 0.2, seed=42)
    x, y = x[train_idx], y[train_idx]
    ds, g = TensorDataset(x, y), lambda: torch.Generator().manual_seed(0)
    one_at_a_time = DataLoader(ds, batch_size=64, sampler=RandomSampler(ds, generator=g()))
    batch_sampler = DataLoader(ds, batch_size=None, sampler=BatchSampler(RandomSampler(ds, generator=g()), 64, drop_last=False))
    ours = TensorLoader(x, y, bs=64, shuffle=True, seed=0, device='cpu')
    t_one = median_time(lambda: epoch(one_at_a_time), repeats=5)
    t_batch = median_time(lambda: epoch(batch_sampler), repeats=11, warmup=2)
    t_ours = median_time(lambda: epoch(ours), repeats=21, warmup=3)
    ratio, ratio_fair = t_one / t_ours, t_batch / t_ours
    print(f"one at a time {t_one*1e3:.1f} ms, BatchSampler {t_batch*1e3:.1f} ms, ours {t_ours*1e3:.2f} ms per epoch: "
          f"{ratio:.0f}x and {ratio_fair:.1f}x faster")
    write_section('data', f"""## DataLoaders speed (issues 2 and 13)

One epoch over the {len(x):,} MovieLens training ratings, batches of 64, shuffled (median of repeated epochs,
measured side by side in one run by `benchmarks/bench_data.py`):

| loader | ms per epoch | ours is faster by |
|---|---|---|
| `DataLoader(TensorDataset(...), batch_size=64, sampler=RandomSampler(...))`: one sample at a time | {t_one*1e3:.1f} | {ratio:.0f}x |
| `DataLoader(TensorDataset(...), batch_size=None, sampler=BatchSampler(RandomSampler(...), 64))`: a batch of indices at once | {t_batch*1e3:.1f} | {ratio_fair:.1f}x |
| `lessonlib.data.TensorLoader` (seeded permutation, then slices) | {t_ours*1e3:.2f} | |

**Ours is {ratio:.0f}x faster per epoch than torch's default one-sample-at-a-time loading** (target: at least 10x),
and {ratio_fair:.1f}x faster than torch's loader fed whole batches of indices, the fair comparison for in-memory tensors.""",
                  headline=f"TensorLoader {ratio:.0f}x faster per epoch than torch's DataLoader on MovieLens (target ≥ 10x), "
                           f"{ratio_fair:.1f}x faster than DataLoader with a BatchSampler", lesson='data')
    return ratio

if __name__ == '__main__':
    main()
