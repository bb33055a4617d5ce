"""Shared pytest setup: a headless matplotlib backend, a fixed seed for every test, and the markers in use."""
import matplotlib
matplotlib.use('Agg')
import pytest
import torch
from lessonlib.data import set_seed

# The tests train small models; on a 2-core machine one thread avoids the threads fighting each other (and any other
# process) for the cores, which made small trainings many times slower.
torch.set_num_threads(1)

# The kinds of bad input that tests/test_bad_input_*.py cover (issue 16); `pytest -m silent` runs one kind.
BAD_INPUT_KINDS = {
    'wrong_kind': 'an argument of the wrong kind (a function for a list, an optimizer instance for a factory, ...)',
    'wrong_order': 'a call made before what it needs (a history before any fit, ...)',
    'blame': 'a failure whose message must name its real cause (NaN in the data, not the learning rate, ...)',
    'silent': 'a mistake that used to give a silently wrong result (broadcasting, NaN, quiet clamping, ...)',
    'keyword': 'a misspelled keyword argument, answered with "did you mean"',
    'bad_value': 'an out-of-range, ill-shaped, empty or non-finite value or data set',
    'widget': 'an extreme value given to an explorer',
}

@pytest.fixture
def one_thread():
    "One torch thread for the test (small models train fastest on one), the previous count put back afterwards."
    threads = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

@pytest.fixture(autouse=True)
def seeded():
    "Every test starts from the same random state."
    set_seed(42)

def pytest_configure(config):
    config.addinivalue_line('markers', 'browser: drives JupyterLab in headless Chromium (needs /usr/bin/chromium)')
    for kind, what in BAD_INPUT_KINDS.items():
        config.addinivalue_line('markers', f'{kind}: bad input, {what}')
