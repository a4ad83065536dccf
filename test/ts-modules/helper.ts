export enum Scale {
  Single = 1,
  Double = 2,
}

export function scaled(value: number, scale: Scale): number {
  return value * (scale as number);
}
