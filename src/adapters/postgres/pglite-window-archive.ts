import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { SqlWindowArchive, type SqlClient } from './sql-window-archive.js';

/**
 * The archive in process: PGlite is PostgreSQL compiled to WebAssembly, so the embedded mode runs
 * the very SQL the server runs, with no server. `dir` keeps the database on disk across restarts;
 * without it the archive lives as long as the process (like the in-memory log).
 */
export async function openPgliteArchive(o: { dir?: string }): Promise<SqlWindowArchive> {
  if (o.dir) mkdirSync(o.dir, { recursive: true });
  const db = await PGlite.create(o.dir ? { dataDir: o.dir } : {});
  const client: SqlClient = {
    query: async <T>(text: string, params?: unknown[]) => (await db.query<T>(text, params)).rows,
    exec: async (text: string) => {
      await db.exec(text);
    },
    close: () => db.close(),
  };
  const archive = new SqlWindowArchive(client);
  try {
    await archive.init();
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return archive;
}
