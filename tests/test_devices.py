"""The from-scratch pieces on every device present: on the CPU always, and on CUDA too when a GPU is there (issue 17).
Each runs ours and PyTorch's on the same seeded tensors made on that device and compares values and gradients, and
checks that what comes out stays on the device it went in on."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from lessonlib.cross_entropy import cross_entropy, log_softmax, binary_cross_entropy_with_logits
from lessonlib.data import DataLoaders
from lessonlib.embeddings import DotProductBias
from lessonlib.optimizers import SGD, Adam, AdamW
from lessonlib.rnn import LSTM
from lessonlib.sgd import Learner

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])

def leaf(t:torch.Tensor) -> torch.Tensor: return t.detach().clone().requires_grad_()

@pytest.mark.parametrize('device', DEVICES)
def test_losses_match_torch_on_the_device(device):
    g = torch.Generator().manual_seed(0)
    logits, target = (torch.randn(16, 10, generator=g) * 5).to(device), torch.randint(0, 10, (16,), generator=g).to(device)
    a, b = leaf(logits), leaf(logits)
    ours, theirs = cross_entropy(a, target, label_smoothing=0.1), F.cross_entropy(b, target, label_smoothing=0.1)
    assert ours.device.type == device
    assert_close(ours, theirs); ours.backward(); theirs.backward(); assert_close(a.grad, b.grad)
    assert_close(log_softmax(logits), F.log_softmax(logits, -1))
    y = torch.randint(0, 2, (16, 10), generator=g).float().to(device)
    assert_close(binary_cross_entropy_with_logits(logits, y), F.binary_cross_entropy_with_logits(logits, y))

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('ours_cls, torch_cls, kw', [(SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
                                                     (Adam, torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-2)),
                                                     (AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=1e-1))])
def test_optimizers_match_torch_on_the_device(device, ours_cls, torch_cls, kw):
    torch.manual_seed(0)
    ours_model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(device)
    torch_model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(device)
    torch_model.load_state_dict(ours_model.state_dict())
    ours, theirs = ours_cls(ours_model.parameters(), **kw), torch_cls(torch_model.parameters(), **kw)
    x, y = torch.randn(32, 4, device=device), torch.randn(32, 1, device=device)
    for _ in range(20):
        for model, opt in ((ours_model, ours), (torch_model, theirs)):
            F.mse_loss(model(x), y).backward(); opt.step(); opt.zero_grad()
    for p, q in zip(ours_model.parameters(), torch_model.parameters()):
        assert p.device.type == device
        assert_close(p, q)

@pytest.mark.parametrize('device', DEVICES)
def test_lstm_matches_torch_on_the_device(device):
    torch.manual_seed(0)
    theirs = nn.LSTM(5, 6, 2, batch_first=True).to(device); ours = LSTM.from_torch(theirs)
    x = torch.randn(3, 8, 5, device=device)
    xa, xb = leaf(x), leaf(x)
    out_a, (h_a, c_a) = ours(xa); out_b, (h_b, c_b) = theirs(xb)
    assert out_a.device.type == device and h_a.device.type == device  # the zero state is made on the input's device
    assert_close(out_a, out_b); assert_close(c_a, c_b)
    out_a.pow(2).sum().backward(); out_b.pow(2).sum().backward()
    assert_close(xa.grad, xb.grad)

@pytest.mark.parametrize('device', DEVICES)
def test_collaborative_filtering_trains_on_the_device(device):
    g = torch.Generator().manual_seed(0)
    users, items = torch.randint(0, 20, (400,), generator=g), torch.randint(0, 30, (400,), generator=g)
    ratings = (torch.rand(400, generator=g) * 5).round()
    train, valid = slice(0, 320), slice(320, None)
    dls = DataLoaders.from_tensors((users[train], items[train], ratings[train]), (users[valid], items[valid], ratings[valid]),
                                   bs=64, seed=0, device=device)
    learn = Learner(dls, DotProductBias(20, 30, 8), F.mse_loss, opt_func=Adam, lr=1e-2, silent=True)
    learn.fit(2)
    assert next(learn.model.parameters()).device.type == device
    preds, targets = learn.get_preds()
    assert preds.shape == (80,) and torch.isfinite(preds).all() and (preds >= 0).all() and (preds <= 5.5).all()
