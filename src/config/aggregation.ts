import { readFileSync } from 'node:fs';
import path from 'node:path';
import { schemasDir } from '../domain/schemas-dir.js';

/** Window and compression rules; schemas/aggregation.json holds the defaults both aggregators read. */
export interface AggregationRules {
  windowMs: number;
  graceMs: number;
  unitScale: number;
  topN: number;
  /** How far behind receivedAt a client's ts may lie and still place the reaction (see eventTimeOf). */
  tsToleranceMs: number;
}

export function loadAggregationDefaults(file = path.join(schemasDir(), 'aggregation.json')): AggregationRules {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<AggregationRules>;
  return {
    windowMs: Number(raw.windowMs ?? 2000),
    graceMs: Number(raw.graceMs ?? 500),
    unitScale: Number(raw.unitScale ?? 1000),
    topN: Number(raw.topN ?? 8),
    tsToleranceMs: Number(raw.tsToleranceMs ?? 250),
  };
}
