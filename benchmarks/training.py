"""Time per training epoch of the quick start's networks, and a fingerprint of what they
learn, so that a faster trainer can be shown to learn exactly the same thing.

Per model (default: lstm, pc-rnn, pc-rnn-linear, rnn-cnn, their default configuration,
seed 0): ``--epochs`` epochs without early stopping on the small Beijing twin
(``beijing:small``, split spatial:0.7 with 20 % of the training cells validating), one
torch thread, as the bench trains them. Recorded:

* ``seconds_per_epoch``: the trainer's wall time over the epochs run, divided by them
  (validation included; the one-time set-up of a process is paid by a warm-up fit first);
* ``weights_sha256`` and ``prediction_sha256``: SHA-256 of the trained weights (every
  tensor of the state dict, in key order) and of the prediction on the whole case: equal
  digests mean bit-identical training;
* with ``--breakdown``, where an epoch goes: building batches, forward pass and loss,
  backward pass, clipping and optimiser step, validation (one epoch re-run by hand).

The 1-minute load average is recorded before and after: other processes on a shared
machine slow the figures down.

    python benchmarks/training.py --label before|after [--epochs 5] [--models lstm,...]
                                  [--case beijing:small] [--breakdown]

Adds the run under its label to benchmarks/results/training.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

MODELS = ("lstm", "pc-rnn", "pc-rnn-linear", "rnn-cnn")
RESULTS = Path(__file__).parent / "results" / "training.json"


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _breakdown(solver, case, split) -> dict:
    """Seconds of one epoch by part, re-run by hand on the solver's trained network with
    the trainer's own pieces (batch order and sizes as the trainer's)."""
    import surrogates.neural_solver as neural
    import surrogates.train as trainer

    captured = {}

    def capture(model, training, validation, config, device):
        captured.update(training=training, validation=validation, config=config)
        return trainer.TrainingReport()

    original = neural.train
    neural.train = capture
    try:
        type(solver)(seed=0, epochs=1, threads=1).fit(case, split)
    finally:
        neural.train = original
    config, model = captured["config"], solver.model
    data = captured["training"].tensors(torch.device("cpu"))
    validation = captured["validation"].tensors(torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    order = np.random.default_rng(0).permutation(len(data.target))
    parts = dict.fromkeys(("batches", "forward", "backward", "step", "validation"), 0.0)
    model.train()
    for b in range(0, len(order), config["batch_size"]):
        t0 = time.perf_counter()
        inputs, target = data.batch(torch.as_tensor(order[b:b + config["batch_size"]]))
        t1 = time.perf_counter()
        s, count = trainer.sequence_loss(model(**inputs), target)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        (s / count).backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
        float(s.detach())
        t4 = time.perf_counter()
        for key, seconds in zip(("batches", "forward", "backward", "step"),
                                (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[key] += seconds
    model.eval()
    t0 = time.perf_counter()
    trainer._evaluate(model, validation, config["inference_batch"])
    parts["validation"] = time.perf_counter() - t0
    return {k: round(v, 4) for k, v in parts.items()}


def run(case_spec: str, models, epochs: int, breakdown: bool) -> dict:
    from engine.app.bench import resolve_case
    from engine.caseio import load_case
    from engine.registry import make_solver
    from engine.split import Split

    case = load_case(resolve_case(case_spec))
    split = Split.parse("spatial:0.7", case, seed=0, validation_fraction=0.2)
    torch.set_num_threads(1)
    make_solver("lstm", preset="fast", epochs=1).fit(case, split)   # warm-up: imports
    out = {}
    for name in models:
        solver = make_solver(name, seed=0, epochs=epochs, patience=0, threads=1)
        report = solver.fit(case, split)
        state = solver.model.state_dict()
        out[name] = {
            "epochs": report["epochs"],
            "seconds_per_epoch": round(report["seconds"] / report["epochs"], 4),
            "weights_sha256": _digest(state[k].numpy() for k in sorted(state)),
            "prediction_sha256": _digest([solver.predict_array(case)]),
        }
        if breakdown:
            out[name]["epoch_parts_s"] = _breakdown(solver, case, split)
        print(f"{name:15s} {out[name]['seconds_per_epoch']:8.3f} s/epoch  weights "
              f"{out[name]['weights_sha256'][:12]}  prediction "
              f"{out[name]['prediction_sha256'][:12]}"
              + (f"  {out[name]['epoch_parts_s']}" if breakdown else ""), flush=True)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", required=True, help='e.g. "before" or "after"')
    p.add_argument("--case", default="beijing:small")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--breakdown", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    models = run(args.case, args.models.split(","), args.epochs, args.breakdown)
    saved = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    saved[args.label] = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "case": args.case, "epochs": args.epochs,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "models": models}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} [{args.label}]")


if __name__ == "__main__":
    main()
