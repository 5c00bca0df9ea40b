#!/usr/bin/env bash
# Build build/lambda.zip: the interactions Lambda's code and ONLY its dependencies (the core
# ones plus the `lambda` extra: no discord.py, no yt-dlp), as wheels for the Lambda platform
# (python3.12 on arm64 = manylinux2014_aarch64), whatever machine this runs on.
#
#   scripts/build_lambda.sh            # uses .venv/bin/python (or $PYTHON) to run pip
#
# LAMBDA_PLATFORM and LAMBDA_OUT build a variant elsewhere (check_deploy.sh builds one for
# this machine's platform to import-test the bundle's contents with a local python3.12).
#
# Optional: PYTHON312=/path/to/python3.12 precompiles the bundle (Lambda's filesystem is
# read-only, so without .pyc files every cold start compiles the sources again). Found
# automatically when `python3.12` is on PATH or under pyenv.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PLATFORM=${LAMBDA_PLATFORM:-manylinux2014_aarch64}
OUT=${LAMBDA_OUT:-build/lambda}
ZIP=$OUT.zip
# botocore ships ~400 service models; the Lambda's clients use these only.
KEEP_BOTOCORE_SERVICES="sqs dynamodb ecs ssm sts"
# Lambda's limit for a zip (unpacked) is 250 MB; stay far below it for cold starts.
MAX_UNPACKED_MB=${MAX_UNPACKED_MB:-120}

rm -rf "$OUT" "$ZIP"
mkdir -p "$OUT"

# 1. Requirements: pyproject's core dependencies + the lambda extra (one source of truth).
"$PYTHON" - > "$OUT.requirements.txt" <<'EOF'
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["lambda"]:
    print(requirement)
EOF

# 2. Wheels for the Lambda platform only (never sdists: they would build for THIS machine).
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
  --platform "$PLATFORM" --implementation cp --python-version 3.12 \
  --only-binary=:all: --target "$OUT" -r "$OUT.requirements.txt" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# 3. Our code: the front door and what it shares with the workers; nothing else.
cp -R interactions shared "$OUT"/
find "$OUT" -name __pycache__ -type d -prune -exec rm -rf {} +

# 4. Trim what the Lambda never loads.
if [ -d "$OUT/botocore/data" ]; then
  for service_dir in "$OUT"/botocore/data/*/; do
    name=$(basename "$service_dir")
    case " $KEEP_BOTOCORE_SERVICES " in *" $name "*) ;; *) rm -rf "$service_dir" ;; esac
  done
fi
rm -rf "$OUT"/bin

# 5. Precompile for CPython 3.12 when one is at hand (unchecked-hash: zip mtimes don't matter).
is_312() { [ -n "$1" ] && "$1" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; }
if [ -z "${PYTHON312:-}" ]; then
  for candidate in "$(command -v python3.12 2>/dev/null)" "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if is_312 "$candidate"; then PYTHON312=$candidate; break; fi
  done
fi
if is_312 "${PYTHON312:-}"; then
  "$PYTHON312" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$OUT" >/dev/null
  compiled="yes ($PYTHON312)"
else
  compiled="no (no python3.12 here: cold starts compile the sources)"
fi

# 6. A reproducible zip: sorted entries, fixed timestamps, no extra attributes.
"$PYTHON" - "$OUT" "$ZIP" <<'EOF'
import os
import sys
import zipfile

root, target = sys.argv[1], sys.argv[2]
paths = sorted(
    os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names
)
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
    for path in paths:
        info = zipfile.ZipInfo(os.path.relpath(path, root), date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as source:
            bundle.writestr(info, source.read())
EOF

# 7. Guards: nothing of the worker, and within size.
for forbidden in discord yt_dlp voice_worker fake_discord; do
  if [ -e "$OUT/$forbidden" ]; then
    echo "build_lambda: $forbidden must not be in the Lambda bundle" >&2
    exit 1
  fi
done
unpacked_mb=$(du -sm "$OUT" | cut -f1)
if [ "$unpacked_mb" -gt "$MAX_UNPACKED_MB" ]; then
  echo "build_lambda: bundle is ${unpacked_mb} MB unpacked (limit ${MAX_UNPACKED_MB} MB)" >&2
  exit 1
fi
zipped_kb=$(( $(stat -c %s "$ZIP") / 1024 ))
echo "build_lambda: $ZIP ${zipped_kb} KB zipped, ${unpacked_mb} MB unpacked, precompiled: $compiled"
