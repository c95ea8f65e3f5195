import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/roles/lifecycle.js';
import { silentLogger } from '../../helpers/fixtures.js';

describe('Lifecycle', () => {
  it('closes by phase in the stated order whatever the order things were opened in; last opened first within a phase', async () => {
    const closed: string[] = [];
    const l = new Lifecycle(silentLogger);
    const add = (phase: Parameters<Lifecycle['add']>[0], name: string) => l.add(phase, async () => void closed.push(name));
    // The order startRole opens things in: adapters first, HTTP after the producer, the runners last.
    add('adapters', 'log');
    add('adapters', 'registry');
    add('adapters', 'bus');
    add('ingest', 'producer');
    add('aggregator', 'aggregator');
    add('publisher', 'publisher');
    add('http', 'app');
    await l.close();
    expect(closed).toEqual(['app', 'producer', 'aggregator', 'publisher', 'bus', 'registry', 'log']);
  });

  it('a failing close does not keep the rest open; a second close waits for the first and closes nothing twice', async () => {
    const closed: string[] = [];
    const l = new Lifecycle(silentLogger);
    l.add('adapters', async () => void closed.push('log'));
    l.add('http', async () => {
      throw new Error('boom');
    });
    await Promise.all([l.close(), l.close()]);
    await l.close();
    expect(closed).toEqual(['log']);
  });
});
