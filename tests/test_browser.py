"""The widgets as a learner meets them: a real JupyterLab server, driven by Debian's Chromium through Playwright.

Run with `pytest -m browser`. Without /usr/bin/chromium these tests skip with a message saying how to enable them.
"""
import json, os, re, shutil, socket, statistics, subprocess, sys, time
from pathlib import Path

import pytest

CHROMIUM = Path('/usr/bin/chromium')
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / 'tests' / 'screenshots'
# notebook -> the explorer sliders (by their label) that the test moves
EXPLORERS = {'01_sgd.ipynb': ['learning rate'], '03_weight_decay.ipynb': ['weight decay'],
             '04_optimizers.ipynb': ['learning rate', 'momentum'], '05_cross_entropy.ipynb': ['temperature']}
# notebook -> (menu label, option) to pick before the sliders move: later cells may leave the momentum explorer on
# plain SGD, whose momentum slider is greyed out
CHOICES = {'04_optimizers.ipynb': [('optimizer', 'momentum')]}

pytest.importorskip('playwright', reason='the browser tests need playwright (make install brings it)')
pytest.importorskip('jupyterlab', reason='the browser tests need jupyterlab (make install brings it)')

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not found at /usr/bin/chromium: install it with "
                                 "`apt-get install -y chromium` (as .ci/run does) to run the browser tests")]

def free_port() -> int:
    "A free TCP port on the loopback interface."
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def lab_settings(folder:Path):
    "User settings: no news prompt covering the page, and every cell kept in the page (no windowed rendering)."
    for name, value in (('apputils-extension/notification', {'fetchNews': 'false', 'checkForUpdates': False}),
                        ('notebook-extension/tracker', {'windowingMode': 'none'})):
        f = folder / '@jupyterlab' / f'{name}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server on a copy of the course (so runs never write into nbs/), stopped by its own handle."
    home = tmp_path_factory.mktemp('lab')
    for folder in ('nbs', 'benchmarks', 'images'):  # the notebooks read benchmark data and pictures by relative path
        shutil.copytree(ROOT / folder, home / folder, ignore=shutil.ignore_patterns('screenshots', '*.lock'))
    lab_settings(home / 'settings')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / 'config'), JUPYTER_RUNTIME_DIR=str(home / 'runtime'),
               JUPYTER_DATA_DIR=str(home / 'data'), JUPYTERLAB_SETTINGS_DIR=str(home / 'settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(home / 'workspaces'))
    port = free_port()
    cmd = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           '--ServerApp.token=', '--ServerApp.password=', f'--ServerApp.root_dir={home / "nbs"}',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    log = open(home / 'lab.log', 'w')
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try: socket.create_connection(('127.0.0.1', port), 0.5).close(); break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield f'http://127.0.0.1:{port}'
    finally:
        server.terminate()
        try: server.wait(15)
        except subprocess.TimeoutExpired: server.kill(); server.wait()
        log.close()

@pytest.fixture(scope='module')
def browser():
    "Headless Chromium, closed by its own handle."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=['--no-sandbox', '--disable-gpu', '--disable-background-networking'])
        try: yield chromium
        finally: chromium.close()

def run_all_cells(page, url:str, notebook:str):
    "Open `notebook` alone, run every cell from the Run menu, and wait until every cell has run."
    page.goto(f'{url}/lab/tree/{notebook}?reset')  # reset: no tabs restored from the previous test's workspace
    page.wait_for_selector('.jp-Notebook .jp-Cell', state='attached', timeout=60_000)
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=60_000)  # kernel ready
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    page.wait_for_function(ALL_CELLS_DONE, timeout=240_000, polling=500)

# Every code cell has run (its prompt shows a number), or a cell failed and nothing is running any more.
ALL_CELLS_DONE = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
    const running = prompts.some(t => t.includes('*'));
    const failed = document.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]') !== null;
    return prompts.length > 0 && !running && (failed || prompts.every(t => /\\[\\d+\\]/.test(t)));
}"""

def error_outputs(page) -> list:
    "Texts of error and stderr outputs that report a failure."
    texts = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    return [t for t in texts if 'Error' in t or 'Traceback' in t]

def slider(page, label:str):
    "The ipywidgets slider whose description is `label`."
    return page.locator('.widget-slider', has=page.locator('.widget-label', has_text=label)).first

def image_beside(page, control):
    "The image widget of the explorer that holds `control` (a slider or a menu)."
    box = page.locator('.widget-container', has=control).filter(has=page.locator('.widget-image')).last
    return box.locator('.widget-image').first

def explorer_image(page, label:str):
    "The image widget of the explorer that holds the slider `label`."
    return image_beside(page, slider(page, label))

def wait_for_new_image(page, image, old_src:str):
    "Wait until the image widget shows a different picture than `old_src`."
    handle = image.element_handle()
    page.wait_for_function('([img, old]) => img.src && img.src !== old', arg=[handle, old_src], timeout=10_000)

def choose(page, label:str, option:str):
    "Pick `option` in the explorer menu labelled `label` and wait for the explorer's new picture."
    menu = page.locator('.widget-dropdown', has=page.locator('.widget-label', has_text=label)).first.locator('select')
    if menu.input_value() == option: return
    image = image_beside(page, menu)
    old_src = image.get_attribute('src')
    menu.select_option(option)
    wait_for_new_image(page, image, old_src)

def move_with_mouse(page, label:str, dx:int):
    "Drag the slider's handle `dx` pixels towards the middle of its track (later cells may leave it at an end)."
    handle = slider(page, label).locator('.noUi-handle')
    handle.scroll_into_view_if_needed()
    box, track = handle.bounding_box(), slider(page, label).locator('.noUi-target').bounding_box()
    x, y = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
    if x > track['x'] + track['width'] / 2: dx = -dx
    page.mouse.move(x, y); page.mouse.down(); page.mouse.move(x + dx, y, steps=5); page.mouse.up()

def measure_latency(page, label:str, image, presses:int=15) -> list:
    "Milliseconds from each arrow-key press on the slider to the new plot being shown, in the page's clock."
    page.evaluate("""(img) => {
        window.__latency = []; window.__pressed = null;
        document.addEventListener('keydown', () => { window.__pressed = performance.now(); }, true);
        new MutationObserver(() => { if (window.__pressed !== null) {
            window.__latency.push(performance.now() - window.__pressed); window.__pressed = null; } })
          .observe(img, {attributes: true, attributeFilter: ['src']});
    }""", image.element_handle())
    handle = slider(page, label).locator('.noUi-handle')
    handle.focus()
    for i in range(presses):
        page.keyboard.press('ArrowRight' if i % 2 == 0 else 'ArrowLeft')
        page.wait_for_function('() => window.__pressed === null', timeout=10_000)
    return page.evaluate('window.__latency')

@pytest.mark.parametrize('notebook', sorted(n for n in EXPLORERS if (ROOT / 'nbs' / n).exists()))
def test_explorer_sliders_update_the_plot(lab, browser, notebook):
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    try:
        run_all_cells(page, lab, notebook)
        assert error_outputs(page) == []
        stem, measured = notebook.removesuffix('.ipynb'), {}
        for menu, option in CHOICES.get(notebook, []): choose(page, menu, option)
        for label in EXPLORERS[notebook]:
            image = explorer_image(page, label)
            slider(page, label).scroll_into_view_if_needed()
            before_png, before_src = image.screenshot(), image.get_attribute('src')
            page.screenshot(path=SHOTS / f'{stem}-before.png')
            move_with_mouse(page, label, 80)
            wait_for_new_image(page, image, before_src)
            after_mouse_png, after_mouse_src = image.screenshot(), image.get_attribute('src')
            assert after_mouse_png != before_png, f"dragging '{label}' did not change the plot"
            slider(page, label).locator('.noUi-handle').focus()
            for _ in range(10): page.keyboard.press('ArrowLeft')
            wait_for_new_image(page, image, after_mouse_src)
            assert image.screenshot() != after_mouse_png, f"the arrow keys on '{label}' did not change the plot"
            image.screenshot(path=SHOTS / f'{stem}-explorer.png')
            latencies = measure_latency(page, label, image)
            assert len(latencies) >= 10
            measured[label] = latencies
        assert error_outputs(page) == []
        record_latency(stem, measured)
        page.screenshot(path=SHOTS / f'{stem}-after.png')
    finally:
        page.close()

LATENCY = ROOT / 'benchmarks' / 'browser_latency.json'  # git-ignored; `make results` copies it into RESULTS.md

def record_latency(stem:str, measured:dict):
    "Keep the slider-to-plot latencies of `stem` in a git-ignored file, so a test run leaves the tree as it was."
    for label, ms in measured.items():
        print(f"{stem} '{label}': median {statistics.median(ms):.0f} ms over {len(ms)} key presses")
    data = json.loads(LATENCY.read_text()) if LATENCY.exists() else {}
    data[stem] = measured
    LATENCY.write_text(json.dumps(data, indent=1))

def open_without_running(page, url:str, notebook:str):
    "Open `notebook` as a reader first meets it: the committed outputs, no cell run yet."
    page.goto(f'{url}/lab/tree/{notebook}?reset')
    page.wait_for_selector('.jp-Notebook .jp-Cell', state='attached', timeout=60_000)
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=60_000)

def cell(page, text:str):
    "The code cell whose source contains `text`."
    return page.locator('.jp-CodeCell', has=page.locator('.jp-InputArea', has_text=text)).first

WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'

def count_code_cells(path:Path) -> int:
    "How many code cells the notebook file at `path` holds."
    return sum(c['cell_type'] == 'code' for c in json.loads(path.read_text())['cells'])

def widget_cells(path:Path) -> list:
    "(index among the code cells, offers a picture) of each cell of the notebook at `path` that displays a widget."
    code = [c for c in json.loads(path.read_text())['cells'] if c['cell_type'] == 'code']
    widget_outputs = [[o['data'] for o in c.get('outputs', []) if WIDGET_VIEW in o.get('data', {})] for c in code]
    return [(i, any('image/png' in d for d in ds)) for i, ds in enumerate(widget_outputs) if ds]

@pytest.mark.parametrize('notebook', sorted(n for n in EXPLORERS if (ROOT / 'nbs' / n).exists()))
def test_explorers_show_a_picture_before_the_kernel_runs(lab, browser, notebook):
    "The committed notebook shows each explorer's static image (not a blank or `VBox(...)`) before anything runs."
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    try:
        open_without_running(page, lab, notebook)
        shown = widget_cells(ROOT / 'nbs' / notebook)
        assert shown, f"no committed widget output found in {notebook}"
        code_cells = page.locator('.jp-CodeCell')
        assert code_cells.count() == count_code_cells(ROOT / 'nbs' / notebook)
        for i, has_picture in shown:
            out = code_cells.nth(i).locator('.jp-OutputArea')
            out.scroll_into_view_if_needed()
            if has_picture:  # an explorer: its static image
                assert out.locator('img').count() >= 1, f"code cell {i} of {notebook} shows no picture before running"
            else:  # a quiz: its questions as text
                assert len(out.inner_text().strip()) > 100, f"code cell {i} of {notebook} shows no text before running"
            assert 'VBox(' not in out.inner_text() and 'Error displaying widget' not in out.inner_text()
        page.screenshot(path=SHOTS / f"{notebook.removesuffix('.ipynb')}-unrun.png")
    finally:
        page.close()

WRONG_COLLATE = """def my_collate(samples):
    xs, ys = zip(*samples)
    return torch.cat(xs), torch.cat(ys)
"""
RIGHT_COLLATE = """def my_collate(samples):
    xs, ys = zip(*samples)
    return torch.stack(xs), torch.stack(ys)
"""

def replace_source(page, code_cell, text:str):
    "Replace a cell's source by `text`, as typing would, without the editor's auto-indent."
    code_cell.locator('.cm-content').click()
    page.keyboard.press('Control+a')
    page.keyboard.insert_text(text)

def run_cell_and_next(page, code_cell):
    "Run `code_cell` and the cell after it (Shift+Enter twice), as a learner does."
    code_cell.locator('.cm-content').click()
    page.keyboard.press('Shift+Enter'); page.keyboard.press('Shift+Enter')

def test_quiz_and_exercise_feedback(lab, browser):
    "In JupyterLab: answer a question wrongly then rightly, and run a check on a wrong stub, then a right one."
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    try:
        run_all_cells(page, lab, '00_data.ipynb')
        assert error_outputs(page) == []
        question = page.locator('.widget-vbox', has_text='What two things must a PyTorch-style dataset answer').last
        question.scroll_into_view_if_needed()
        feedback = question.locator('.widget-htmlmath').last
        for option, expected in (('the model and the loss', 'Not quite'), ('its length and the sample at an index', 'Right')):
            question.locator('label', has_text=option).click()
            question.locator('button', has_text='Check').click()
            expect_text(page, feedback, expected)
        page.screenshot(path=SHOTS / '00_data-quiz.png')
        stub, check = cell(page, 'def my_collate(samples):'), cell(page, 'check_collate(my_collate)')
        assert 'not attempted' in check.locator('.jp-OutputArea').inner_text()
        for source, expected in ((WRONG_COLLATE, 'torch.stack'), (RIGHT_COLLATE, 'passed')):
            replace_source(page, stub, source)
            run_cell_and_next(page, stub)
            expect_text(page, check.locator('.jp-OutputArea'), expected)
        page.screenshot(path=SHOTS / '00_data-exercise.png')
    finally:
        page.close()

def expect_text(page, locator, text:str, timeout:float=20):
    "Wait until `locator` shows `text`."
    deadline = time.time() + timeout
    while text not in locator.inner_text():
        if time.time() > deadline: raise AssertionError(f"expected {text!r}, the page shows {locator.inner_text()!r}")
        time.sleep(0.2)
