"""Checks that the deployment files agree with each other and with the
server (called by tests/deploy.rs, after the schema and lint checks):

    check_manifests.py OUT_DIR

Prints one line per failed rule and exits 1, or writes the ConfigMap's
tandem.toml to OUT_DIR for the test to start the server with.
"""

import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"


def mebibytes(size):
    """MiB in a Kubernetes quantity (512Mi, 2Gi) or a tandem size (600MiB, 2G)."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", str(size)).groups()
    scale = {"": 1 / 1048576, "Ki": 1 / 1024, "KiB": 1 / 1024, "K": 1 / 1024, "Mi": 1, "MiB": 1, "M": 1, "Gi": 1024, "GiB": 1024, "G": 1024, "MB": 1e6 / 1048576, "GB": 1e9 / 1048576}
    return float(number) * scale[unit]


def load(name):
    return yaml.safe_load((KUBE / name).read_text())


def main(out_dir):
    failures = []

    def rule(ok, message):
        if not ok:
            failures.append(message)

    config = load("configmap.yaml")
    toml_text = config["data"]["tandem.toml"]
    settings = tomllib.loads(toml_text)
    server, limits = settings.get("server", {}), settings.get("limits", {})

    deployment = load("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    port = next(p for p in container["ports"] if p["name"] == "http")["containerPort"]
    rule(port == server.get("port"), f"containerPort {port} is not tandem.toml's server.port {server.get('port')}")
    rule(server.get("host") == "0.0.0.0", "tandem.toml must listen on 0.0.0.0 in a pod (server.host)")

    ready = container["readinessProbe"]["httpGet"]["path"]
    live = container["livenessProbe"]["httpGet"]["path"]
    rule(ready == server.get("ready_path", "/ready"), f"readinessProbe path {ready} is not the server's ready_path")
    rule(live == server.get("health_path", "/health"), f"livenessProbe path {live} is not the server's health_path")
    rule(ready != live, "liveness and readiness must be different paths")

    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = limits.get("shutdown_timeout", 30)
    grace = pod["terminationGracePeriodSeconds"]
    # The server exits within the shutdown timeout plus one second.
    rule(grace > pause + drain + 1, f"terminationGracePeriodSeconds {grace} must exceed preStop {pause} s + shutdown_timeout {drain} s + 1 s")

    # Every process may grow to max_memory before it is recycled; the
    # supervisor takes about 10 MiB (benches/scaling/memory.py).
    limit = mebibytes(container["resources"]["limits"]["memory"])
    processes = server.get("processes", 1)
    if "max_memory" in limits:
        need = processes * mebibytes(limits["max_memory"]) + 64
        rule(need <= limit, f"{processes} processes x max_memory {limits['max_memory']} (+64 MiB) exceed the memory limit {limit} MiB")

    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    rule(mount["mountPath"] == "/app/tandem.toml", "tandem.toml must sit beside the entry file, /app/server.ts")

    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER (\d+)", dockerfile, re.M)
    rule(user and int(user.group(1)) == pod["securityContext"]["runAsUser"], "runAsUser is not the Dockerfile's USER")
    rule(f"EXPOSE {port}" in dockerfile, f"the Dockerfile does not EXPOSE {port}")
    rule("STOPSIGNAL SIGTERM" in dockerfile, "the Dockerfile must stop with SIGTERM")
    rule("/ready" in dockerfile.split("HEALTHCHECK", 1)[-1], "the Dockerfile's HEALTHCHECK must probe /ready")

    service = load("service.yaml")
    rule(service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"], "the Service does not select the Deployment's pods")
    rule(service["spec"]["ports"][0]["targetPort"] == "http", "the Service must target the container's http port")
    for name in ("hpa.yaml", "pdb.yaml"):
        manifest = load(name)
        if manifest["kind"] == "HorizontalPodAutoscaler":
            rule(manifest["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"], "the HPA scales another Deployment")
        else:
            rule(manifest["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"], "the PDB selects other pods")

    listed = set(yaml.safe_load((KUBE / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    rule(listed == present, f"kustomization.yaml lists {sorted(listed)}, the folder holds {sorted(present)}")

    if failures:
        print("\n".join(failures))
        return 1
    pathlib.Path(out_dir, "tandem.toml").write_text(toml_text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
