"""Import cost of each lessonlib module: seconds to import it in a fresh interpreter, and which heavy stacks it loads.

Training code should not pull in the widget, notebook or plotting stack (issue 17). Each module is imported in
its own new Python process, several times; the table gives the median, the same for `import torch` alone (the
floor every module pays), and which of the heavy modules below ended up in `sys.modules`.

`--src 3d1f8d9=/tmp/old-checkout HEAD=.` compares checkouts side by side (each one's lessonlib goes first on the
path); the runs of the different checkouts alternate, so a change in the machine's load hits them alike.
"""
import argparse, json, os, re, statistics, subprocess, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from results import write_section

MODULES = ['data', 'sgd', 'embeddings', 'weight_decay', 'optimizers', 'cross_entropy', 'fine_tuning', 'rnn']
TRAINING = ['data', 'sgd', 'embeddings', 'weight_decay', 'optimizers', 'cross_entropy', 'rnn']
HEAVY = ['ipywidgets', 'IPython', 'matplotlib.pyplot', 'matplotlib', 'fasthtml', 'fastprogress']

PROBE = """
import json, sys, time
start = time.perf_counter()
import {module}
secs = time.perf_counter() - start
print(json.dumps({{'secs': secs, 'file': getattr(sys.modules[{module!r}], '__file__', ''),
                  'loaded': [m for m in {heavy!r} if m in sys.modules]}}))
"""

def probe(module:str, src:str|None=None) -> dict:
    "Import `module` in a fresh interpreter (with `src` first on the path); its seconds and the heavy modules loaded."
    env = dict(os.environ)
    if src: env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(Path(src).resolve()), env.get('PYTHONPATH')]))
    res = subprocess.run([sys.executable, '-c', PROBE.format(module=module, heavy=HEAVY)],
                         capture_output=True, text=True, env=env, cwd='/')
    if res.returncode: return {'error': (res.stderr.strip().splitlines() or ['no message'])[-1]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if src and module.startswith('lessonlib') and not out['file'].startswith(str(Path(src).resolve())):
        return {'error': f"imported {out['file']}, not the copy in {src}"}
    return out

def measure(module:str, srcs:dict, repeats:int, floor:list) -> dict:
    "Median import seconds of `module` from each source, over `repeats` alternating rounds after one untimed round."
    runs = {name: [] for name in srcs}
    for i in range(repeats + 1):
        for name, src in srcs.items():
            r = probe(module, src)
            if i or 'error' in r: runs[name].append(r)
        if i: floor.append(probe('torch')['secs'])  # `import torch` in the same rounds, so the floor sees the same load
    res = {}
    for name, rs in runs.items():
        err = next((r for r in rs if 'error' in r), None)
        res[name] = err or {'secs': statistics.median(r['secs'] for r in rs), 'loaded': rs[-1]['loaded']}
    return res

def load_average() -> str:
    "The 1-minute load average, to read absolute times against."
    try: return Path('/proc/loadavg').read_text().split()[0]
    except OSError: return 'unknown'

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=5, help='fresh interpreters per module and source (the median is reported)')
    ap.add_argument('--modules', nargs='*', default=MODULES, help='lessonlib modules to time')
    ap.add_argument('--src', nargs='*', default=[], help='NAME=DIR: time the lessonlib of these checkouts instead of the installed one')
    ap.add_argument('--no-write', action='store_true', help='print the table without touching RESULTS.md')
    args = ap.parse_args()
    srcs = dict(s.split('=', 1) for s in args.src) or {'installed': None}
    load_before = load_average()
    floors = []
    one = len(srcs) == 1
    head = (['import seconds', 'over `import torch`', 'heavy modules loaded'] if one else
            [f'{n}: {what}' for n in srcs for what in ('seconds', 'heavy modules')])
    rows = ['| module | ' + ' | '.join(head) + ' |', '|---' * (len(head) + 1) + '|']
    for m in args.modules:
        res = measure(f'lessonlib.{m}', srcs, args.repeats, floors)
        cells = []
        for name, r in res.items():
            if 'error' in r: cells += [f"import failed: {r['error']}", ''] + ([''] if one else []); continue
            heavy = ', '.join(f'`{h}`' for h in r['loaded']) or 'none'
            cells += [f"{r['secs']:.2f}"] + (['{over:%s}' % f"{r['secs']:.6f}"] if one else []) + [heavy]
        rows.append(f"| `lessonlib.{m}`{'' if m in TRAINING else ' (not a training module)'} | " + ' | '.join(cells) + ' |')
        print(re.sub(r'\{over:[0-9.]+\}', '…', rows[-1]), flush=True)  # the column over torch is filled in at the end
    floor = statistics.median(floors)
    rows = [re.sub(r'\{over:([0-9.]+)\}', lambda g: f'{float(g[1]) - floor:+.2f}', row) for row in rows]
    where = '' if one else ' Columns: the lessonlib of each checkout named (' + ', '.join(srcs) + ').'
    md = (f"## Import cost of each module (issue 17)\n\n"
          f"Each module imported in a fresh interpreter, median of {args.repeats} (`benchmarks/bench_imports.py`); "
          f"`import torch` alone takes {floor:.2f} s (median, timed in the same rounds), the floor every module pays.{where} Heavy modules looked for: "
          + ', '.join(f'`{h}`' for h in HEAVY) + ". Training modules should load none of the widget, notebook or "
          f"plotting stack (`tests/test_package.py` checks it).\n\n" + '\n'.join(rows) +
          f"\n\nLoad average (1 min) at the start and end: {load_before} and {load_average()}; absolute times grow "
          "with the machine's load, so compare rows of one run.")
    print(md)
    if not args.no_write: write_section('imports', md)

if __name__ == '__main__': main()
