"""torch's TCPStore on the other side of multirank's, for test/store/torch-interop.test.ts.

client PORT: torch's client against multirank's server (joins with world_size=2), prints JSON results.
server:      torch's server on a free port (prints it), waits for multirank's client to set "node_done",
             then prints what the client left in the store as JSON.
Works with torch 1.13 (Debian's python3-torch) and 2.x; methods 1.13 lacks are skipped.
"""
import datetime
import json
import sys
import time

import torch
import torch.distributed as dist

T = datetime.timedelta


def text(b):
    return b.decode("utf-8") if isinstance(b, bytes) else b


def client(port):
    s = dist.TCPStore("127.0.0.1", port, 2, False, timeout=T(seconds=20))
    out = {"version": torch.__version__}
    out["from_node"] = text(s.get("from_node"))
    s.set("from_torch", b"py")
    s.set("binary", bytes([0, 255, 7]))
    out["add"] = [s.add("cnt", 5), s.add("cnt", -1)]
    out["cas"] = [text(s.compare_set("cas", b"", b"first")), text(s.compare_set("cas", b"nope", b"x"))]
    out["delete"] = [s.delete_key("gone"), s.delete_key("gone")]
    out["num_keys"] = s.num_keys()
    s.set("py_waiting", b"1")
    s.wait(["late"], T(seconds=20))
    out["late"] = text(s.get("late"))
    if hasattr(s, "check"):
        out["check"] = [s.check(["from_node"]), s.check(["nope"])]
    if hasattr(s, "multi_get"):
        s.append("ap", b"x")
        s.append("ap", b"y")
        s.multi_set(["m1", "m2"], [b"1", b"2"])
        out["multi"] = [text(v) for v in s.multi_get(["m1", "m2", "ap"])]
    start = time.monotonic()
    try:
        s.wait(["never"], T(milliseconds=300))
        out["timeout"] = "no error"
    except Exception as e:  # torch 1.13: RuntimeError "Socket Timeout"; 2.x: DistStoreError naming the keys
        out["timeout"] = [type(e).__name__, round((time.monotonic() - start) * 1000)]
    print(json.dumps(out), flush=True)


def server():
    s = dist.TCPStore("127.0.0.1", 0, None, True, timeout=T(seconds=30), wait_for_workers=False)
    print(json.dumps({"port": s.port, "version": torch.__version__}), flush=True)
    s.set("from_torch", b"hello node")
    s.set("gone", b"x")
    s.wait(["node_done"], T(seconds=30))
    out = {k: text(s.get(k)) for k in ["from_node", "cnt", "cas", "ap", "m1", "m2"]}
    out["num_keys"] = s.num_keys()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    client(int(sys.argv[2])) if sys.argv[1] == "client" else server()
