"""The project's own rules for the rendered Kubernetes manifests.

Schema validation (kubernetes-validate) says an object is well formed; this
says it is what docs/deployment.md promises. Usage:

    check.py RENDERED.yaml...

Checks, for every workload (Deployment, Job): each container has CPU and
memory requests and limits, runs as uid 65532 and non-root, with a read-only
root file system, no privilege escalation, every capability dropped and the
RuntimeDefault seccomp profile; its ConfigMap and Secret references resolve
to objects in the same rendering; every object carries the
app.kubernetes.io labels (the shared ServiceAccount has no component). For every Deployment: terminationGracePeriodSeconds
exceeds SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS of the ConfigMap it reads.
For the API Deployment: startup and readiness probes on /readyz, liveness on
/healthz. Exit 1 with one line per finding.
"""

import sys

import yaml

LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of",
          "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
          "app.kubernetes.io/component")
# Generated in an overlay, Secrets do not get the base's labels.
SECRET_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                 "app.kubernetes.io/component")


def check(path):
    with open(path) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    found = []
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

    def bad(obj, message):
        found.append(f"{path}: {obj['kind'].lower()}/{obj['metadata']['name']}: {message}")

    for o in objects:
        labels = o["metadata"].get("labels", {})
        wanted = SECRET_LABELS if o["kind"] == "Secret" else LABELS
        if o["kind"] == "ServiceAccount":
            # Shared by the API, the worker and the migration Job.
            wanted = tuple(k for k in wanted if k != "app.kubernetes.io/component")
        missing = [k for k in wanted if k not in labels]
        if missing:
            bad(o, f"missing labels {missing}")

    for kind in ("Deployment", "Job"):
        for name, o in by_kind.get(kind, {}).items():
            pod = o["spec"]["template"]["spec"]
            psc = pod.get("securityContext", {})
            if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                bad(o, "pod seccompProfile is not RuntimeDefault")
            if not psc.get("runAsNonRoot") or psc.get("runAsUser") != 65532:
                bad(o, "pod does not run as non-root uid 65532")
            settings = {}
            for c in pod["containers"]:
                where = f"container {c['name']}"
                res = c.get("resources", {})
                for part in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in res.get(part, {}):
                            bad(o, f"{where}: no {part}.{r}")
                sc = c.get("securityContext", {})
                expect = {
                    "runAsNonRoot": True,
                    "runAsUser": 65532,
                    "readOnlyRootFilesystem": True,
                    "allowPrivilegeEscalation": False,
                }
                for key, value in expect.items():
                    if sc.get(key) != value:
                        bad(o, f"{where}: securityContext.{key} is not {value}")
                if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                    bad(o, f"{where}: capabilities are not drop [ALL]")
                for ref in c.get("envFrom", []):
                    cm = ref.get("configMapRef", {}).get("name")
                    if cm is not None:
                        if cm not in by_kind.get("ConfigMap", {}):
                            bad(o, f"{where}: ConfigMap {cm} is not in the rendering")
                        else:
                            settings.update(by_kind["ConfigMap"][cm].get("data", {}))
                for env in c.get("env", []):
                    sk = env.get("valueFrom", {}).get("secretKeyRef")
                    if sk is None:
                        continue
                    secret = by_kind.get("Secret", {}).get(sk["name"])
                    if secret is None:
                        bad(o, f"{where}: Secret {sk['name']} is not in the rendering")
                    elif sk["key"] not in secret.get("data", {}):
                        bad(o, f"{where}: Secret {sk['name']} has no key {sk['key']}")
            if kind != "Deployment":
                continue
            grace_ms = 1000 * pod.get("terminationGracePeriodSeconds", 30)
            delay = int(settings.get("SHUTDOWN_DELAY_MS", "0"))
            timeout = int(settings.get("SHUTDOWN_TIMEOUT_MS", "8000"))
            if grace_ms <= delay + timeout:
                bad(o, f"terminationGracePeriodSeconds ({grace_ms} ms) is not above "
                       f"SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS ({delay} + {timeout} ms)")
            labels = o["spec"]["selector"]["matchLabels"]
            if labels.get("app.kubernetes.io/component") == "api":
                c = pod["containers"][0]
                for probe, path_ in (("startupProbe", "/readyz"), ("readinessProbe", "/readyz"),
                                     ("livenessProbe", "/healthz")):
                    got = c.get(probe, {}).get("httpGet", {}).get("path")
                    if got != path_:
                        bad(o, f"{probe} is on {got}, not {path_}")
    kinds = sorted(f"{k} x{len(v)}" for k, v in by_kind.items())
    return found, kinds


def main():
    status = 0
    for path in sys.argv[1:]:
        found, kinds = check(path)
        for line in found:
            print(line)
        status |= bool(found)
        print(f"k8s-check: {path}: {len(found)} finding(s) ({', '.join(kinds)})")
    return status


if __name__ == "__main__":
    sys.exit(main())
