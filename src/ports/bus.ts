import { randomUUID } from 'node:crypto';
import type { LiveUpdate, WindowAggregate } from '../domain/types.js';

export type UpdateListener = (update: LiveUpdate) => void;

export type ReplayResult =
  /** Every update after `since`, in order (possibly none). */
  | { kind: 'replay'; updates: LiveUpdate[] }
  /** The history no longer reaches back to `since`: the client gets the latest snapshot instead. */
  | { kind: 'gap'; reason: 'history-trimmed' | 'epoch-changed'; latest: LiveUpdate | null };

/**
 * The fan-out bus port: a channel per match, a bounded per-match history and the latest snapshot,
 * plus presence (viewers per match summed over nodes). In-process adapter for embedded mode, Redis
 * for a cluster; one shared test suite runs against both.
 */
export interface FanoutBus {
  /** The id of the history seqs belong to; changes when the history is lost (e.g. a fresh Redis). */
  epoch(): Promise<string>;
  /**
   * Appends to the match's history and notifies subscribers, unless an update with this seq (or a
   * later one) was already published: dedupe by (matchId, windowStart). Returns what was published.
   */
  publish(aggregate: WindowAggregate & { seq: number }): Promise<LiveUpdate | null>;
  subscribe(matchId: string, listener: UpdateListener): Promise<void>;
  unsubscribe(matchId: string, listener: UpdateListener): Promise<void>;
  latest(matchId: string): Promise<LiveUpdate | null>;
  replay(matchId: string, since: number, epoch: string): Promise<ReplayResult>;
  /** This node's viewer count for a match (0 removes it); presence of a dead node expires. */
  setPresence(nodeId: string, matchId: string, viewers: number): Promise<void>;
  viewers(matchId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * A new epoch id: a bus whose history starts afresh (first start, or its store lost the data) names
 * it with one, so a client resuming with an older epoch is told of the gap, not replayed a mix.
 */
export function newEpoch(): string {
  return randomUUID().slice(0, 8);
}

/**
 * Shared by both adapters: which part of a history answers a resume from `since` in `epoch`.
 * Entries of another epoch (a history that outlived its epoch key) are never replayed.
 */
export function replayFrom(history: readonly LiveUpdate[], since: number, epoch?: string): ReplayResult {
  if (epoch !== undefined && history.some((u) => u.epoch !== epoch)) history = history.filter((u) => u.epoch === epoch);
  const idx = history.findIndex((u) => u.seq > since);
  if (idx === -1) return { kind: 'replay', updates: [] };
  // The first newer entry must link back to `since` (or earlier); otherwise what followed since was trimmed.
  if (idx === 0 && history[0]!.prevSeq > since) return { kind: 'gap', reason: 'history-trimmed', latest: history[history.length - 1]! };
  return { kind: 'replay', updates: history.slice(idx) };
}
