"""torch's side of bench/store.ts (Debian's python3-torch, or any torch).

server:               torch's TCPStore server on a free port; prints {"port", "version"}; runs until stdin closes.
rtt PORT N ROUNDS:    set + get of a small value, N times per round; prints the mean per round in us.
load PORT SECONDS TAG: adds 1 to "ready/TAG", waits for "go/TAG", then add()s for SECONDS; prints the count.
"""
import datetime
import json
import sys
import time

import torch
import torch.distributed as dist

T = datetime.timedelta(seconds=60)


def connect(port):
    return dist.TCPStore("127.0.0.1", port, None, False, timeout=T, wait_for_workers=False)


if sys.argv[1] == "server":
    s = dist.TCPStore("127.0.0.1", 0, None, True, timeout=T, wait_for_workers=False)
    print(json.dumps({"port": s.port, "version": torch.__version__}), flush=True)
    sys.stdin.read()
elif sys.argv[1] == "rtt":
    s = connect(int(sys.argv[2]))
    n, rounds = int(sys.argv[3]), int(sys.argv[4])
    for _ in range(n // 10):
        s.set("rtt", b"v"); s.get("rtt")
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            s.set("rtt", b"v"); s.get("rtt")
        out.append((time.perf_counter() - start) / n * 1e6)
    print(json.dumps(out), flush=True)
else:
    s = connect(int(sys.argv[2]))
    seconds, tag = float(sys.argv[3]), sys.argv[4]
    s.add("ready/" + tag, 1)
    s.wait(["go/" + tag])
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        s.add("load", 1)
        count += 1
    print(json.dumps(count), flush=True)
