#!/usr/bin/env bash
# Validates the deployment files against the schemas of what reads them, with tools from PyPI in
# a venv cached under .infra/tools (installed on first use; a failed install fails the caller):
#   deploy/kubernetes/*.yaml  against Kubernetes' OpenAPI schemas (kubernetes-validate, --strict:
#                             an unknown field is an error, as kubectl apply --validate=strict)
#   compose/*.yml             against the Compose Specification's schema (check-jsonschema's vendored copy)
# then prints, as JSON, the environment variables each file sets for EmoStream's own containers,
# for test/deploy/manifests.int.test.ts to hold against what src/config/config.ts reads.
#   bash scripts/deploy-check.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kv=1.37.0
cj=0.39.0
. "$root/scripts/py-tool.sh"
venv=$(py_tool_venv "deploy-check-$kv-$cj" "kubernetes-validate==$kv" "check-jsonschema==$cj" PyYAML)
cd "$root"
"$venv/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/*.yaml >&2
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose/*.yml >&2
"$venv/bin/python" - <<'PY'
import glob, json, yaml

def kind(image, build):
    # The Node roles run compose/Dockerfile's image; the Spark job compose/Dockerfile.spark's.
    dockerfile = build.get('dockerfile', '') if isinstance(build, dict) else ''
    image = image if isinstance(image, str) else ''
    if 'emostream-spark' in image or dockerfile.endswith('Dockerfile.spark'):
        return 'spark'
    if 'emostream' in image or dockerfile.endswith('compose/Dockerfile'):
        return 'node'
    return None

out = {}
for f in sorted(glob.glob('deploy/kubernetes/*.yaml')):
    names = {'node': set(), 'spark': set()}
    docs = [d for d in yaml.safe_load_all(open(f)) if d]
    maps = {d['metadata']['name']: (d.get('data') or {}) for d in docs if d.get('kind') == 'ConfigMap'}
    for doc in docs:
        spec = ((doc.get('spec') or {}).get('template') or {}).get('spec') or {}
        for c in spec.get('containers', []) + spec.get('initContainers', []):
            k = kind(c.get('image'), None)
            if not k:
                continue
            names[k].update(e['name'] for e in c.get('env', []))
            for src in c.get('envFrom', []):
                names[k].update(maps.get((src.get('configMapRef') or {}).get('name'), {}).keys())
    out[f] = {k: sorted(v) for k, v in names.items()}
for f in sorted(glob.glob('compose/*.yml')):
    names = {'node': set(), 'spark': set()}
    doc = yaml.safe_load(open(f))
    for svc in (doc.get('services') or {}).values():
        k = kind(svc.get('image'), svc.get('build'))
        if not k:
            continue
        env = svc.get('environment') or {}
        names[k].update(env.keys() if isinstance(env, dict) else (e.split('=', 1)[0] for e in env))
    out[f] = {k: sorted(v) for k, v in names.items()}
print(json.dumps(out))
PY
