#!/usr/bin/env bash
# The check on a real GPU (a machine with one NVIDIA GPU, CUDA, Python with torch and nvidia-nccl-cu12/-cu13,
# and no Node of its own). Run from anywhere; it works in the repository this file is in:
#
#   NODE_PREFIX=/path/to/node-v20.x-linux-x64 native/gpu-check.sh [OUT_DIR]
#
# NODE_PREFIX is a Node >= 20 prefix with bin/node and include/node (an official Node tarball, unpacked);
# default: the node on PATH. The tree must hold node_modules/ (npm ci done elsewhere: node-gyp and
# node-addon-api come from it) and dist/ (npm run build done elsewhere): nothing is downloaded here.
#
# It builds native/ against that Node's headers, then
#   1. runs every collective x dtype x op at world size 1 on cuda:0 through the nccl backend against the
#      CPU result, with send/recv to self (bench/gpu-check.ts), and times a 4 B and a 256 MiB all-reduce;
#   2. times torch.distributed.all_reduce of the same sizes on the same GPU (NCCL, world size 1);
#   3. writes OUT_DIR/gpu-check.json and OUT_DIR/torch.json (OUT_DIR: $OUT, else native/build/) and prints
#      the 4 B ratio (goal: multirank within 1.2x of torch).
# NCCL and the CUDA runtime are found as the nccl backend always finds them (pip's site-packages included);
# MULTIRANK_NCCL_LIBRARY / MULTIRANK_CUDART_LIBRARY override. Exit 1 on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_PREFIX=${NODE_PREFIX:-$(dirname "$(dirname "$(command -v node)")")}
export PATH="$NODE_PREFIX/bin:$PATH"
OUT_DIR=${1:-${OUT:-native/build}}
mkdir -p "$OUT_DIR"
for need in node_modules/node-gyp node_modules/node-addon-api dist/bench/gpu-check.js dist/kernels.wasm; do
  [ -e "$need" ] || { echo "gpu-check: $need is missing: carry node_modules/ and dist/ (npm ci && npm run build elsewhere)"; exit 2; }
done
echo "# node $(node --version) from $NODE_PREFIX; $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: n/a')"

npm_config_nodedir="$NODE_PREFIX" node native/scripts/build.mjs
node -e 'const s=require("./native/build/status.json"); if(!s.ok){console.error(s.reason);process.exit(2)}'

status=0
node dist/bench/gpu-check.js --device cuda:0 --small-iters 2000 --large-iters 50 > "$OUT_DIR/gpu-check.json" || status=$?
cat "$OUT_DIR/gpu-check.json"

python3 - "$OUT_DIR/torch.json" <<'PY'
import json, os, sys, time
import torch, torch.distributed as dist
os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
os.environ.setdefault("MASTER_PORT", "29531")
torch.cuda.set_device(0)
dist.init_process_group("nccl", rank=0, world_size=1)
def timed(nbytes, iters):
    x = torch.zeros(nbytes // 4, dtype=torch.float32, device="cuda:0")
    for _ in range(min(20, iters)):
        dist.all_reduce(x)
    torch.cuda.synchronize()
    us = []
    for _ in range(iters):
        start = time.perf_counter()
        dist.all_reduce(x)
        torch.cuda.synchronize()
        us.append((time.perf_counter() - start) * 1e6)
    us.sort()
    return {"bytes": nbytes, "medianUs": us[len(us) // 2], "minUs": us[0], "iters": iters}
report = {"torch": torch.__version__, "nccl": ".".join(map(str, torch.cuda.nccl.version())),
          "gpu": torch.cuda.get_device_name(0), "timings": [timed(4, 2000), timed(256 << 20, 50)]}
dist.destroy_process_group()
json.dump(report, open(sys.argv[1], "w"), indent=2)
print(json.dumps(report, indent=2))
PY

node -e '
const [m, t] = [process.argv[1], process.argv[2]].map((p) => require(require("path").resolve(p)));
for (const [a, b] of m.timings.map((x, i) => [x, t.timings[i]])) {
  console.log(`${a.bytes} B all-reduce: multirank ${a.medianUs.toFixed(2)} us, torch ${b.medianUs.toFixed(2)} us (x${(a.medianUs / b.medianUs).toFixed(2)})`);
}
console.log(`${m.cases} cases, ${m.failures.length} failures`);
' "$OUT_DIR/gpu-check.json" "$OUT_DIR/torch.json"
exit $status
