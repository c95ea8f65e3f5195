import { describe, expect, it } from 'vitest';
import { resumeVerdict } from '../../src/aggregate/resume-point.js';
import type { AggregatorSnapshot } from '../../src/ports/window-state-store.js';

const at = (offset: number | undefined): AggregatorSnapshot => ({ streamTime: 1, ...(offset === undefined ? {} : { offset }), matches: [] });
const state = (snapshot: AggregatorSnapshot | null, openTransaction = false) => ({ snapshot, openTransaction });

describe('resumeVerdict: where a partition resumes', () => {
  it('resumes where the snapshot and the group offset agree, open transaction or not', () => {
    expect(resumeVerdict(state(at(40), true), 40)).toMatchObject({ resume: true, offset: 40, basis: 'agreed' });
    expect(resumeVerdict(state(null), -1)).toMatchObject({ resume: true, offset: -1, basis: 'agreed', snapshot: null });
  });

  it('waits while the group offset is past the snapshot (the last commit not visible in the changelog yet)', () => {
    expect(resumeVerdict(state(at(40)), 55)).toEqual({ resume: false, waitFor: 'changelog-behind' });
    expect(resumeVerdict(state(null), 55)).toEqual({ resume: false, waitFor: 'changelog-behind' });
  });

  it('resumes from a snapshot ahead of the group offset at the snapshot, never at the older offset (that would count twice)', () => {
    expect(resumeVerdict(state(at(55)), 40)).toMatchObject({ resume: true, offset: 55, basis: 'changelog-ahead' });
  });

  it('without the group offset: the changelog decides when no transaction is open on it, and waits while one is', () => {
    expect(resumeVerdict(state(at(40)), undefined)).toMatchObject({ resume: true, offset: 40, basis: 'changelog' });
    expect(resumeVerdict(state(null), undefined)).toMatchObject({ resume: true, offset: -1, basis: 'changelog' });
    expect(resumeVerdict(state(at(40), true), undefined)).toEqual({ resume: false, waitFor: 'open-transaction' });
  });

  it('a snapshot of an older version (no offset) needs the group offset', () => {
    expect(resumeVerdict(state(at(undefined)), 12)).toMatchObject({ resume: true, offset: 12, basis: 'committed' });
    expect(resumeVerdict(state(at(undefined)), undefined)).toEqual({ resume: false, waitFor: 'committed-offset' });
  });
});
