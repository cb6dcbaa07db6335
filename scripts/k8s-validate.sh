#!/usr/bin/env bash
# Renders every Kubernetes overlay under deploy/kubernetes with the real
# kustomize (`kubectl kustomize`) and validates each rendered object offline,
# without a cluster:
#   1. against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
#      unknown fields are errors), for each version in K8S_VERSIONS;
#   2. against this project's own rules (tools/k8s-validate/check.py:
#      resources, securityContext, probes, grace period vs shutdown settings,
#      labels, ConfigMap/Secret references).
# Variants: dev, prod, and prod with the worker component (not enabled in
# any overlay yet; rendered here so it stays valid).
#
#   scripts/k8s-validate.sh             # or: make k8s-validate
#   K8S_VERSIONS="1.33.0" scripts/k8s-validate.sh
#
# Needs kubectl 1.27 or newer (kustomize v5) and python3 with venv. The
# validator is installed into target/k8s-venv from
# tools/k8s-validate/requirements.txt on first use. Renderings go to
# target/k8s-render/ and are made from database.env.example, never from an
# operator's database.env, so no real secret is ever written there.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=${K8S_VERSIONS:-1.30.0 1.37.0}
venv=target/k8s-venv
requirements=tools/k8s-validate/requirements.txt
out=target/k8s-render

if ! command -v kubectl >/dev/null 2>&1; then
  echo "k8s-validate: kubectl not found; install kubectl 1.27 or newer (it embeds kustomize v5)" >&2
  exit 1
fi
kustomize_version=$(kubectl version --client -o json 2>/dev/null \
  | python3 -c 'import json, sys; print(json.load(sys.stdin).get("kustomizeVersion", ""))')
case "$kustomize_version" in
  v[5-9].*) ;;
  *) echo "k8s-validate: kubectl's kustomize is '${kustomize_version:-unknown}'; v5 or newer is needed (kubectl 1.27+)" >&2
     exit 1 ;;
esac
echo "k8s-validate: kubectl $(kubectl version --client -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'), kustomize $kustomize_version"

# The validator, reinstalled when the requirements change.
if [ ! -x "$venv/bin/kubernetes-validate" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

# A copy of the tree with the example secrets in place of any real ones.
rm -rf "$out"
mkdir -p "$out"
cp -R deploy/kubernetes "$out/tree"
for example in "$out"/tree/overlays/*/database.env.example; do
  cp "$example" "${example%.example}"
done
# prod with the worker component, enabled the way the prod overlay's
# comment says (its two commented lines uncommented): what enabling it will
# render.
cp -R "$out/tree/overlays/prod" "$out/tree/overlays/prod-with-worker"
sed -i -e 's|^# components:$|components:|' -e 's|^#   - ../../components/worker$|  - ../../components/worker|' \
  "$out/tree/overlays/prod-with-worker/kustomization.yaml"
grep -q '^  - ../../components/worker$' "$out/tree/overlays/prod-with-worker/kustomization.yaml" \
  || { echo "k8s-validate: the prod overlay no longer has the commented worker component lines" >&2; exit 1; }

rendered=()
for variant in dev prod prod-with-worker; do
  kubectl kustomize "$out/tree/overlays/$variant" > "$out/$variant.yaml"
  echo "k8s-validate: rendered $variant: $(grep -c '^kind:' "$out/$variant.yaml") objects -> $out/$variant.yaml"
  rendered+=("$out/$variant.yaml")
done

status=0
for version in $versions; do
  if ! "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${rendered[@]}"; then
    status=1
  fi
  [ "$status" = 0 ] && echo "k8s-validate: schemas of Kubernetes $version (strict): every object valid"
done
"$venv/bin/python" tools/k8s-validate/check.py "${rendered[@]}" || status=1

if [ "$status" != 0 ]; then
  echo "k8s-validate: FAILED" >&2
  exit 1
fi
echo "k8s-validate: ok"
