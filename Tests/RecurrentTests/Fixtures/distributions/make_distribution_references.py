"""Reference negative log-likelihoods and their gradients for the distribution heads
(Sources/Recurrent/Training/DistributionHeads.swift), computed with torch.distributions in
float64 from raw outputs exactly representable in float32.

Run: $(/work/shared/bench/anchors-env) make_distribution_references.py   (writes distributions.json here)

Each case: raw [N, P], targets [N], scales [N], the per-value NLL [N], and the gradient of
sum(seed * NLL) with respect to raw, for a fixed seed [N].
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.dirname(os.path.abspath(__file__))
MINIMUM_SCALE = 1e-6


def f32(t):
    return t.float().double()


def distribution(kind, raw, scales):
    if kind == "gaussian":
        return torch.distributions.Normal(scales * raw[:, 0], scales * (F.softplus(raw[:, 1]) + MINIMUM_SCALE))
    if kind == "studentT":
        return torch.distributions.StudentT(2 + F.softplus(raw[:, 2]), scales * raw[:, 0],
                                            scales * (F.softplus(raw[:, 1]) + MINIMUM_SCALE))
    mu = scales * (F.softplus(raw[:, 0]) + MINIMUM_SCALE)
    alpha = (F.softplus(raw[:, 1]) + MINIMUM_SCALE) / scales.sqrt()
    return torch.distributions.NegativeBinomial(total_count=1 / alpha, logits=torch.log(alpha * mu))


def case(name, kind, n, generator, counts=False, scaled=False):
    width = 3 if kind == "studentT" else 2
    raw = f32(torch.randn(n, width, generator=generator) * 1.5)
    scales = f32(torch.rand(n, generator=generator) * 20 + 0.5) if scaled else torch.ones(n)
    if counts:
        targets = torch.randint(0, 40, (n,), generator=generator).double()
    else:
        targets = f32(scales * (raw[:, 0] + torch.randn(n, generator=generator) * 2))
    seed = f32(torch.rand(n, generator=generator) + 0.5)
    raw.requires_grad_(True)
    nll = -distribution(kind, raw, scales).log_prob(targets)
    (nll * seed).sum().backward()
    return {"name": name, "kind": kind, "raw": raw.detach().reshape(-1).tolist(), "shape": [n, width],
            "targets": targets.tolist(), "scales": scales.tolist(), "seed": seed.tolist(),
            "nll": nll.detach().tolist(), "gradient": raw.grad.reshape(-1).tolist()}


def main():
    g = torch.Generator().manual_seed(16)
    cases = [
        case("gaussian", "gaussian", 12, g),
        case("gaussian scaled", "gaussian", 12, g, scaled=True),
        case("studentT", "studentT", 12, g),
        case("studentT scaled", "studentT", 12, g, scaled=True),
        case("negativeBinomial", "negativeBinomial", 12, g, counts=True),
        case("negativeBinomial scaled", "negativeBinomial", 12, g, counts=True, scaled=True),
    ]
    with open(os.path.join(OUT, "distributions.json"), "w") as f:
        json.dump({"source": f"torch {torch.__version__}", "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
