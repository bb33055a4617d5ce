"""The code hash that ties a notebook's committed outputs to the code that made them."""
import hashlib, json, subprocess, sys
from pathlib import Path

import nbformat

KEY = 'lessonlib'  # notebook metadata key kept by nbdev_clean (settings.ini: allowed_metadata_keys)

def source(cell) -> str:
    "A cell's (or an output's) text, whether stored as one string or as a list of lines."
    src = cell['source']
    return src if isinstance(src, str) else ''.join(src)

def course_notebooks(root:Path, names=()) -> list:
    "The notebooks named (with or without .ipynb), or every course notebook in root/nbs."
    if not names: return sorted((root / 'nbs').glob('[0-9][0-9]_*.ipynb'))
    paths = [root / 'nbs' / (n if n.endswith('.ipynb') else f'{n}.ipynb') for n in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing: raise SystemExit(f"No such notebook: {', '.join(missing)}")
    return paths

def code_hash(nb) -> str:
    "SHA-256 of the notebook's code cells, in order (what Run All executes)."
    cells = [source(c) for c in nb['cells'] if c['cell_type'] == 'code']
    return hashlib.sha256(json.dumps(cells).encode('utf-8')).hexdigest()

def stamped_hash(nb):
    "The code hash recorded when the outputs were made, or None."
    return nb.get('metadata', {}).get(KEY, {}).get('code_hash')

def clean_and_stamp(nb):
    "Record the code hash in the notebook's metadata (nbdev_clean runs on the file once it is written)."
    nb['metadata'][KEY] = {'code_hash': code_hash(nb)}

def write_notebook(nb, path:Path):
    "Write `nb`, then let nbdev_clean normalise it exactly as the repository's check does."
    nbformat.write(nb, str(path))
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean'), '--fname', str(path)], check=True)
    written = json.loads(Path(path).read_text(encoding='utf-8'))
    if stamped_hash(written) != code_hash(written):
        raise SystemExit(f"{path}: nbdev_clean changed the code or dropped the '{KEY}' metadata key; "
                         f"settings.ini must list it in allowed_metadata_keys.")
