"""torch.distributed (gloo) collective benchmark, measured the way `multirank bench` measures.

For each size every rank times each iteration of the collective (time.perf_counter around the call,
after `warmup` untimed calls); the per-iteration times are all-reduced with MAX (the slowest rank) and
rank 0 prints the median (and min, max, p99) as one JSON line per size. Sizes and counts follow
nccl-tests; data are float32 (sum); one checked call on integer-valued data counts wrong elements.

    /usr/bin/python3 gloo-bench.py OP RANKS MINBYTES MAXBYTES FACTOR ITERS WARMUP

Ranks are processes forked from this one (torch is imported once), rendezvous over TCP on 127.0.0.1.
gloo in torch 1.13 has no reduce_scatter: that op prints nothing.
"""
import json
import multiprocessing as mp
import socket
import sys
import time

import torch
import torch.distributed as dist

OPS = ('allReduce', 'allGather', 'reduceScatter', 'broadcast', 'reduce', 'allToAll', 'sendRecv', 'barrier')


def value(rank, n, offset=0):
    """Integer-valued input of `rank` for elements offset..offset+n (as mpi-bench.c)."""
    i = torch.arange(offset, offset + n, dtype=torch.int64)
    return (((rank * 7) + (i % 251)) % 13 - 6).to(torch.float32)


def counts(op, nbytes, ranks):
    count = nbytes // 4
    chunk = count // ranks
    if op == 'allGather':
        return chunk, chunk * ranks, chunk
    if op in ('reduceScatter', 'allToAll'):
        return chunk * ranks, chunk * ranks if op == 'allToAll' else chunk, chunk
    if op == 'barrier':
        return 0, 0, 0
    return count, count, count


class Bench:
    def __init__(self, op, rank, ranks, send, recv):
        self.op, self.rank, self.ranks = op, rank, ranks
        self.input = value(rank, send)
        self.output = torch.zeros(recv)
        chunk = send // ranks if ranks else 0
        self.gathered = list(self.output.split(send)) if op == 'allGather' and send > 0 else [torch.zeros(0) for _ in range(ranks)]
        self.chunk = chunk

    def run(self):
        op, n = self.op, self.ranks
        if op == 'allReduce':
            dist.all_reduce(self.input)  # in place, as gloo offers it
        elif op == 'allGather':
            dist.all_gather(self.gathered, self.input)
        elif op == 'broadcast':
            dist.broadcast(self.input, src=0)
        elif op == 'reduce':
            dist.reduce(self.input, dst=0)
        elif op == 'allToAll':
            dist.all_to_all_single(self.output, self.input)
        elif op == 'sendRecv':
            req = dist.isend(self.input, dst=(self.rank + 1) % n)
            dist.recv(self.output, src=(self.rank - 1) % n)
            req.wait()
        else:
            dist.barrier()

    def check(self):
        """One call on fresh data; returns this rank's wrong elements."""
        op, n, rank = self.op, self.ranks, self.rank
        if op == 'barrier':
            return 0
        self.input.copy_(value(rank, self.input.numel()))
        self.run()
        total = sum(value(r, self.input.numel()) for r in range(n))
        if op == 'allReduce':
            result, expected = self.input, total
        elif op == 'reduce':
            if rank != 0:
                return 0
            result, expected = self.input, total
        elif op == 'allGather':
            result, expected = torch.cat(self.gathered), torch.cat([value(r, self.input.numel()) for r in range(n)])
        elif op == 'broadcast':
            result, expected = self.input, value(0, self.input.numel())
        elif op == 'allToAll':
            c = self.chunk
            result, expected = self.output, torch.cat([value(r, c, rank * c) for r in range(n)]) if c else self.output
        else:
            result, expected = self.output, value((rank - 1) % n, self.output.numel())
        return int((result != expected).sum())


def measure(bench, iters, warmup):
    for _ in range(warmup):
        bench.run()
    times = torch.zeros(iters, dtype=torch.float64)
    for i in range(iters):
        start = time.perf_counter()
        bench.run()
        times[i] = (time.perf_counter() - start) * 1e6
    dist.all_reduce(times, op=dist.ReduceOp.MAX)
    wrong = torch.tensor([bench.check()], dtype=torch.int64)
    dist.all_reduce(wrong)
    return sorted(times.tolist()), int(wrong[0])


def rank_main(rank, args, port):
    op, ranks, min_bytes, max_bytes, factor, iters, warmup = args
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=ranks)
    nbytes = min_bytes
    while nbytes <= max_bytes:
        send, recv, param = counts(op, nbytes, ranks)
        if send == 0 and recv == 0 and op != 'barrier':
            nbytes *= factor  # gloo divides by the element count of empty collectives (SIGFPE): no row
            continue
        slowest, wrong = measure(Bench(op, rank, ranks, send, recv), iters, warmup)
        if rank == 0:
            mid = len(slowest) // 2
            median = slowest[mid] if len(slowest) % 2 else (slowest[mid - 1] + slowest[mid]) / 2
            p99 = slowest[min(len(slowest) - 1, max(0, (len(slowest) * 99 + 99) // 100 - 1))]
            print(json.dumps({'impl': 'gloo', 'op': op, 'ranks': ranks, 'size': max(send, recv) * 4, 'count': param,
                              'time_us': median, 'min_us': slowest[0], 'max_us': slowest[-1], 'p99_us': p99, 'nwrong': wrong}), flush=True)
        if op == 'barrier':
            break
        nbytes *= factor
    dist.destroy_process_group()


def main():
    if len(sys.argv) != 8 or sys.argv[1] not in OPS:
        sys.exit(f'usage: gloo-bench.py OP RANKS MINBYTES MAXBYTES FACTOR ITERS WARMUP (OP: {", ".join(OPS)})')
    op = sys.argv[1]
    ranks, min_bytes, max_bytes, factor, iters, warmup = (int(a) for a in sys.argv[2:])
    if op == 'reduceScatter':
        return  # not supported by ProcessGroupGloo in torch 1.13
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('fork')
    procs = [ctx.Process(target=rank_main, args=(r, (op, ranks, min_bytes, max_bytes, factor, iters, warmup), port)) for r in range(ranks)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        sys.exit(f'gloo-bench: {len(bad)} rank(s) failed (exit codes {bad})')


if __name__ == '__main__':
    main()
