export class BurstDetector {
  constructor(o?: { history?: number; ratio?: number; minTotal?: number; minHistory?: number; cooldown?: number });
  readonly recent: number[];
  mean(): number;
  push(total: number, isSnapshot?: boolean): { burst: boolean; ratio: number; mean: number };
}
export function burstSprites(ratio: number, cap: number): number;
