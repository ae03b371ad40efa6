"""Reference values for losses, optimizers, gradient clipping, learning-rate schedules and
metrics, computed with PyTorch in float64 from inputs that are exactly representable in
float32 (so the Swift side starts from the very same numbers).

Run: python make_training_references.py   (writes the JSON files next to this script)

Every tensor is written as {"shape": [...], "values": [...]} (row-major).
"""

import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)


def f32(t):
    """Rounds to float32 and back, so the Swift tests can hold the inputs exactly."""
    return t.float().double()


def randn(*shape, generator, scale=1.0):
    return f32(torch.randn(*shape, generator=generator, dtype=torch.float32).double() * scale)


def tensor_json(t):
    t = t.detach().double()
    return {"shape": list(t.shape), "values": t.reshape(-1).tolist()}


def write(name, payload):
    payload = {"source": f"torch {torch.__version__}", **payload}
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

def reduce_masked(per_element, mask, denominator_weights, reduction):
    """The library's masked reduction: sum(mask * loss) / sum(mask * weight) for the mean.

    Without a mask this is exactly PyTorch's reduction (weights are the class weights of the
    targets for cross-entropy, ones otherwise)."""
    weighted = per_element * mask
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / (mask * denominator_weights).sum()


def loss_case(name, loss, prediction, reduction="mean", target=None, classes=None, mask=None,
              seed_generator=None, **options):
    prediction = prediction.clone().requires_grad_(True)
    if loss in ("mse", "mae", "huber", "bce_with_logits"):
        if loss == "mse":
            per_element = F.mse_loss(prediction, target, reduction="none")
        elif loss == "mae":
            per_element = F.l1_loss(prediction, target, reduction="none")
        elif loss == "huber":
            per_element = F.huber_loss(prediction, target, reduction="none", delta=options["delta"])
        else:
            pos_weight = options.get("pos_weight")
            per_element = F.binary_cross_entropy_with_logits(
                prediction, target, reduction="none",
                pos_weight=None if pos_weight is None else torch.tensor(pos_weight))
        if mask is None:
            # PyTorch's own reduction, no mask involved.
            value = per_element if reduction == "none" else (
                per_element.sum() if reduction == "sum" else per_element.mean())
        else:
            # A mask covers the leading dimensions and applies to every element below them.
            expanded = mask.reshape(list(mask.shape) + [1] * (prediction.dim() - mask.dim())).expand_as(prediction)
            value = reduce_masked(per_element, expanded, torch.ones_like(per_element), reduction)
    else:  # cross-entropy, class dimension last
        classes_t = torch.tensor(classes)
        num_classes = prediction.shape[-1]
        flat = prediction.reshape(-1, num_classes)
        weights = options.get("class_weights")
        weights_t = None if weights is None else torch.tensor(weights)
        ignore_index = options.get("ignore_index")
        smoothing = options.get("label_smoothing", 0.0)
        kwargs = dict(weight=weights_t, label_smoothing=smoothing,
                      ignore_index=-100 if ignore_index is None else ignore_index)
        if mask is None:
            value = F.cross_entropy(flat, classes_t, reduction=reduction, **kwargs)
            if reduction == "none":
                value = value.reshape(prediction.shape[:-1])
        else:
            per_row = F.cross_entropy(flat, classes_t, reduction="none", **kwargs)
            kept = torch.ones(len(classes)) if ignore_index is None else (classes_t != ignore_index).double()
            target_weights = (torch.ones(len(classes)) if weights_t is None
                              else weights_t[classes_t.clamp(min=0)]) * kept
            value = reduce_masked(per_row, mask.reshape(-1), target_weights, reduction)
            if reduction == "none":
                value = value.reshape(prediction.shape[:-1])
    seed = torch.ones(()) if value.dim() == 0 else randn(*value.shape, generator=seed_generator)
    (value * seed).sum().backward()
    return {
        "name": name, "loss": loss, "reduction": reduction,
        "prediction": tensor_json(prediction),
        "target": None if target is None else tensor_json(target),
        "classes": classes,
        "mask": None if mask is None else tensor_json(mask),
        "delta": options.get("delta"),
        "ignore_index": options.get("ignore_index"),
        "class_weights": options.get("class_weights"),
        "label_smoothing": options.get("label_smoothing", 0.0),
        "pos_weight": options.get("pos_weight"),
        "seed": tensor_json(seed),
        "value": tensor_json(value),
        "gradient": tensor_json(prediction.grad),
    }


def make_losses():
    g = torch.Generator().manual_seed(1234)
    p43, t43 = randn(4, 3, generator=g), randn(4, 3, generator=g)
    step_mask = f32(torch.tensor([1.0, 0.0, 1.0, 1.0]))
    fractional_mask = f32(torch.tensor([0.5, 1.0, 0.0, 2.0]))
    huber_p, huber_t = randn(4, 3, generator=g, scale=1.5), randn(4, 3, generator=g)
    logits = randn(6, 5, generator=g, scale=2.0)
    classes = [0, 3, 4, 1, 3, 2]
    with_ignored = [0, -100, 4, 1, -100, 2]
    weights = [0.5, 2.0, 1.0, 0.25, 3.0]
    row_mask = f32(torch.tensor([1.0, 0.0, 1.0, 1.0, 0.5, 1.0]))
    seq_logits = randn(2, 3, 4, generator=g)
    seq_classes = [1, 0, 3, 2, 2, -1]
    huge_logits = f32(torch.tensor([[1000.0, -1000.0, 0.0], [-500.0, 800.0, 790.0]]))
    bce_x, bce_y = randn(3, 4, generator=g, scale=2.0), f32(torch.rand(3, 4, generator=g, dtype=torch.float32).double())
    hard_y = f32((torch.rand(3, 4, generator=g, dtype=torch.float32) > 0.5).double())
    huge_x = f32(torch.tensor([[60.0, -60.0, 0.5], [-90.0, 90.0, -0.25]]))
    huge_y = f32(torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    cases = [
        loss_case("mse_mean", "mse", p43, target=t43),
        loss_case("mse_sum", "mse", p43, target=t43, reduction="sum"),
        loss_case("mse_none", "mse", p43, target=t43, reduction="none", seed_generator=g),
        loss_case("mse_step_mask", "mse", p43, target=t43, mask=step_mask),
        loss_case("mse_fractional_mask", "mse", p43, target=t43, mask=fractional_mask),
        loss_case("mae_mean", "mae", p43, target=t43),
        loss_case("mae_step_mask_sum", "mae", p43, target=t43, mask=step_mask, reduction="sum"),
        loss_case("huber_delta_1", "huber", huber_p, target=huber_t, delta=1.0),
        loss_case("huber_delta_0.5", "huber", huber_p, target=huber_t, delta=0.5),
        loss_case("huber_none", "huber", huber_p, target=huber_t, delta=0.75, reduction="none", seed_generator=g),
        loss_case("cross_entropy", "cross_entropy", logits, classes=classes),
        loss_case("cross_entropy_sum", "cross_entropy", logits, classes=classes, reduction="sum"),
        loss_case("cross_entropy_ignore_index", "cross_entropy", logits, classes=with_ignored, ignore_index=-100),
        loss_case("cross_entropy_class_weights", "cross_entropy", logits, classes=classes, class_weights=weights),
        loss_case("cross_entropy_weights_ignore", "cross_entropy", logits, classes=with_ignored,
                  class_weights=weights, ignore_index=-100),
        loss_case("cross_entropy_label_smoothing", "cross_entropy", logits, classes=classes, label_smoothing=0.1),
        loss_case("cross_entropy_smoothing_weights_ignore", "cross_entropy", logits, classes=with_ignored,
                  class_weights=weights, ignore_index=-100, label_smoothing=0.2),
        loss_case("cross_entropy_none_weights_ignore", "cross_entropy", logits, classes=with_ignored,
                  class_weights=weights, ignore_index=-100, reduction="none", seed_generator=g),
        loss_case("cross_entropy_mask", "cross_entropy", logits, classes=classes, mask=row_mask),
        loss_case("cross_entropy_mask_weights_smoothing", "cross_entropy", logits, classes=classes, mask=row_mask,
                  class_weights=weights, label_smoothing=0.1),
        loss_case("cross_entropy_sequence", "cross_entropy", seq_logits, classes=seq_classes, ignore_index=-1),
        loss_case("cross_entropy_huge_logits", "cross_entropy", huge_logits, classes=[1, 2]),
        loss_case("bce_with_logits", "bce_with_logits", bce_x, target=bce_y),
        loss_case("bce_with_logits_pos_weight", "bce_with_logits", bce_x, target=hard_y, pos_weight=[0.5, 1.0, 2.0, 4.0]),
        loss_case("bce_with_logits_mask_sum", "bce_with_logits", bce_x, target=bce_y,
                  mask=f32(torch.tensor([1.0, 0.0, 1.0])), reduction="sum"),
        loss_case("bce_with_logits_mask_pos_weight", "bce_with_logits", bce_x, target=hard_y,
                  mask=f32(torch.tensor([1.0, 0.0, 1.0])), pos_weight=[3.0, 1.0, 0.5, 2.0]),
        loss_case("bce_with_logits_none", "bce_with_logits", bce_x, target=bce_y, reduction="none", seed_generator=g),
        loss_case("bce_with_logits_huge", "bce_with_logits", huge_x, target=huge_y, pos_weight=[2.0, 1.0, 0.5]),
    ]
    write("losses.json", {"cases": cases})


# ---------------------------------------------------------------------------------------------
# Optimizers and gradient clipping
# ---------------------------------------------------------------------------------------------

STEPS = 5
# Parameter 1 has no gradient at this step: the optimizer must skip it (and not count the step).
MISSING_GRADIENT = (1, 2)


def make_optimizers():
    g = torch.Generator().manual_seed(42)
    initial = [randn(3, 4, generator=g), randn(5, generator=g)]
    gradients = []
    for step in range(STEPS):
        row = []
        for index, p in enumerate(initial):
            grad = randn(*p.shape, generator=g, scale=0.5 + step * 0.3)
            row.append(None if (index, step) == MISSING_GRADIENT else grad)
        gradients.append(row)

    configurations = [
        ("sgd", "sgd", dict(lr=0.1), None),
        ("sgd_momentum", "sgd", dict(lr=0.1, momentum=0.9), None),
        ("sgd_momentum_dampening_decay", "sgd", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01), None),
        ("sgd_nesterov_decay", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05), None),
        ("adam", "adam", dict(lr=0.01), None),
        ("adam_betas_eps", "adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3), None),
        ("adam_decay_amsgrad", "adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True), None),
        ("adam_changing_learning_rate", "adam", dict(lr=0.01), [0.01, 0.02, 0.005, 0.03, 0.001]),
        ("adamw", "adamw", dict(lr=0.01), None),
        ("adamw_decay_amsgrad", "adamw", dict(lr=0.02, weight_decay=0.3, amsgrad=True), None),
        ("rmsprop", "rmsprop", dict(lr=0.01), None),
        ("rmsprop_alpha_decay", "rmsprop", dict(lr=0.005, alpha=0.9, eps=1e-4, weight_decay=0.02), None),
        ("rmsprop_centered", "rmsprop", dict(lr=0.01, centered=True), None),
        ("rmsprop_momentum_centered", "rmsprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01), None),
    ]
    makers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
              "rmsprop": torch.optim.RMSprop}
    cases = []
    for name, kind, options, learning_rates in configurations:
        params = [p.clone().requires_grad_(True) for p in initial]
        optimizer = makers[kind](params, foreach=False, **options)
        trajectory = []
        for step in range(STEPS):
            if learning_rates is not None:
                optimizer.param_groups[0]["lr"] = learning_rates[step]
            for p, grad in zip(params, gradients[step]):
                p.grad = None if grad is None else grad.clone()
            optimizer.step()
            trajectory.append([tensor_json(p) for p in params])
        state = {}
        for index, p in enumerate(params):
            for key, value in optimizer.state[p].items():
                if isinstance(value, torch.Tensor):
                    state[f"{index}.{key}"] = tensor_json(value.reshape(value.shape))
        json_options = dict(options)
        if "betas" in json_options:
            json_options["betas"] = list(json_options["betas"])
        cases.append({"name": name, "optimizer": kind, "options": json_options,
                      "learning_rates": learning_rates, "trajectory": trajectory, "state": state})
    write("optimizers.json", {
        "initial": [tensor_json(p) for p in initial],
        "gradients": [[None if grad is None else tensor_json(grad) for grad in row] for row in gradients],
        "cases": cases,
    })


def make_clipping():
    g = torch.Generator().manual_seed(7)
    gradients = [randn(3, 4, generator=g), randn(6, generator=g, scale=2.0), randn(2, 2, generator=g, scale=0.1)]
    norm_cases = []
    for max_norm, norm_type in [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf), (2.0, 1.0), (3.0, 3.0)]:
        params = [torch.zeros_like(grad, requires_grad=True) for grad in gradients]
        for p, grad in zip(params, gradients):
            p.grad = grad.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type, foreach=False)
        norm_cases.append({"max_norm": max_norm, "norm_type": str(norm_type),
                           "total_norm": total.item(), "clipped": [tensor_json(p.grad) for p in params]})
    value_cases = []
    for limit in [0.3, 10.0]:
        params = [torch.zeros_like(grad, requires_grad=True) for grad in gradients]
        for p, grad in zip(params, gradients):
            p.grad = grad.clone()
        torch.nn.utils.clip_grad_value_(params, limit, foreach=False)
        value_cases.append({"limit": limit, "clipped": [tensor_json(p.grad) for p in params]})
    write("clipping.json", {"gradients": [tensor_json(grad) for grad in gradients],
                            "norm_cases": norm_cases, "value_cases": value_cases})


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules: the learning rate used by the optimizer at steps 0, 1, 2, ...
# ---------------------------------------------------------------------------------------------

def schedule_trajectory(base, make_scheduler, steps):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def make_schedules():
    S = torch.optim.lr_scheduler
    base = 0.1
    cases = [
        {"name": "constant", "schedule": {"kind": "constant"},
         "rates": schedule_trajectory(base, lambda o: S.LambdaLR(o, lambda step: 1.0), 6)},
        {"name": "step", "schedule": {"kind": "step", "step_size": 3, "gamma": 0.5},
         "rates": schedule_trajectory(base, lambda o: S.StepLR(o, step_size=3, gamma=0.5), 13)},
        {"name": "cosine", "schedule": {"kind": "cosine", "steps": 10, "minimum": 0.001},
         "rates": schedule_trajectory(base, lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 11)},
        {"name": "warmup_cosine",
         "schedule": {"kind": "warmup", "steps": 4, "start_factor": 0.25,
                      "then": {"kind": "cosine", "steps": 8, "minimum": 0.0}},
         "rates": schedule_trajectory(base, lambda o: S.SequentialLR(o, [
             S.LinearLR(o, start_factor=0.25, total_iters=4),
             S.CosineAnnealingLR(o, T_max=8, eta_min=0.0)], milestones=[4]), 13)},
        {"name": "warmup_step",
         "schedule": {"kind": "warmup", "steps": 3, "start_factor": 0.1,
                      "then": {"kind": "step", "step_size": 2, "gamma": 0.3}},
         "rates": schedule_trajectory(base, lambda o: S.SequentialLR(o, [
             S.LinearLR(o, start_factor=0.1, total_iters=3),
             S.StepLR(o, step_size=2, gamma=0.3)], milestones=[3]), 10)},
        {"name": "warmup_constant",
         "schedule": {"kind": "warmup", "steps": 5, "start_factor": 0.2, "then": {"kind": "constant"}},
         "rates": schedule_trajectory(base, lambda o: S.LinearLR(o, start_factor=0.2, total_iters=5), 8)},
    ]
    write("schedules.json", {"base": base, "cases": cases})


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------

def make_metrics():
    g = torch.Generator().manual_seed(99)
    logits = randn(8, 5, generator=g, scale=2.0)
    classes = [0, 1, 2, 3, 4, 0, 1, -100]
    kept = torch.tensor([c != -100 for c in classes])
    predicted = logits.argmax(dim=1)
    correct = (predicted == torch.tensor(classes)) & kept
    accuracy = correct.sum().item() / kept.sum().item()
    cross_entropy = F.cross_entropy(logits, torch.tensor(classes), ignore_index=-100).item()
    prediction, target = randn(4, 3, generator=g), randn(4, 3, generator=g)
    write("metrics.json", {
        "logits": tensor_json(logits), "classes": classes, "ignore_index": -100,
        "predicted_classes": predicted.tolist(),
        "accuracy": accuracy,
        "mean_cross_entropy": cross_entropy,
        "perplexity": math.exp(cross_entropy),
        "bits_per_character": cross_entropy / math.log(2),
        "prediction": tensor_json(prediction), "target": tensor_json(target),
        "root_mean_squared_error": math.sqrt(F.mse_loss(prediction, target).item()),
        "mean_absolute_error": F.l1_loss(prediction, target).item(),
    })


if __name__ == "__main__":
    make_losses()
    make_optimizers()
    make_clipping()
    make_schedules()
    make_metrics()
