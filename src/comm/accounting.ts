/**
 * nccl-tests' size of a call, from the input's bytes: the larger of what a rank sends and receives
 * (allGather and gather: the gathered output; the others: the input). Traces report it, so that a trace
 * slice and a `multirank bench` row of the same call show the same size (src/bench/ops.ts counts rows
 * the same way; a test holds the two together).
 */
export function ncclTestsBytes(op: string, inputBytes: number, worldSize: number): number {
  switch (op) {
    case 'allGather':
    case 'gather':
      return inputBytes * worldSize;
    case 'barrier':
      return 0;
    default:
      return inputBytes;
  }
}
