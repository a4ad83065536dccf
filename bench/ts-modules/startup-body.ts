// The TypeScript twin of bench/return-body.ts, for bench/ts-startup.ts: it imports the package and returns.
import { tensor, type RankInfo, type Tensor } from 'multirank';

export default function main({ rank }: RankInfo): number {
  const t: Tensor = tensor([rank]);
  return t.numel;
}
