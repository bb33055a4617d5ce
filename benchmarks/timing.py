"""Time every notebook under nbdev_test (as CI runs them) and record the per-notebook seconds in RESULTS.md."""
import re, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from results import write_section

ROOT = Path(__file__).resolve().parents[1]

def main():
    start = time.perf_counter()
    out = subprocess.run([str(Path(sys.executable).parent / 'nbdev_test'), '--n_workers', '1', '--timing'], cwd=ROOT,
                         capture_output=True, text=True)
    total = time.perf_counter() - start
    if out.returncode != 0: raise SystemExit(f"nbdev_test failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    times = sorted(re.findall(r'^(\S+\.ipynb): (\d+) secs', out.stdout + out.stderr, re.M))
    rows = '\n'.join(f'| {name} | {secs} |' for name, secs in times)
    print(f"nbdev_test: {total:.0f} s in all;", ', '.join(f'{n} {s}s' for n, s in times))
    write_section('timing', f"""## Notebook run times under `nbdev_test` (issue 8)

`nbdev_test --n_workers 1 --timing` over the whole course, as `make test` runs it (`benchmarks/timing.py`):

| notebook | seconds |
|---|---|
{rows}

**Whole course: {total:.0f} s** (target: under 3 minutes; each notebook well under a minute).""",
                  headline=None)

if __name__ == '__main__':
    main()
