/** The matrix cases a vendor library (NCCL, HCCL) can run: no complex dtypes, no bitwise reduce ops. */
import type { CaseSpec } from '../comm/data.js';

export function vendorCase(spec: CaseSpec): boolean {
  return !spec.dtype.startsWith('complex') && (spec.op === undefined || !['band', 'bor', 'bxor'].includes(spec.op));
}
