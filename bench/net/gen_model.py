#!/usr/bin/env python3
"""Write a service proxy model (a JSON List of Services and EndpointSlices)
for `c8s proxy-apply`: N Services of E endpoints each.

usage: gen_model.py N E OUT [--change K]   (--change: Service 0 gets K as
the last octet of its first endpoint, for an endpoint-change measurement)
"""
import json
import sys


def model(n, e, change=None):
    items = []
    for i in range(n):
        name = "svc-%d" % i
        items.append({
            "kind": "Service",
            "metadata": {"namespace": "bench", "name": name},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.43.%d.%d" % (1 + i // 250, 1 + i % 250),
                "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                           "nodePort": 30000 + i}],
            },
        })
        eps = []
        for j in range(e):
            last = 1 + j
            if change is not None and i == 0 and j == 0:
                last = change
            eps.append({"addresses": ["10.42.%d.%d" % (i % 250, last)],
                        "conditions": {"ready": True}, "nodeName": "n%d" % (j % 3)})
        items.append({
            "kind": "EndpointSlice",
            "metadata": {"namespace": "bench", "name": name + "-abc",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": eps,
        })
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main():
    args = sys.argv[1:]
    change = None
    if "--change" in args:
        k = args.index("--change")
        change = int(args[k + 1])
        del args[k:k + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    n, e, out = int(args[0]), int(args[1]), args[2]
    with open(out, "w") as f:
        json.dump(model(n, e, change), f)


if __name__ == "__main__":
    main()
