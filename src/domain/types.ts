/** What a matchId or userId may look like (ingest body and the live route's query alike). */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]*$';

/** A reaction as it travels the log (reaction.avsc). */
export interface Reaction {
  matchId: string;
  userId: string;
  emoji: string;
  /** Event time, ms since the Unix epoch. */
  ts: number;
  /** When the API node accepted it. */
  receivedAt: number;
}

// A closed window (aggregate.avsc) and the same as the fan-out delivers it (seq, prevSeq, epoch) are
// what the client SDK's users read off the wire: defined once, in the wire contract (src/wire), which
// the SDK builds from too.
export type { LiveWindow as LiveUpdate, WindowAggregate } from '../wire/types.js';

/**
 * How the API writes reactions to the reactions topic: `single`, one record per reaction
 * (reaction.avsc); `packed`, one record per request and match (reaction-batch.avsc), so the log's
 * per-record costs (produce call, delivery report, consumer message, decode) are paid per batch.
 * Readers take both, told apart by the record's schema id (src/codec/reaction-codec.ts).
 */
export type ReactionsFormat = 'single' | 'packed';
export const REACTIONS_FORMATS: readonly ReactionsFormat[] = ['single', 'packed'];
