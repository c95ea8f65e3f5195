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

/** What schemas/aggregation.json holds: the rules, and the ingest's ack margin that the rules bound. */
export interface AggregationFile extends AggregationRules {
  /** ACK_CLOSE_MARGIN_MS's default: how long before its window closes a reaction must be in the log to be acknowledged. */
  ackCloseMarginMs: number;
}

/**
 * The file's values, the only statement of these defaults: a value the file lacks comes back NaN,
 * which loadConfig reports (unless the environment sets it), rather than a second default here.
 */
export function loadAggregationDefaults(file = path.join(schemasDir(), 'aggregation.json')): AggregationFile {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<keyof AggregationFile, unknown>>;
  return {
    windowMs: Number(raw.windowMs),
    graceMs: Number(raw.graceMs),
    unitScale: Number(raw.unitScale),
    topN: Number(raw.topN),
    tsToleranceMs: Number(raw.tsToleranceMs),
    ackCloseMarginMs: Number(raw.ackCloseMarginMs),
  };
}
