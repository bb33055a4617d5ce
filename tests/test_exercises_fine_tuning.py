"""The fine-tuning lesson's exercise checks: each passes its reference solution, catches known-wrong solutions with the
intended hint, and reports a stub as not attempted."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import Quiz
from lessonlib.fine_tuning import (check_bn_eval, check_freeze, check_recipe, check_splitter, check_two_layer_head,
                                   efficientnet_lite0, fine_tuning_quiz, small_cnn, train_transfer, transfer_model)

torch.set_num_threads(1)

def stub(*args): raise NotImplementedError

def failed_with(result, text):
    assert result.status == 'failed', result
    assert text in result.message, result.message

# --- 1. freeze ----------------------------------------------------------------------------------------------------

def freeze_ref(model):
    for part in list(model.children())[:-1]: part.requires_grad_(False)
    return model

def freeze_attribute(model):
    for part in list(model.children())[:-1]: part.requires_grad = False  # an attribute, not the parameters
    return model

def freeze_everything(model): return model.requires_grad_(False)

def freeze_first_child_only(model):
    model[0].requires_grad_(False)
    return model

def freeze_but_batchnorm(model):
    for part in list(model.children())[:-1]:
        for m in part.modules():
            if not isinstance(m, nn.BatchNorm1d):
                for p in m.parameters(recurse=False): p.requires_grad_(False)
    return model

def freeze_no_return(model): freeze_ref(model)

def test_check_freeze():
    assert check_freeze(freeze_ref).passed
    failed_with(check_freeze(freeze_attribute), 'only adds an attribute')
    failed_with(check_freeze(freeze_everything), 'The head is frozen too')
    failed_with(check_freeze(freeze_first_child_only), 'not only the first')
    failed_with(check_freeze(freeze_but_batchnorm), "BatchNorm's weight and bias still train")
    failed_with(check_freeze(freeze_no_return), 'returns None')
    assert check_freeze(stub).status == 'not attempted'

# --- 2. splitter --------------------------------------------------------------------------------------------------

def split_ref(model, n_early):
    body, head = model[0], model[1]
    return [list(body[:n_early].parameters()), list(body[n_early:].parameters()), list(head.parameters())]

def split_reversed(model, n_early): return split_ref(model, n_early)[::-1]

def split_head_twice(model, n_early):
    early, late, head = split_ref(model, n_early)
    return [early, late + head, head]

def split_off_by_one(model, n_early):
    body, head = model[0], model[1]
    return [list(body[:n_early + 1].parameters()), list(body[n_early + 1:].parameters()), list(head.parameters())]

def split_modules(model, n_early):
    body, head = model[0], model[1]
    return [list(body[:n_early]), list(body[n_early:]), [head]]

def split_missing_head(model, n_early): return split_ref(model, n_early)[:2] + [[]]

def test_check_splitter():
    assert check_splitter(split_ref).passed
    failed_with(check_splitter(split_reversed), 'reverse order')
    failed_with(check_splitter(split_head_twice), 'in two groups')
    failed_with(check_splitter(split_off_by_one), 'first group should hold the first')
    failed_with(check_splitter(split_modules), 'hold modules')
    failed_with(check_splitter(split_missing_head), 'in no group')
    assert check_splitter(stub).status == 'not attempted'

# --- 3. the two-layer head ----------------------------------------------------------------------------------------

def head_ref(n_features, n_out, hidden):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(n_features, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))

def head_no_relu(n_features, n_out, hidden):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(n_features, hidden), nn.Linear(hidden, n_out))

def head_one_layer(n_features, n_out, hidden):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(n_features, n_out))

def head_no_pooling(n_features, n_out, hidden):
    return nn.Sequential(nn.Flatten(), nn.Linear(n_features * 4, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

def head_max_pooling(n_features, n_out, hidden):
    return nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

def test_check_two_layer_head():
    assert check_two_layer_head(head_ref).passed
    failed_with(check_two_layer_head(head_no_relu), 'Put a ReLU between them')
    failed_with(check_two_layer_head(head_one_layer), 'one weight matrix')
    failed_with(check_two_layer_head(head_no_pooling), 'pool over the grid first')
    failed_with(check_two_layer_head(head_max_pooling), 'use average pooling')
    assert check_two_layer_head(stub).status == 'not attempted'

# --- 4. BatchNorm in eval mode ------------------------------------------------------------------------------------

BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

def bn_eval_ref(model):
    for m in model.modules():
        if isinstance(m, BN): m.eval()

def bn_eval_everything(model): model.eval()

def bn_eval_2d_only(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d): m.eval()

def bn_eval_top_level_only(model):
    for m in model.children():
        if isinstance(m, BN): m.eval()

def bn_freeze_instead(model):
    for m in model.modules():
        if isinstance(m, BN): m.requires_grad_(False)

def test_check_bn_eval():
    assert check_bn_eval(bn_eval_ref).passed
    failed_with(check_bn_eval(bn_eval_everything), 'dropout layers are off')
    failed_with(check_bn_eval(bn_eval_2d_only), 'BatchNorm1d')
    failed_with(check_bn_eval(bn_eval_top_level_only), 'inside nested modules')
    failed_with(check_bn_eval(bn_freeze_instead), 'That freezes')
    assert check_bn_eval(stub).status == 'not attempted'

# --- 5. an open recipe at 5 labels per digit ----------------------------------------------------------------------

def recipe_ref(x, y):
    "The lesson's fine_tune recipe, nine epochs."
    from lessonlib.fine_tuning import Recipe
    return train_transfer('fine_tune', (x, y), (x[:10], y[:10]), Recipe()).learn.model

def recipe_untrained(x, y): return transfer_model(10)

def recipe_imagenet_head(x, y): return efficientnet_lite0()

def recipe_short_cnn(x, y):
    "The baseline itself: the small CNN for nine epochs."
    from lessonlib.fine_tuning import Recipe
    return train_transfer('small CNN', (x, y), (x[:10], y[:10]), Recipe()).learn.model

def test_check_recipe():
    assert check_recipe(stub).status == 'not attempted'
    failed_with(check_recipe(recipe_untrained), 'close to chance')
    failed_with(check_recipe(recipe_imagenet_head), 'ImageNet head')
    failed_with(check_recipe(recipe_short_cnn), 'it needs')
    result = check_recipe(recipe_ref)
    assert result.passed, result

# --- the quiz -----------------------------------------------------------------------------------------------------

def test_quiz():
    quiz = fine_tuning_quiz()
    assert isinstance(quiz, Quiz) and 8 <= len(quiz.questions) <= 12
    for q in quiz.questions:
        if q.kind == 'choice':
            assert q.feedback(q.answer)[0] and not q.feedback(next(o for o in q.options if o != q.answer))[0]
        elif q.kind == 'number': assert q.feedback(str(q.answer))[0]
    text = quiz.markdown()
    assert '<details>' in text and 'slice(1e-3)' in text
