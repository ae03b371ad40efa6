"""Reference values for the Bernoulli and mixture density heads (heads.json), from PyTorch.

Run with a Python that has torch:  python make_head_references.py > heads.json
Inputs are drawn in float32 (what the Swift side holds), the references computed in float64.
The mixture density loss is written with torch.distributions (MixtureSameFamily of
MultivariateNormal with the full covariance matrix), independently of the closed form the
library uses; every gradient comes from autograd.
"""
import json
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

torch.manual_seed(17)


def f32(shape, scale=1.0):
    return (torch.randn(shape, dtype=torch.float32) * scale).double()


def bernoulli_case(name, shape, masked):
    logits = f32(shape, 2.0).requires_grad_(True)
    targets = (torch.rand(shape) < 0.3).double()
    mask = (torch.rand(shape[:-1]) < 0.7).double() if masked else torch.ones(shape[:-1], dtype=torch.float64)
    if masked:
        mask.view(-1)[0] = 1.0
    per_step = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
    loss = (per_step * mask).sum() / mask.sum()
    loss.backward()
    case = {"name": name, "head": "bernoulli", "shape": list(shape), "output": logits.detach().flatten().tolist(),
            "targets": targets.flatten().tolist(), "value": loss.item(), "gradient": logits.grad.flatten().tolist()}
    if masked:
        case["mask"] = mask.flatten().tolist()
    return case


def mixture_case(name, lead, components, pen_states, masked, spread=1.0):
    m = components
    width = 6 * m + (3 if pen_states == "stroke5" else 1)
    raw = f32(list(lead) + [width], spread)
    raw[..., 5 * m:6 * m] *= 1.5  # correlations up to tanh(±4.5)
    raw = raw.requires_grad_(True)
    steps = raw.numel() // width
    offsets = f32(list(lead) + [2], 1.5)
    if pen_states == "stroke5":
        pen = F.one_hot(torch.randint(0, 3, lead), 3).double()
        targets = torch.cat([offsets, pen], -1)
    else:
        pen = (torch.rand(lead) < 0.3).double().unsqueeze(-1)
        targets = torch.cat([offsets, pen], -1)
    mask = (torch.rand(lead) < 0.75).double() if masked else torch.ones(lead, dtype=torch.float64)
    if masked:
        mask.view(-1)[0] = 1.0

    pi_logits = raw[..., 0:m]
    mean = torch.stack([raw[..., m:2 * m], raw[..., 2 * m:3 * m]], -1)
    sx, sy = raw[..., 3 * m:4 * m].exp(), raw[..., 4 * m:5 * m].exp()
    rho = raw[..., 5 * m:6 * m].tanh()
    covariance = torch.stack([torch.stack([sx * sx, rho * sx * sy], -1), torch.stack([rho * sx * sy, sy * sy], -1)], -2)
    mixture = MixtureSameFamily(Categorical(logits=pi_logits), MultivariateNormal(mean, covariance_matrix=covariance))
    offset_nll = -mixture.log_prob(offsets)
    pen_logits = raw[..., 6 * m:]
    if pen_states == "stroke5":
        pen_nll = -(pen * F.log_softmax(pen_logits, -1)).sum(-1)
        offset_counts = 1.0 - pen[..., 2]
    else:
        pen_nll = F.binary_cross_entropy_with_logits(pen_logits, pen, reduction="none").squeeze(-1)
        offset_counts = torch.ones(lead, dtype=torch.float64)
    per_step = offset_counts * offset_nll + pen_nll
    loss = (per_step * mask).sum() / mask.sum()
    loss.backward()
    case = {"name": name, "head": "mixture", "components": m, "pen_states": pen_states, "shape": list(lead) + [width],
            "output": raw.detach().flatten().tolist(), "targets": targets.flatten().tolist(),
            "value": loss.item(), "gradient": raw.grad.flatten().tolist()}
    if masked:
        case["mask"] = mask.flatten().tolist()
    return case


cases = [
    bernoulli_case("bernoulli_unmasked", (2, 3, 5), masked=False),
    bernoulli_case("bernoulli_masked", (3, 6, 8), masked=True),
    mixture_case("mixture_stroke5_m1", (2, 3), 1, "stroke5", masked=False),
    mixture_case("mixture_stroke5_m3_masked", (3, 5), 3, "stroke5", masked=True),
    mixture_case("mixture_stroke5_m5_wide", (2, 4), 5, "stroke5", masked=True, spread=1.6),
    mixture_case("mixture_end_of_stroke_m2", (2, 4), 2, "end_of_stroke", masked=False),
    mixture_case("mixture_end_of_stroke_m4_masked", (3, 3), 4, "end_of_stroke", masked=True),
]
print(json.dumps({"torch": torch.__version__, "cases": cases}))
