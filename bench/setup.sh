#!/usr/bin/env bash
# Installs the benchmark peers' system packages (idempotent) and checks they work.
# PyTorch comes from Debian (python3-torch 1.13 for /usr/bin/python3); without
# libopenblas0-pthread torch falls back to reference BLAS (~8 GFLOP/s), which
# would make the race meaningless.
set -euo pipefail

PY=/usr/bin/python3
need=()
for pkg in python3-torch libopenblas0-pthread; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    need+=("$pkg")
  fi
done

if ((${#need[@]})); then
  echo "bench setup: installing ${need[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The check: torch imports, and a 512x512 fp32 matmul runs at OpenBLAS speed.
OPENBLAS_CORETYPE=SKYLAKEX OPENBLAS_NUM_THREADS=2 "$PY" - <<'PYEOF'
import time, torch
torch.set_num_threads(2)
a = torch.randn(1024, 512); b = torch.randn(512, 1024)
for _ in range(5): a @ b
n = 50; t = time.perf_counter()
for _ in range(n): a @ b
dt = (time.perf_counter() - t) / n
gflops = 2 * 1024 * 512 * 1024 / dt / 1e9
import sys
print(f"bench setup: torch {torch.__version__}, fp32 matmul {gflops:.0f} GFLOP/s", file=sys.stderr)
if gflops < 25:  # reference BLAS gives ~8; OpenBLAS ~300+ on a quiet machine
    raise SystemExit("bench setup: torch matmul is too slow; is libopenblas0-pthread installed and selected "
                     "(update-alternatives --display libblas.so.3-x86_64-linux-gnu)?")
PYEOF
