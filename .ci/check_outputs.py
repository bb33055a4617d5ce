"""Cheap checks of the committed notebooks (no execution), run by `make test`:

* every notebook carries outputs, none of them an error, made from its current code (the code hash that
  `make outputs` stamped still matches), and all notebooks together stay under the size budget;
* every measured number the prose quotes is one the notebook's outputs print: each decimal number, or number
  with a unit, in a markdown cell must match a number in the outputs (a rounding of it is fine: prose 0.94 matches
  a printed 0.9437). Numbers in `$...$` math are formulas and are skipped; numbers in `code spans` may also come
  from the code cells (settings such as `lr=0.1`); .ci/prose_numbers.json lists the few constants allowed anyway.

    python .ci/check_outputs.py                # every notebook
    python .ci/check_outputs.py 04_optimizers  # some
"""
import json, math, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / '.ci'))
from nbhash import code_hash, course_notebooks, source, stamped_hash

SIZE_BUDGET = 15 * 2**20
ALLOW = ROOT / '.ci' / 'prose_numbers.json'
UNITS = (r'ms|µs|us|ns|s|sec|secs|seconds?|min|mins|minutes?|h|hours?|%|points?|pts|KB|MB|GB|KiB|MiB|GiB|'
         r'tokens/s|it/s|steps/s|epochs?/s|(?<=\d)x|(?<=\d)×')  # a ratio's x sticks to its number: 62x, not 28 × 28
# a number not glued to a word or another number: 0.944, 1,682, 1.7e-06, 3e-3, .5 is not matched (write 0.5)
NUMBER = r'(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?'
PROSE = re.compile(rf'(-?)({NUMBER})(?:\s?({UNITS}))?(?![\w/])' )
PRINTED = re.compile(rf'-?(?:{NUMBER}|\.\d+)')

def output_text(nb) -> str:
    "Every text the outputs show: streams, plain text, HTML and Markdown reprs, error messages."
    parts = []
    for cell in nb['cells']:
        for out in cell.get('outputs', []):
            if 'text' in out: parts.append(source({'source': out['text']}))
            for mime, data in out.get('data', {}).items():
                if mime.startswith('text/'): parts.append(source({'source': data}))
    return '\n'.join(parts)

def parse(text:str) -> float: return float(text.replace(',', ''))

def decimals(text:str) -> int:
    "Digits after the point of a prose number (its precision)."
    mantissa = text.lower().split('e')[0]
    return len(mantissa.split('.')[1]) if '.' in mantissa else 0

def printed_numbers(text:str) -> list:
    return [parse(m) for m in PRINTED.findall(text)]

def matches(prose:str, unit:str, printed:list) -> bool:
    "Whether the prose number is a printed number, or a rounding of one (also as a percentage of a fraction)."
    value, places = parse(prose), decimals(prose)
    sci = 'e' in prose.lower()
    candidates = [value] + ([value / 100] if unit == '%' else [])
    for target in candidates:
        for p in printed:
            if sci or abs(target) < 1e-3:
                if math.isclose(p, target, rel_tol=0.5 * 10 ** -max(places, 1)): return True
            elif round(p, places) == round(target, places) or round(abs(p), places) == round(abs(target), places):
                return True
            if unit == '%' and target is not value and round(p * 100, places) == round(value, places): return True
    return False

def strip_markup(md:str) -> tuple:
    "Prose without math, links' targets, HTML tags and images; plus the text of its code spans."
    md = re.sub(r'\$\$.*?\$\$|\$[^$\n]+\$', ' ', md, flags=re.S)        # formulas
    md = re.sub(r'!\[[^\]]*\]\([^)]*\)', ' ', md)                        # images
    md = re.sub(r'\]\([^)]*\)', '] ', md)                                # link targets
    md = re.sub(r'<[^>]+>', ' ', md)                                     # html tags
    md = re.sub(r'https?://\S+', ' ', md)
    codes = re.findall(r'`([^`]+)`', md)
    return re.sub(r'`[^`]+`', ' ', md), ' '.join(codes)

def claims(text:str) -> list:
    "Measured-looking numbers: decimals, scientific notation, or numbers followed by a unit."
    found = []
    for sign, num, unit in PROSE.findall(text):
        if re.fullmatch(r'(19|20)\d\d', num): continue  # a year (or a decade: the 1990s)
        if '.' in num or 'e' in num.lower() or unit: found.append((sign + num, unit or ''))
    return found

def unmatched_numbers(nb, allowed:set) -> list:
    "Prose numbers of `nb` that none of its outputs print (and that are not allowlisted)."
    printed = printed_numbers(output_text(nb))
    in_code = printed_numbers('\n'.join(source(c) for c in nb['cells'] if c['cell_type'] == 'code'))
    missing = []
    for i, cell in enumerate(nb['cells']):
        if cell['cell_type'] != 'markdown': continue
        prose, code = strip_markup(source(cell))
        for text, pool in ((prose, printed), (code, printed + in_code)):
            for num, unit in claims(text):
                shown = f'{num} {unit}'.strip()
                if num in allowed or shown in allowed or matches(num, unit, pool): continue
                missing.append((i, shown, context(source(cell), num)))
    return missing

def context(md:str, num:str) -> str:
    at = md.find(num)
    return ' '.join(md[max(0, at - 50): at + len(num) + 30].split())

def problems(path:Path, allow:dict) -> list:
    "Everything wrong with one committed notebook."
    nb = json.loads(path.read_text(encoding='utf-8'))
    found = []
    outputs = [o for c in nb['cells'] for o in c.get('outputs', [])]
    if not outputs: found.append("has no outputs: run `make outputs NB=%s` and commit the result" % path.stem)
    for i, cell in enumerate(nb['cells']):
        for out in cell.get('outputs', []):
            if out.get('output_type') == 'error':
                found.append(f"cell {i} holds an error output ({out.get('ename')}: {out.get('evalue', '')[:80]})")
    if outputs and stamped_hash(nb) != code_hash(nb):
        found.append("outputs are stale: a code cell changed since `make outputs` made them; rerun "
                     f"`make outputs NB={path.stem}` and commit")
    allowed = set(allow.get('*', [])) | set(allow.get(path.stem, {}))
    for i, shown, ctx in unmatched_numbers(nb, allowed):
        found.append(f"cell {i}: the prose says {shown!r}, which no output prints: \u2026{ctx}\u2026")
    return found

def main(names):
    allow = json.loads(ALLOW.read_text()) if ALLOW.exists() else {}
    allow = {k: v for k, v in allow.items() if not k.startswith('_')}
    paths = course_notebooks(ROOT, names)
    failures = {p.name: problems(p, allow) for p in paths}
    failures = {k: v for k, v in failures.items() if v}
    total = sum(p.stat().st_size for p in (ROOT / 'nbs').glob('*.ipynb'))
    for name, found in failures.items():
        print(f"{name}:", *found, sep='\n  ')
    if total > SIZE_BUDGET: print(f"The notebooks take {total / 2**20:.1f} MB together; the budget is 15 MB.")
    if failures or total > SIZE_BUDGET: sys.exit(1)
    print(f"check-outputs: {len(paths)} notebooks carry fresh, error-free outputs, and every number their prose "
          f"quotes is printed ({total / 2**20:.1f} MB in all).")

if __name__ == '__main__':
    main(sys.argv[1:])
