#!/usr/bin/env python3
"""Helpers of .ci/deploy-check.sh (run there with the tools venv's python).

  deploy_check.py context --out DIR
      Builds the Docker build context as `docker build` would (git's files
      minus .dockerignore), checks that no key or secret file is in it and
      that every COPY source is, and lays out the build stage's /src in DIR
      exactly as the Dockerfile's COPY lines do (the caller then runs
      `cargo fetch --locked` there: the manifest and lock file must be
      complete with only what is copied).

  deploy_check.py manifests --schemas DIR [--hsgate BIN] NAME=RENDER.yaml ...
      Schema-validates every rendered object: built-in kinds with
      kubernetes-validate (strict, bundled OpenAPI schemas, at the oldest
      and newest Kubernetes versions supported), CRD kinds against the
      schemas in DIR (a kind with no schema is an error, never a warning).
      Then checks what a schema cannot see: selectors, named ports, probes
      on the admin port, grace period vs. shutdown_grace, secrets mounted
      without subPath, and (with --hsgate) `hsgate check` on every
      ConfigMap's hsgate.toml with its secret files written to a temp dir.

No network, no cluster, no Docker engine.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

# Kubernetes versions the manifests must validate against: 1.30 is the
# oldest with the preStop `sleep` action on by default; the newest is the
# latest schema kubernetes-validate bundles.
K8S_VERSIONS = ["1.30.0", None]

# Files that must never be in the build context.
SECRETISH = ["*.pem", "*.key", "*.crt", "*.p12", "*.pfx", "*.jks", "*.password", ".env", ".env.*",
             "id_rsa*", "id_ed25519*"]

CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring.coreos.com-v1.json",
}

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"  FAIL {msg}")


def ok(msg: str) -> None:
    print(f"  ok   {msg}")


# ---------------------------------------------------------------- context


def ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (moby patternmatcher semantics) as a regex."""
    p = pattern.strip().lstrip("/").rstrip("/")
    out, i = "", 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile(f"^{out}$")


def dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, ignore_regex(line[1:] if negate else line)))
    return rules


def excluded(path: str, rules) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, rx in rules:
        if any(rx.match(p) for p in prefixes):
            result = not negate
    return result


def dockerfile_stages() -> list[dict]:
    """FROM/WORKDIR/COPY of each stage (no line continuations in COPY)."""
    stages: list[dict] = []
    text = (REPO / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            stages.append({"name": m.group(1) if m else None, "workdir": "/", "copies": []})
        elif word == "WORKDIR" and stages:
            stages[-1]["workdir"] = rest.strip()
        elif word == "COPY" and stages:
            args = shlex.split(rest)
            flags = [a for a in args if a.startswith("--")]
            paths = [a for a in args if not a.startswith("--")]
            if any(f.startswith("--from") for f in flags):
                continue
            stages[-1]["copies"].append((paths[:-1], paths[-1], stages[-1]["workdir"]))
    return stages


def cmd_context(args) -> None:
    # `docker build .` sends every file in the folder (tracked or not, git's
    # ignores do not apply) minus .dockerignore: walk the disk, not git.
    rules = dockerignore()
    can_prune = not any(negate for negate, _ in rules)
    files, context = [], set()
    for root, dirs, names in os.walk(REPO):
        rel_root = Path(root).relative_to(REPO).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        if can_prune:
            dirs[:] = [d for d in dirs if not excluded(rel_root + d, rules)]
        for n in names:
            f = rel_root + n
            files.append(f)
            if not excluded(f, rules):
                context.add(f)
    ok(f"build context: {len(context)} files ({len(files)} seen outside excluded folders)")

    leaked = [f for f in context if any(fnmatch.fnmatch(Path(f).name, g) for g in SECRETISH)
              or "/secrets/" in f"/{f}"]
    if leaked:
        fail(f"key/secret files in the build context: {sorted(leaked)}")
    else:
        ok("no key, certificate or secret file in the build context")
    for junk in ("target/", ".git/", "node_modules/", "fuzz/target/"):
        probe = junk + "x"
        if not excluded(probe, rules) and not excluded("a/" + probe, rules):
            fail(f".dockerignore does not exclude {junk}")
    ok(".dockerignore excludes target/, fuzz/target/, node_modules/, .git/")

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    stages = dockerfile_stages()
    build = next((s for s in stages if s["name"] == "build"), None)
    if build is None:
        fail("Dockerfile has no stage named build")
        return
    for stage in stages:
        for sources, dest, workdir in stage["copies"]:
            for src in sources:
                hits = [f for f in context if f == src or f.startswith(src.rstrip("/") + "/")]
                if not hits:
                    fail(f"COPY {src}: not in the build context")
                    continue
                on_disk = [src] if (REPO / src).is_file() else [
                    (Path(r).relative_to(REPO) / n).as_posix() for r, _, ns in os.walk(REPO / src) for n in ns]
                dropped = sorted(set(on_disk) - set(hits))
                if dropped:
                    fail(f"COPY {src}: .dockerignore drops {dropped}")
                if stage is not build:
                    continue
                target = Path(workdir) / dest if not dest.startswith("/") else Path(dest)
                rel = target.relative_to(build["workdir"]) if target.is_relative_to(build["workdir"]) else None
                if rel is None:
                    continue
                # Docker's rules: a file goes to DEST (or DEST/name when DEST
                # ends in / or there are several sources); a folder's
                # contents go into DEST.
                for f in hits:
                    if f == src:
                        as_dir = dest.endswith("/") or len(sources) > 1
                        where = out / rel / Path(f).name if as_dir else out / rel
                    else:
                        where = out / rel / Path(f).relative_to(src.rstrip("/"))
                    where.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / f, where)
    ok(f"build stage /src laid out in {out} from the Dockerfile's COPY lines")

    # Version labels agree with Cargo.toml and the base kustomization.
    version = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]
    m = re.search(r"^ARG VERSION=(\S+)", (REPO / "Dockerfile").read_text(), re.M)
    if not m or m.group(1) != version:
        fail(f"Dockerfile ARG VERSION ({m.group(1) if m else 'missing'}) != Cargo.toml version {version}")
    else:
        ok(f"Dockerfile VERSION {version} = Cargo.toml")
    kust = yaml.safe_load((REPO / "deploy/kubernetes/base/kustomization.yaml").read_text())
    tags = [i.get("newTag") for i in kust.get("images", []) if i.get("name") == "hsgate"]
    if tags != [version]:
        fail(f"base kustomization image tag {tags} != Cargo.toml version {version}")
    else:
        ok(f"base image tag {version} = Cargo.toml")


# ---------------------------------------------------------------- manifests


def load_render(path: str) -> list[dict]:
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def kn(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def validate_schemas(name: str, docs: list[dict], schema_dir: Path) -> None:
    import jsonschema
    import kubernetes_validate

    versions = [v or kubernetes_validate.utils.latest_version() for v in K8S_VERSIONS]
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CRD_SCHEMAS:
            schema = json.loads((schema_dir / CRD_SCHEMAS[key]).read_text())
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
            for e in errors:
                fail(f"{name}: {kn(doc)}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}")
            if not errors:
                ok(f"{name}: {kn(doc)} valid ({CRD_SCHEMAS[key]}, CRD subset schema)")
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                fail(f"{name}: {kn(doc)}: no schema for {key[0]} {key[1]} in Kubernetes {version} "
                     f"(a CRD needs a schema in {schema_dir.name}/)")
                break
            except kubernetes_validate.ValidationError as e:
                fail(f"{name}: {kn(doc)} invalid for Kubernetes {version}: "
                     f"{'.'.join(map(str, e.path))}: {e.message}")
        else:
            ok(f"{name}: {kn(doc)} valid (Kubernetes {', '.join(versions)}, strict)")


def selects(selector: dict | None, labels: dict) -> bool:
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        has, vals = expr["key"] in labels, expr.get("values") or []
        op = expr["operator"]
        if (op == "In" and labels.get(expr["key"]) not in vals) or (op == "NotIn" and labels.get(expr["key"]) in vals) \
                or (op == "Exists" and not has) or (op == "DoesNotExist" and has):
            return False
    return True


def seconds(duration: str) -> float:
    total, units = 0.0, {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration):
        total += float(num) * units[unit]
    return total


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def check_consistency(name: str, docs: list[dict], hsgate: str | None) -> None:
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        fail(f"{name}: expected one Deployment, found {len(deployments)}")
        return
    dep = deployments[0]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "hsgate"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

    configs = {}
    for cm in by_kind.get("ConfigMap", []):
        if "hsgate.toml" in cm.get("data", {}):
            configs[cm["metadata"]["name"]] = cm["data"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    cfg_vol = [v for v in volumes.values() if v.get("configMap", {}).get("name") in configs]
    if len(cfg_vol) != 1:
        fail(f"{name}: the Deployment mounts no ConfigMap holding hsgate.toml")
        return
    cm_name = cfg_vol[0]["configMap"]["name"]
    cm_data = configs[cm_name]
    cfg_text = cm_data["hsgate.toml"]
    cfg = tomllib.loads(cfg_text)
    mount_path = mounts[cfg_vol[0]["name"]]["mountPath"]
    args = container.get("args", [])
    if args[-2:] != ["--config", f"{mount_path}/hsgate.toml"]:
        fail(f"{name}: container args {args} do not name {mount_path}/hsgate.toml")
    else:
        ok(f"{name}: serve --config {mount_path}/hsgate.toml (ConfigMap {cm_name}, hash-suffixed)")
    if not re.search(r"-[a-z0-9]{10}$", cm_name):
        fail(f"{name}: ConfigMap {cm_name} has no content-hash suffix (config changes would not roll out)")

    listen = cfg.get("server", {}).get("listen", "0.0.0.0:8080")
    admin = cfg.get("admin", {}).get("listen", "127.0.0.1:9090")
    if port_of(listen) != ports.get("gateway"):
        fail(f"{name}: server.listen {listen} != containerPort gateway {ports.get('gateway')}")
    if port_of(admin) != ports.get("admin") or not admin.startswith(("0.0.0.0:", "[::]:")):
        fail(f"{name}: admin.listen {admin} must be 0.0.0.0:<containerPort admin {ports.get('admin')}>")
    else:
        ok(f"{name}: listen {listen} / admin {admin} match the container ports")

    probes = {k: container.get(k, {}).get("httpGet", {}) for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    want = {"startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}
    for k, path in want.items():
        if probes[k].get("path") != path or probes[k].get("port") not in ("admin", ports.get("admin")):
            fail(f"{name}: {k} should GET {path} on the admin port, is {probes[k]}")
    ok(f"{name}: startup+readiness /readyz, liveness /healthz, on the admin port")

    grace = spec.get("terminationGracePeriodSeconds", 30)
    pause = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    shutdown = seconds(cfg.get("server", {}).get("shutdown_grace", "25s"))
    if pause <= 0:
        fail(f"{name}: no preStop sleep before SIGTERM")
    if grace <= pause + shutdown:
        fail(f"{name}: terminationGracePeriodSeconds {grace} <= preStop {pause}s + shutdown_grace {shutdown:g}s")
    else:
        ok(f"{name}: terminationGracePeriodSeconds {grace} > preStop {pause}s + shutdown_grace {shutdown:g}s")

    psc, csc = spec.get("securityContext", {}), container.get("securityContext", {})
    checks = {
        "runAsNonRoot": csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
        "runAsUser>0": (csc.get("runAsUser", psc.get("runAsUser")) or 0) > 0,
        "readOnlyRootFilesystem": csc.get("readOnlyRootFilesystem") is True,
        "allowPrivilegeEscalation=false": csc.get("allowPrivilegeEscalation") is False,
        "capabilities drop ALL": csc.get("capabilities", {}).get("drop") == ["ALL"],
        "seccomp RuntimeDefault": csc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") == "RuntimeDefault",
    }
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail(f"{name}: securityContext lacks {bad}")
    else:
        ok(f"{name}: securityContext: {', '.join(checks)}")

    secret_mounts = [mounts[v] for v in volumes if "secret" in volumes[v] and v in mounts]
    if any("subPath" in m or "subPathExpr" in m for m in secret_mounts):
        fail(f"{name}: a Secret is mounted with subPath: Kubernetes never updates those, rotation would need a restart")
    secret_dirs = [m["mountPath"].rstrip("/") + "/" for m in secret_mounts]
    ok(f"{name}: Secret volumes mounted whole at {secret_dirs}")

    for svc in by_kind.get("Service", []):
        sname = svc["metadata"]["name"]
        if not selects({"matchLabels": svc["spec"].get("selector", {})}, pod_labels):
            fail(f"{name}: Service {sname} selects no hsgate pod")
        for p in svc["spec"]["ports"]:
            if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
                fail(f"{name}: Service {sname} targetPort {p.get('targetPort')} is not a container port")
        targets = {p.get("targetPort") for p in svc["spec"]["ports"]}
        if sname == "hsgate" and targets & {"admin", ports.get("admin")}:
            fail(f"{name}: the gateway Service exposes the admin port")
    ok(f"{name}: Services select the pods; the gateway Service carries no admin port")

    for sm in by_kind.get("ServiceMonitor", []):
        hits = [s for s in by_kind.get("Service", []) if selects(sm["spec"]["selector"], s["metadata"].get("labels", {}))]
        names = {p.get("name") for s in hits for p in s["spec"]["ports"]}
        if not hits:
            fail(f"{name}: ServiceMonitor {sm['metadata']['name']} selects no Service")
        for ep in sm["spec"]["endpoints"]:
            if ep.get("port") not in names:
                fail(f"{name}: ServiceMonitor port {ep.get('port')} not on {[s['metadata']['name'] for s in hits]}")
            elif ep.get("path", "/metrics") != "/metrics":
                fail(f"{name}: ServiceMonitor path {ep.get('path')} is not /metrics")
        ok(f"{name}: ServiceMonitor scrapes /metrics via {[s['metadata']['name'] for s in hits]}")

    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] != "Deployment" or ref["name"] != dep["metadata"]["name"]:
            fail(f"{name}: HPA targets {ref}")
        lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        threshold = cfg.get("upstream", {}).get("login_failure_threshold", 3)
        if lo < 2:
            fail(f"{name}: HPA minReplicas {lo} < 2")
        ok(f"{name}: HPA {lo}..{hi} replicas; at most {hi} x login_failure_threshold {threshold} = "
           f"{hi * threshold} refused logins reach HostedSuite per profile")
    if "replicas" in dep["spec"] and by_kind.get("HorizontalPodAutoscaler"):
        fail(f"{name}: Deployment sets spec.replicas while an HPA owns the count")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if not selects(pdb["spec"]["selector"], pod_labels):
            fail(f"{name}: PodDisruptionBudget {pdb['metadata']['name']} selects no hsgate pod")
    for np in by_kind.get("NetworkPolicy", []):
        if not selects(np["spec"]["podSelector"], pod_labels):
            fail(f"{name}: NetworkPolicy {np['metadata']['name']} selects no hsgate pod")
    if not any({"Ingress", "Egress"} <= set(np["spec"].get("policyTypes", [])) for np in by_kind.get("NetworkPolicy", [])):
        fail(f"{name}: no NetworkPolicy restricts both ingress and egress")
    ok(f"{name}: PDB and NetworkPolicies select the pods")

    if hsgate:
        hsgate_check(name, cm_data, mount_path, secret_dirs, hsgate)


def hsgate_check(name: str, cm_data: dict, config_dir: str, secret_dirs: list[str], hsgate: str) -> None:
    """`hsgate check` on the rendered config: the ConfigMap's files (hsgate.toml
    and any CA or JWKS file beside it) as mounted, secret files made up."""
    with tempfile.TemporaryDirectory(prefix="hsgate-deploy-check-") as tmp:
        Path(tmp, "config").mkdir()
        for key, value in cm_data.items():
            if key != "hsgate.toml":
                Path(tmp, "config", key).write_text(value)
        text = cm_data["hsgate.toml"].replace(config_dir.rstrip("/") + "/", f"{tmp}/config/")
        for i, d in enumerate(secret_dirs):
            text = text.replace(d, f"{tmp}/secret{i}/")
        cfg = tomllib.loads(text)
        made = []

        def walk(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if isinstance(v, str) and k.endswith("_file") and v.startswith(f"{tmp}/secret"):
                        Path(v).parent.mkdir(parents=True, exist_ok=True)
                        Path(v).write_text(os.urandom(24).hex() + "\n")
                        made.append(Path(v).name)
                    else:
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(cfg)
        others = re.findall(r'^\s*\w*file\s*=\s*"(/[^"]+)"', text, re.M)
        others = [p for p in others if not p.startswith(tmp)]
        if others:
            fail(f"{name}: hsgate.toml names files outside the Secret mount, not checkable here: {others}")
            return
        audit = cfg.get("audit", {})
        if audit.get("sink") == "file":
            text = text.replace(audit["path"], f"{tmp}/audit/audit.jsonl")
            Path(tmp, "audit").mkdir()
        conf = Path(tmp, "config", "hsgate.toml")
        conf.write_text(text)
        run = subprocess.run([hsgate, "check", "--config", str(conf)], capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"{name}: hsgate check exit {run.returncode}:\n{run.stdout}{run.stderr}")
        else:
            warnings = [line for line in (run.stdout + run.stderr).splitlines() if "warn" in line.lower()]
            ok(f"{name}: hsgate check passes (secret files {sorted(made)})"
               + (f"; warnings: {warnings}" if warnings else ""))


def cmd_manifests(args) -> None:
    schema_dir = Path(args.schemas)
    for item in args.renders:
        name, _, path = item.partition("=")
        docs = load_render(path)
        print(f"-- {name}: {len(docs)} objects")
        validate_schemas(name, docs, schema_dir)
        check_consistency(name, docs, args.hsgate)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("context")
    c.add_argument("--out", required=True)
    m = sub.add_parser("manifests")
    m.add_argument("--schemas", required=True)
    m.add_argument("--hsgate")
    m.add_argument("renders", nargs="+", metavar="NAME=FILE")
    args = ap.parse_args()
    {"context": cmd_context, "manifests": cmd_manifests}[args.cmd](args)
    if failures:
        print(f"  {len(failures)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
