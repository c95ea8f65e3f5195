import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPgliteArchive } from '../../src/adapters/postgres/pglite-window-archive.js';
import { archiveContract, win } from './archive-suite.js';

let n = 0;
archiveContract('pglite', { open: () => openPgliteArchive({}), match: (p) => `${p}-${n++}` });

describe('PGlite archive on disk', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'emo-pglite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps a match's rows across a restart of the process's archive", async () => {
    const a = await openPgliteArchive({ dir });
    const ws = [win('m', 0, { '🔥': 1 }), win('m', 1, { '😂': 2 })];
    await a.upsert(ws);
    await a.close();
    const b = await openPgliteArchive({ dir });
    expect(await b.windows('m', 0, 10)).toEqual(ws);
    await b.close();
  });
});
