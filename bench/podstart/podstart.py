#!/usr/bin/python3
"""Create N pods on a c8s cluster and time each from its create to Running.

Run by bench/podstart/run (Debian's python3-kubernetes imports only under
/usr/bin/python3). Prints one JSON object on stdout.
"""
import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from kubernetes import client, config, watch


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--image", default="c8s.test/busybox:1")
    ap.add_argument("--namespace", default="podstart")
    ap.add_argument("--node", default=None)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--sequential", action="store_true",
                    help="create each pod once the one before is Running")
    ap.add_argument("--prefix", default="ps")
    a = ap.parse_args()

    config.load_kube_config(a.kubeconfig)
    v1 = client.CoreV1Api()
    try:
        v1.create_namespace({"metadata": {"name": a.namespace}})
    except client.exceptions.ApiException as e:
        if e.status != 409:
            raise

    created, running = {}, {}
    lock = threading.Lock()
    done = threading.Event()
    names = ["%s-%d" % (a.prefix, i) for i in range(a.pods)]
    seen = {n: threading.Event() for n in names}
    ready = threading.Event()

    def watcher():
        w = watch.Watch()
        rv = v1.list_namespaced_pod(a.namespace).metadata.resource_version
        ready.set()
        for ev in w.stream(v1.list_namespaced_pod, a.namespace, resource_version=rv,
                           timeout_seconds=int(a.timeout)):
            pod = ev["object"]
            if pod.status and pod.status.phase == "Running":
                with lock:
                    if pod.metadata.name in seen and pod.metadata.name not in running:
                        running[pod.metadata.name] = time.monotonic()
                        seen[pod.metadata.name].set()
                    if len(running) >= a.pods:
                        break
            if done.is_set():
                break
        w.stop()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    ready.wait(30)

    def create(name):
        spec = {"containers": [{"name": "c", "image": a.image, "imagePullPolicy": "IfNotPresent",
                                "command": ["sleep", "3600"]}],
                "terminationGracePeriodSeconds": 1}
        if a.node:
            spec["nodeName"] = a.node
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
        t0 = time.monotonic()
        v1.create_namespaced_pod(a.namespace, body)
        with lock:
            created[name] = t0

    start = time.monotonic()
    if a.sequential:
        for n in names:
            create(n)
            if not seen[n].wait(max(0.0, start + a.timeout - time.monotonic())):
                break
    else:
        with ThreadPoolExecutor(max_workers=a.clients) as ex:
            list(ex.map(create, names))
    created_all = time.monotonic() - start
    deadline = start + a.timeout
    while time.monotonic() < deadline:
        with lock:
            if len(running) >= a.pods:
                break
        time.sleep(0.05)
    done.set()
    total = (max(running.values()) - start) if running else None
    lat = [(running[n] - created[n]) * 1000 for n in names if n in running and n in created]
    out = {
        "pods": a.pods,
        "clients": 1 if a.sequential else a.clients,
        "sequential": a.sequential,
        "running": len(running),
        "create_all_s": created_all,
        "all_running_s": total,
        "create_to_running_ms": {
            "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat) if lat else None,
            "mean": statistics.mean(lat) if lat else None,
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
