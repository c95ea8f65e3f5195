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

/** One closed window of one match (aggregate.avsc); identical whichever aggregator computed it. */
export interface WindowAggregate {
  matchId: string;
  windowStart: number;
  windowEnd: number;
  counts: Record<string, number>;
  units: Record<string, number>;
  total: number;
  sentiment: number;
}

/** A window aggregate as the fan-out delivers it: ordered by seq within an epoch of history. */
export interface LiveUpdate extends WindowAggregate {
  /** windowStart / windowMs: the same whoever computes it. */
  seq: number;
  /** seq of the previous update published for this match in this epoch (-1 when none): lets a reader tell a quiet window from a missed one. */
  prevSeq: number;
  epoch: string;
}
