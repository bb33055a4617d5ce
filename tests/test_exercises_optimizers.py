"""The optimizers lesson's exercises (issue 15): every check passes its reference solution, catches known-wrong solutions
with the intended hint, and reports a stub left alone as not attempted. The reference solutions live only here."""
import math
import pytest
import torch

from lessonlib.optimizers import (Adam, check_average_grad, check_adamw_step, check_one_cycle_lr, check_digits_recipe,
                                  optimizers_quiz, lr_find)

pytestmark = pytest.mark.usefixtures('one_thread')  # conftest's fixture, for every test here

# ---------- reference solutions

def ref_average_grad(p, state, momentum=0., dampening=0.):
    if momentum == 0: return
    buf = state.get('momentum_buffer')
    if buf is None: return {'momentum_buffer': state['grad'].clone()}
    buf.mul_(momentum).add_(state['grad'], alpha=1 - dampening)

def ref_adamw_step(p, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    (b1, b2), g, new = betas, state['grad'], None
    if 'exp_avg' not in state: new = {'exp_avg': torch.zeros_like(p), 'exp_avg_sq': torch.zeros_like(p)}; state.update(new)
    m, v, t = state['exp_avg'], state['exp_avg_sq'], state['step']
    p.mul_(1 - lr * weight_decay)
    m.mul_(b1).add_(g, alpha=1 - b1); v.mul_(b2).addcmul_(g, g, value=1 - b2)
    p.addcdiv_(m / (1 - b1 ** t), (v / (1 - b2 ** t)).sqrt() + eps, value=-lr)
    return new

def ref_one_cycle_lr(pct, lr_max, pct_start=0.25, div=25., div_final=1e5):
    def half_cos(a, b, t): return a + (1 - math.cos(math.pi * t)) * (b - a) / 2
    if pct < pct_start: return half_cos(lr_max / div, lr_max, pct / pct_start)
    return half_cos(lr_max, lr_max / div_final, (pct - pct_start) / (1 - pct_start))

def ref_digits_recipe(learn):
    learn.opt_func = Adam
    learn.fit_one_cycle(5, 1e-2)

def stub(*args, **kwargs): raise NotImplementedError  # your code here

def test_references_pass():
    for check, ref in ((check_average_grad, ref_average_grad), (check_adamw_step, ref_adamw_step),
                       (check_one_cycle_lr, ref_one_cycle_lr), (check_digits_recipe, ref_digits_recipe)):
        result = check(ref)
        assert result.passed, (check.__name__, result.message)

def test_stubs_are_not_attempted():
    def average_stub(p, state, momentum=0., dampening=0.): raise NotImplementedError
    def adamw_stub(p, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2): raise NotImplementedError
    for check, s in ((check_average_grad, average_stub), (check_adamw_step, adamw_stub), (check_one_cycle_lr, stub),
                     (check_digits_recipe, stub)):
        result = check(s)
        assert result.status == 'not attempted', (check.__name__, result)

def test_digits_recipe_with_lr_find_is_allowed():
    def recipe(learn):
        learn.opt_func = Adam
        s = lr_find(learn, show_plot=False)  # its sweep does not count against the five epochs
        learn.fit_one_cycle(5, 1e-2 if not 1e-4 < s.steepest < 1 else min(max(s.steepest, 3e-3), 1e-2))
    assert check_digits_recipe(recipe).passed

# ---------- known-wrong solutions: (wrong function, a phrase of the hint it must get)

def ewma_form(p, state, momentum=0., dampening=0.):
    if momentum == 0: return
    buf = state.get('momentum_buffer')
    if buf is None: return {'momentum_buffer': state['grad'].clone()}
    buf.mul_(momentum).add_(state['grad'], alpha=1 - momentum)

def forgets_dampening(p, state, momentum=0., dampening=0.):
    if momentum == 0: return
    buf = state.get('momentum_buffer')
    if buf is None: return {'momentum_buffer': state['grad'].clone()}
    buf.mul_(momentum).add_(state['grad'])

def starts_at_zero(p, state, momentum=0., dampening=0.):
    if momentum == 0: return
    buf = state.setdefault('momentum_buffer', torch.zeros_like(p))
    buf.mul_(momentum).add_(state['grad'], alpha=1 - dampening)
    return {'momentum_buffer': buf}

def keeps_the_gradient_itself(p, state, momentum=0., dampening=0.):
    if momentum == 0: return
    buf = state.get('momentum_buffer')
    if buf is None: return {'momentum_buffer': state['grad']}
    buf.mul_(momentum).add_(state['grad'], alpha=1 - dampening)

def never_stores(p, state, momentum=0., dampening=0.):
    buf = state.get('momentum_buffer', state['grad'].clone())
    buf.mul_(momentum).add_(state['grad'], alpha=1 - dampening)

def no_hypers_declared(p, state): pass

MOMENTUM_WRONG = [(ewma_form, 'That is the EWMA form'), (forgets_dampening, 'dampening is ignored'),
                  (starts_at_zero, 'starts as the first gradient itself'), (keeps_the_gradient_itself, 'the gradient tensor itself'),
                  (never_stores, "return {'momentum_buffer'"), (no_hypers_declared, 'Declare the hyper-parameters')]

@pytest.mark.parametrize('fn,hint', MOMENTUM_WRONG, ids=[f.__name__ for f, _ in MOMENTUM_WRONG])
def test_average_grad_mistakes(fn, hint):
    result = check_average_grad(fn)
    assert result.status == 'failed' and hint in result.message, result.message

def adamw_variant(decay='before', correct=True, eps_inside=False, l2=False, decay_uses_lr=True):
    def step(p, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        (b1, b2), g, new = betas, state['grad'], None
        if 'exp_avg' not in state: new = {'exp_avg': torch.zeros_like(p), 'exp_avg_sq': torch.zeros_like(p)}; state.update(new)
        m, v, t = state['exp_avg'], state['exp_avg_sq'], state['step']
        shrink = 1 - (lr if decay_uses_lr else 1) * weight_decay
        if l2: g = g + weight_decay * p
        elif decay == 'before': p.mul_(shrink)
        m.mul_(b1).add_(g, alpha=1 - b1); v.mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat, v_hat = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if correct else (m, v)
        p.sub_(lr * m_hat / ((v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps))
        if decay == 'after' and not l2: p.mul_(shrink)
        return new
    return step

ADAMW_WRONG = [(adamw_variant(l2=True), 'That is Adam with L2'), (adamw_variant(decay='after'), 'before the Adam step'),
               (adamw_variant(correct=False), 'without bias correction the first steps are off'), (adamw_variant(eps_inside=True), 'eps goes outside'),
               (adamw_variant(decay_uses_lr=False), 'the learning rate scales it too')]

@pytest.mark.parametrize('fn,hint', ADAMW_WRONG, ids=['l2', 'decay-after', 'no-bias-correction', 'eps-inside', 'decay-without-lr'])
def test_adamw_step_mistakes(fn, hint):
    result = check_adamw_step(fn)
    assert result.status == 'failed' and hint in result.message, result.message

def linear_one_cycle(pct, lr_max, pct_start=0.25, div=25., div_final=1e5):
    if pct < pct_start: return lr_max / div + pct / pct_start * (lr_max - lr_max / div)
    t = (pct - pct_start) / (1 - pct_start)
    return lr_max + t * (lr_max / div_final - lr_max)

def warm_from_zero(pct, lr_max, pct_start=0.25, div=25., div_final=1e5):
    return ref_one_cycle_lr(pct, lr_max, pct_start, 1e300, div_final) if pct < pct_start else ref_one_cycle_lr(pct, lr_max, pct_start, div, div_final)

def anneal_to_zero(pct, lr_max, pct_start=0.25, div=25., div_final=1e5):
    return ref_one_cycle_lr(pct, lr_max, pct_start, div, 1e300)

def fixed_pct_start(pct, lr_max, pct_start=0.25, div=25., div_final=1e5):
    return ref_one_cycle_lr(pct, lr_max, 0.25, div, div_final)

def returns_momentum_too(pct, lr_max, pct_start=0.25, div=25., div_final=1e5):
    return ref_one_cycle_lr(pct, lr_max, pct_start, div, div_final), 0.9

ONE_CYCLE_WRONG = [(linear_one_cycle, 'half a cosine'), (warm_from_zero, 'starts at lr_max / div'), (anneal_to_zero, 'ends at lr_max / div_final'),
                   (fixed_pct_start, 'Use the pct_start argument'), (returns_momentum_too, 'Return only the learning rate')]

@pytest.mark.parametrize('fn,hint', ONE_CYCLE_WRONG, ids=[f.__name__ for f, _ in ONE_CYCLE_WRONG])
def test_one_cycle_lr_mistakes(fn, hint):
    result = check_one_cycle_lr(fn)
    assert result.status == 'failed' and hint in result.message, result.message

def plain_sgd(learn): learn.fit(5)
def no_training(learn): learn.opt_func = Adam
def too_long(learn): learn.opt_func = Adam; learn.fit_one_cycle(8, 1e-2)
def far_too_high(learn): learn.fit(1, 10.)

DIGITS_WRONG = [(plain_sgd, 'below the target 0.96'), (no_training, 'never trained'), (too_long, 'the budget is 5'),
                (far_too_high, 'far too high')]

@pytest.mark.parametrize('fn,hint', DIGITS_WRONG, ids=[f.__name__ for f, _ in DIGITS_WRONG])
def test_digits_recipe_mistakes(fn, hint):
    result = check_digits_recipe(fn)
    assert result.status == 'failed' and hint in result.message, result.message

# ---------- the quiz

def test_quiz_answers_and_feedback():
    quiz = optimizers_quiz()
    assert 8 <= len(quiz.questions) <= 12
    for q in quiz.questions:
        if q.kind == 'open': continue
        assert q.feedback(q.answer)[0], q.text
        if q.kind == 'choice':
            for wrong in q.options:
                if wrong != q.answer: assert not q.feedback(wrong)[0]
    by_text = {q.text: q for q in quiz.questions}
    slice_q = next(q for t, q in by_text.items() if 'slice(3e-3)' in t)
    assert 'fastai v2' in slice_q.feedback('3e-4')[1] and 'early fastai v1' in slice_q.feedback('3e-4')[1]
    kappa = next(q for t, q in by_text.items() if 'plain gradient descent' in t)
    assert kappa.feedback('0.98')[0] and kappa.feedback(str(99 / 101))[0] and not kappa.feedback('0.9')[0]
    adam_q = next(q for t, q in by_text.items() if "Adam's very first step" in t)
    assert 'left uncorrected' in adam_q.feedback('a tenth of the learning rate')[1]
    md = quiz.markdown()
    assert '0.9801980198019802' not in md and '0.8181818181818182' not in md  # numeric answers shown rounded
    foreach_q = next(q for t, q in by_text.items() if 'foreach=True' in t)
    assert 'up to rounding' in foreach_q.feedback('the numbers')[1]
    assert '<details>' in quiz.markdown()
