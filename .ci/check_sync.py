"""Fail if the notebooks are not clean or lessonlib/ is not what nbdev_export makes of them.

The check runs nbdev_clean and nbdev_export on a scratch copy of the repository, so it never rewrites a file of the
working tree; it lists the files that would change. `--fix` runs them in place instead (what to do before a commit).
"""
import hashlib, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WATCHED = ['nbs/*.ipynb', 'lessonlib/*.py']

def snapshot(root:Path) -> dict:
    "Hash every watched file under `root`, by path relative to it."
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for g in WATCHED for p in sorted(root.glob(g))}

def run_tools(root:Path):
    "nbdev_clean then nbdev_export, in `root`."
    for cmd in ('nbdev_clean', 'nbdev_export'):
        subprocess.run([str(BIN / cmd)], check=True, cwd=root)

def main(fix:bool=False):
    before = snapshot(ROOT)
    if fix: run_tools(ROOT); after = snapshot(ROOT)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / 'repo'
            copy.mkdir()
            for name in ('settings.ini', 'nbs', 'lessonlib'):
                src = ROOT / name
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, copy / name)
            run_tools(copy); after = snapshot(copy)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed:
        print(('nbdev_clean/nbdev_export rewrote these files; review them (git diff) and commit:' if fix else
               'Notebooks are not clean or lessonlib/ is out of sync with them; `python .ci/check_sync.py --fix` '
               '(nbdev_clean and nbdev_export) would change:'), *changed, sep='\n  ')
        sys.exit(1)
    print(f'check-sync: {len(after)} notebooks and modules clean and in sync.')

if __name__ == '__main__':
    main('--fix' in sys.argv[1:])
