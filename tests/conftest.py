"""Shared pytest setup: a headless matplotlib backend and a fixed seed for every test."""
import matplotlib
matplotlib.use('Agg')
import pytest
from lessonlib.data import set_seed

@pytest.fixture(autouse=True)
def seeded():
    "Every test starts from the same random state."
    set_seed(42)

def pytest_configure(config):
    config.addinivalue_line('markers', 'browser: drives JupyterLab in headless Chromium (needs /usr/bin/chromium)')
