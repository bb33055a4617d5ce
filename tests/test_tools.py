"""The shared tools of lessonlib.data's appendix: runs over seeds, the validators' messages, questions and checks."""
import pandas as pd
import pytest
import torch

from lessonlib.data import (over_seeds, compare_seeds, verdict, with_spread, did_you_mean, check_number, Question, Quiz,
                            Hint, CheckResult, exercise, expect_close)

def test_over_seeds_fixes_each_run():
    run = lambda seed: {'draw': torch.rand(()).item(), 'seed': seed}
    a, b = over_seeds(run), over_seeds(run)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.index) == [0, 1, 2] and a.draw.nunique() == 3

def test_compare_and_verdict():
    table = compare_seeds({'a': lambda s: 1.0 + 0.01 * s, 'b': lambda s: 2.0 + 0.01 * s, 'c': lambda s: 1.0 + 0.02 * (1 - s)})
    assert table.loc['a', 'mean'] == pytest.approx(1.01) and table.loc['a', 'std'] == pytest.approx(0.01)
    assert verdict(table, 'a', 'b').startswith('b beats a')
    assert verdict(table, 'a', 'b', higher_is_better=False).startswith('a beats b')
    assert 'tie' in verdict(table, 'a', 'c')

def test_with_spread_on_a_table_of_seeds():
    t = with_spread(pd.DataFrame({'seed 0': [1., 2.], 'seed 1': [3., 2.]}, index=['x', 'y']))
    assert t.loc['x', 'mean'] == 2 and t.loc['y', 'std'] == 0

def test_messages_name_argument_value_and_expectation():
    with pytest.raises(ValueError) as e: check_number('wd', -1, low=0, fix='Use 0 for no decay.')
    assert str(e.value) == 'wd: got -1, expected a number >= 0. Use 0 for no decay.'
    assert did_you_mean('mometum', ['momentum', 'lr']) == " Did you mean 'momentum'?"
    assert did_you_mean('zzz', ['momentum']) == ''

def test_question_feedback():
    q = Question('2 + 2?', 4, tol=0.01, explain='Four.')
    assert q.feedback('4.0') == (True, 'Right. Four.') and q.feedback('5')[1].endswith('too high.')
    mc = Question('Pick b', 'b', options=['a', 'b'], why={'a': 'Not a.'})
    assert mc.feedback('a') == (False, 'Not quite. Not a.') and mc.feedback(None)[0] is False
    assert Question('Why?', 'Because.').feedback(None) == (True, 'One good answer: Because.')

def test_quiz_bundle_has_a_static_copy_and_a_live_view():
    bundle = Quiz([Question('Pick `b`', 'b', options=['a', 'b'])])._repr_mimebundle_()
    assert '<details><summary>Answer</summary>' in bundle['text/markdown'] and '(b) b' in bundle['text/markdown']
    assert 'application/vnd.jupyter.widget-view+json' in bundle

def test_exercise_reports_instead_of_raising():
    @exercise
    def check_double(fn):
        x = torch.arange(3.)
        expect_close(fn(x), 2 * x, 'Not doubled.', mistakes={'You added 2 instead of doubling.': x + 2})
        return 'Doubles.'
    def stub(x): raise NotImplementedError
    assert check_double(stub).status == 'not attempted'
    assert check_double(lambda x: x + 2).message == 'You added 2 instead of doubling.'
    assert check_double(lambda x: x * 3).message == 'Not doubled.'
    assert check_double(lambda x: x[:2] * 2).message.startswith('your result has shape (2,)')
    assert 'raised ZeroDivisionError' in check_double(lambda x: 1 / 0).message
    res = check_double(lambda x: x * 2)
    assert res.passed and isinstance(res, CheckResult) and 'Doubles.' in repr(res)

def test_verdict_notes_when_every_seed_favours_one_side_of_a_tie():
    table = compare_seeds({'a': lambda s: 0.90 + 0.01 * s, 'b': lambda s: 0.899 + 0.01 * s, 'c': lambda s: 0.9 + 0.02 * (s % 2)})
    assert 'tie' in verdict(table, 'a', 'b') and 'Every seed favours a' in verdict(table, 'a', 'b')
    assert 'Every seed favours b' in verdict(table, 'a', 'b', higher_is_better=False)
    assert 'Every seed' not in verdict(table, 'a', 'c')

def test_open_answers_end_with_one_full_stop():
    text = Question('Why?', 'Because it is.').markdown(1)
    assert 'Because it is.' in text and '..' not in text
