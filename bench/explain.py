"""explain against direct Captum calls: same model, texts, steps and batch, interleaved in one run.

Integrated gradients: bert_nb.explain next to Captum's LayerIntegratedGradients on the
word-embedding layer ([PAD] baseline, the same steps and internal batch): the largest
|difference| relative to the largest score (goal < 1e-4) and the time ratio (goal <= 1.1).
Occlusion: bert_nb's word-level ablation (32 words per forward pass) next to Captum's
FeatureAblation one word per pass.

    python bench/explain.py [--texts 20] [--steps 50] [--rows 200] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path


def _classifier(rows: int, device: str):
    """The packaged model fine-tuned briefly on Rotten Tomatoes (the weights matter little for speed)."""
    import bert_nb

    data = bert_nb.datasets.load("rotten_tomatoes", split="train").sample(rows, random_state=0)
    return bert_nb.finetune(bert_nb.load("default", device=device), data, epochs=1, max_length=64, batch_size=16)


def _captum_ig(clf, text: str, target: int, steps: int, batch: int):
    import torch
    from captum.attr import LayerIntegratedGradients

    enc = clf.tokenizer(text, truncation=True, max_length=clf.training_config.get("max_length", 64), return_tensors="pt")
    enc = clf.to_device(dict(enc))
    ids = enc["input_ids"]
    special = torch.tensor(clf.tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True),
                           device=ids.device).bool()
    base = ids.clone()
    base[0, ~special] = clf.tokenizer.pad_token_id

    def forward(input_ids, attention_mask, token_type_ids):
        return clf.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids).logits.softmax(-1)[:, target]

    lig = LayerIntegratedGradients(forward, clf.encoder.embeddings.word_embeddings)
    attr = lig.attribute(ids, baselines=base, n_steps=steps, internal_batch_size=batch,
                         additional_forward_args=(enc["attention_mask"], enc["token_type_ids"]))
    return attr[0].sum(-1).detach().float().cpu().numpy()


def _captum_occlusion(clf, text: str, target: int):
    import torch
    from captum.attr import FeatureAblation

    enc = clf.tokenizer(text, truncation=True, max_length=clf.training_config.get("max_length", 64), return_tensors="pt")
    groups = torch.tensor([0 if w is None else w + 1 for w in enc.word_ids(0)])
    enc = clf.to_device(dict(enc))
    emb = clf.encoder.embeddings.word_embeddings(enc["input_ids"]).detach()
    mask_emb = clf.encoder.embeddings.word_embeddings.weight[clf.tokenizer.mask_token_id].detach()

    def forward(embeds):
        n = embeds.shape[0]
        return clf.model(inputs_embeds=embeds, attention_mask=enc["attention_mask"].expand(n, -1),
                         token_type_ids=enc["token_type_ids"].expand(n, -1)).logits.softmax(-1)[:, target]

    with torch.inference_mode():
        return FeatureAblation(forward).attribute(emb, baselines=mask_emb.expand_as(emb),
                                                  feature_mask=groups.view(1, -1, 1).expand_as(emb).to(emb.device),
                                                  perturbations_per_eval=1)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rows", type=int, default=200, help="training rows for the classifier")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default="bench/results/explain.json")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    import bert_nb
    from bert_nb.explanations import _ig_batch

    clf = _classifier(args.rows, args.device)
    texts = list(bert_nb.datasets.load("rotten_tomatoes", split="test").text.head(args.texts))
    targets = [clf.label_names.index(label) for label in clf.predict(texts).label]
    batch = _ig_batch(args.steps)
    sync = torch.cuda.synchronize if clf.device.startswith("cuda") else (lambda: None)
    runners = {
        "bert_nb.explain ig": lambda t, y: bert_nb.explain(clf, t, y, steps=args.steps).scores,
        "captum LayerIntegratedGradients": lambda t, y: _captum_ig(clf, t, y, args.steps, batch),
        "bert_nb.explain occlusion": lambda t, y: bert_nb.explain(clf, t, y, method="occlusion").scores,
        "captum FeatureAblation, 1 word per pass": lambda t, y: _captum_occlusion(clf, t, y),
    }
    for run in runners.values():  # warm-up
        run(texts[0], targets[0])
    times = {name: [] for name in runners}
    worst = 0.0
    for _ in range(args.rounds):
        for text, target in zip(texts, targets):
            out = {}
            for name, run in runners.items():
                sync()
                t0 = time.perf_counter()
                out[name] = run(text, target)
                sync()
                times[name].append(time.perf_counter() - t0)
            ours, theirs = out["bert_nb.explain ig"], out["captum LayerIntegratedGradients"]
            worst = max(worst, float(np.abs(ours - theirs).max() / np.abs(theirs).max()))
    rows = {name: {"median_ms": 1e3 * statistics.median(t), "n": len(t)} for name, t in times.items()}
    ig_ratio = rows["bert_nb.explain ig"]["median_ms"] / rows["captum LayerIntegratedGradients"]["median_ms"]
    occ_ratio = rows["bert_nb.explain occlusion"]["median_ms"] / rows["captum FeatureAblation, 1 word per pass"]["median_ms"]
    report = {"model": clf.name, "device": clf.device, "dtype": str(clf.dtype), "machine": platform.machine(),
              "torch_threads": torch.get_num_threads(), "texts": len(texts), "steps": args.steps,
              "internal_batch_size": batch, "ig_max_rel_difference": worst, "ig_time_ratio": ig_ratio,
              "occlusion_time_ratio": occ_ratio, "results": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{clf.name} on {clf.device} ({clf.dtype}), {len(texts)} texts x {args.rounds}, {args.steps} steps")
    for name, row in rows.items():
        print(f"  {name:<42}{row['median_ms']:>9.1f} ms per text")
    print(f"integrated gradients: max |ours - Captum| / max |score| = {worst:.1e}; time ours / Captum = {ig_ratio:.2f}")
    print(f"occlusion: time ours (batched) / Captum one word per pass = {occ_ratio:.2f}")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
