import type { AggregatorSnapshot, LoadedState } from '../ports/window-state-store.js';

/**
 * Where a partition's aggregation resumes, decided from its changelog and (when it answers) the
 * group's committed offset.
 *
 * The changelog is the authority: each snapshot names the input offset it counted up to, and both
 * were committed in one transaction, so a committed snapshot and its offset are always a
 * consistent pair. The one danger is resuming from a snapshot older than the last commit (its
 * reactions would count twice): the newer commit's snapshot is not visible yet. Two facts rule that
 * out, either one enough:
 * - the group's committed offset (a stable fetch: it waits for any pending transactional commit)
 *   is not past the snapshot;
 * - the changelog partition holds no open transaction: the transactional producer writes the
 *   snapshot before it sends the offsets, so a commit still pending in the group coordinator
 *   always has its snapshot pending in the changelog.
 * The second lets a partition resume when the group coordinator keeps answering "unstable" for a
 * commit no transaction will ever end (a broker-side hang seen after outages: the fetch then times
 * out for good, and an aggregator that waited for it never emitted a window again).
 */
export type ResumeVerdict =
  | { resume: true; snapshot: AggregatorSnapshot | null; offset: number; basis: ResumeBasis }
  | { resume: false; waitFor: WaitReason };

/**
 * - agreed: the snapshot names the committed offset;
 * - changelog: the group's offset did not answer in time, the changelog has no open transaction;
 * - changelog-ahead: another commit of this partition is visible in the changelog before the
 *   group's offsets show it (or this member's assignment is stale: its transactions are fenced);
 * - committed: a snapshot of an older version, without its offset: the committed offset is taken.
 */
export type ResumeBasis = 'agreed' | 'changelog' | 'changelog-ahead' | 'committed';

/**
 * - changelog-behind: the group's offset is past the snapshot: the last commit's snapshot is not
 *   visible yet;
 * - open-transaction: no committed offset to compare with, and a transaction is open on the
 *   changelog;
 * - committed-offset: a snapshot without its offset, and the group's offset did not answer.
 */
export type WaitReason = 'changelog-behind' | 'open-transaction' | 'committed-offset';

/** `committed`: the group's offset (-1: none), undefined when it did not answer within its bound. */
export function resumeVerdict(state: LoadedState, committed: number | undefined): ResumeVerdict {
  const s = state.snapshot;
  if (s && s.offset === undefined) {
    return committed === undefined ? { resume: false, waitFor: 'committed-offset' } : { resume: true, snapshot: s, offset: committed, basis: 'committed' };
  }
  // Nothing committed yet reads as offset -1: the start of the partition.
  const has = s?.offset ?? -1;
  if (committed !== undefined) {
    if (has === committed || (!s && committed <= 0)) return { resume: true, snapshot: s, offset: committed, basis: 'agreed' };
    if (has > committed) return { resume: true, snapshot: s, offset: has, basis: 'changelog-ahead' };
    return { resume: false, waitFor: 'changelog-behind' };
  }
  if (state.openTransaction) return { resume: false, waitFor: 'open-transaction' };
  return { resume: true, snapshot: s, offset: has, basis: 'changelog' };
}
