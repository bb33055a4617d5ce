"""Fail if the notebooks are not clean or lessonlib/ is not what nbdev_export makes of them."""
import hashlib, subprocess, sys
from pathlib import Path

BIN = Path(sys.executable).parent
WATCHED = ['nbs/*.ipynb', 'lessonlib/*.py']

def snapshot():
    "Hash every watched file."
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for g in WATCHED for p in sorted(Path().glob(g))}

def main():
    before = snapshot()
    for cmd in ('nbdev_clean', 'nbdev_export'):
        subprocess.run([str(BIN / cmd)], check=True)
    after = snapshot()
    changed = sorted(str(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed:
        print('Notebooks were not clean or lessonlib/ was out of sync with them. nbdev_clean/nbdev_export '
              'have now rewritten these files; review them (git diff) and commit:', *changed, sep='\n  ')
        sys.exit(1)
    print(f'check-sync: {len(after)} notebooks and modules clean and in sync.')

if __name__ == '__main__':
    main()
