#!/usr/bin/env python3
"""Service proxy benchmark (not a test): prints numbers and merges them
into bench/results/net.json under "proxy".

1. Full ruleset apply for N Services x E endpoints (`c8s proxy-apply` in a
   lab network namespace; median of a few runs, each replacing the table).
2. With a real API server holding the same N Services and EndpointSlices
   and the informer-driven proxy (`c8s proxy-apply --kubeconfig`) applying
   rules in the lab namespace: the time from an EndpointSlice PATCH being
   sent to the new endpoint's DNAT rule being in the kernel (seen by
   `nft monitor`), several times.

Everything runs in a network namespace this script creates and deletes;
the host's ruleset is never touched.

usage: proxy_bench.py [--c8s PATH] [--services N] [--endpoints E] [--changes K]
"""
import argparse
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gen_model  # noqa: E402

TABLE = "c8sbench"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Api:
    def __init__(self, port, tls_dir):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(os.path.join(tls_dir, "admin.crt"), os.path.join(tls_dir, "admin.key"))
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)

    def do(self, method, path, body=None, ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers={"Content-Type": ctype})
        r = self.conn.getresponse()
        out = r.read()
        if r.status >= 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, out[:300]))
        return json.loads(out) if out else None


def median(v):
    return round(statistics.median(v), 1) if v else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--c8s", default=os.path.join(ROOT, "c8s"))
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--full-runs", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("proxy_bench: needs root (network namespaces, nftables)")

    tmp = tempfile.mkdtemp(prefix="c8s-pxbench-")
    ns = "c8s-lab-pxbench-%d" % os.getpid()
    procs = []
    results = {"services": a.services, "endpoints_per_service": a.endpoints}
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        model_path = os.path.join(tmp, "model.json")
        model = gen_model.model(a.services, a.endpoints)
        with open(model_path, "w") as f:
            json.dump(model, f)

        # 1. full apply
        full = []
        size = 0
        for _ in range(a.full_runs):
            p = subprocess.run(["ip", "netns", "exec", ns, a.c8s, "proxy-apply", "--table", TABLE,
                                model_path], capture_output=True, text=True, check=True)
            m = re.search(r"full sync: (\d+) bytes applied in ([\d.]+) ms", p.stderr)
            size = int(m.group(1))
            full.append(float(m.group(2)))
        results["full_apply_ms"] = median(full)
        results["full_apply_runs_ms"] = full
        results["ruleset_bytes"] = size
        print("full apply, %d services x %d endpoints (%d bytes of nft commands): median %.1f ms %s"
              % (a.services, a.endpoints, size, results["full_apply_ms"], full))
        subprocess.run(["ip", "netns", "exec", ns, a.c8s, "proxy-apply", "--table", TABLE,
                        "--delete"], check=True, capture_output=True)

        # 2. API server + informer-driven proxy
        port = free_port()
        data = os.path.join(tmp, "data")
        srv = subprocess.Popen([a.c8s, "server", "--data-dir", data, "--bind-address", "127.0.0.1",
                                "--secure-port", str(port), "--disable-scheduler",
                                "--disable-controller-manager"],
                               stdout=open(os.path.join(tmp, "server.log"), "w"),
                               stderr=subprocess.STDOUT)
        procs.append(srv)
        kubeconfig = os.path.join(data, "admin.kubeconfig")
        deadline = time.time() + 60
        api = None
        while time.time() < deadline:
            try:
                if os.path.exists(kubeconfig):
                    api = Api(port, os.path.join(data, "tls"))
                    api.conn.request("GET", "/readyz")
                    r = api.conn.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                    api = None
            except Exception:
                api = None
            time.sleep(0.2)
        if not api:
            raise RuntimeError("server did not start")
        api.do("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "bench"}})
        t0 = time.time()
        for it in model["items"]:
            it = dict(it)
            if it["kind"] == "Service":
                it["apiVersion"] = "v1"
                spec = dict(it["spec"])
                spec.pop("clusterIP")  # let the server allocate
                it["spec"] = spec
                api.do("POST", "/api/v1/namespaces/bench/services", it)
            else:
                it["apiVersion"] = "discovery.k8s.io/v1"
                api.do("POST", "/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices", it)
        print("created %d objects in %.1f s" % (len(model["items"]), time.time() - t0))

        # the kernel's view, as rules are added
        mon = subprocess.Popen(["ip", "netns", "exec", ns, "nft", "monitor", "rules"],
                               stdout=subprocess.PIPE, text=True, bufsize=1)
        procs.append(mon)
        lines = queue.Queue()

        def reader():
            for line in mon.stdout:
                lines.put((time.monotonic(), line))

        threading.Thread(target=reader, daemon=True).start()

        plog = os.path.join(tmp, "proxy.log")
        t_start = time.monotonic()
        proxy = subprocess.Popen([a.c8s, "proxy-apply", "--kubeconfig", kubeconfig, "--netns",
                                  "/run/netns/" + ns, "--table", TABLE, "--node-name", "n0",
                                  "--cleanup", "-v", "3"],
                                 stdout=open(plog, "w"), stderr=subprocess.STDOUT)
        procs.append(proxy)
        deadline = time.time() + 120
        full_line = None
        while time.time() < deadline and not full_line:
            with open(plog) as f:
                full_line = next((l for l in f if "full sync" in l), None)
            time.sleep(0.05)
        if not full_line:
            raise RuntimeError("proxy did not sync; log in " + plog)
        results["proxy_start_to_synced_ms"] = round((time.monotonic() - t_start) * 1000, 1)
        m = re.search(r"([\d.]+) ms", full_line)
        results["proxy_full_sync_apply_ms"] = float(m.group(1))
        print("proxy: started to first full sync applied in %.0f ms (apply %.1f ms)"
              % (results["proxy_start_to_synced_ms"], results["proxy_full_sync_apply_ms"]))
        time.sleep(1)
        while not lines.empty():
            lines.get()

        lat = []
        for k in range(a.changes):
            i = (k * 97) % a.services
            ip = "10.42.%d.%d" % (i % 250, 200 + k % 50)
            patch = [{"op": "replace", "path": "/endpoints/0/addresses/0", "value": ip}]
            want = re.compile(r"\b%s(:| \. )8080\b" % re.escape(ip))
            t0 = time.monotonic()
            api.do("PATCH", "/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/svc-%d-abc" % i,
                   patch, "application/json-patch+json")
            got = None
            while got is None:
                ts, line = lines.get(timeout=30)
                if want.search(line):
                    got = ts
            lat.append((got - t0) * 1000)
            time.sleep(0.2)
        lat = [round(x, 1) for x in lat]
        results["endpoint_change_to_live_ms"] = {"median": median(lat), "max": max(lat),
                                                 "runs": lat}
        print("endpoint change -> rule live (PATCH sent -> rule seen by nft monitor): "
              "median %.1f ms, max %.1f ms %s" % (median(lat), max(lat), lat))
        with open(plog) as f:
            partial = [float(x) for x in re.findall(r"partial sync.*?([\d.]+) ms\n", f.read())]
        if partial:
            results["partial_sync_apply_ms"] = {"median": median(partial), "max": max(partial)}
            print("partial sync apply (libnftables transaction): median %.1f ms, max %.1f ms"
                  % (median(partial), max(partial)))
        try:
            results["loadavg"] = os.getloadavg()[0]
        except OSError:
            pass
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    out = os.path.join(ROOT, "bench", "results", "net.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    doc = {}
    if os.path.exists(out):
        try:
            with open(out) as f:
                doc = json.load(f)
        except ValueError:
            doc = {}
    doc["proxy"] = results
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
