// Fault: the Redis primary is kill -9'd with reactions flowing and live clients connected; the
// Sentinels promote the replica and the publisher and fan-out nodes follow them to it.
import { afterAll, describe, expect, it } from 'vitest';
import { closeAll, infra, kill9, printRow, sleep, startFlow, startPipeline, verify, waitFor } from './harness.js';

afterAll(async () => {
  await closeAll();
  // The killed node comes back as a replica of the new primary: the group is whole again.
  infra('redis-ha', 'start');
});

describe('cluster: the Redis primary dies (primary + replica + 3 Sentinels)', () => {
  it('fails over to the replica; fan-out resumes; every client sees every window once, at most one documented gap', async () => {
    const pipeline = await startPipeline();
    const { viewers, load, t0 } = await startFlow(pipeline, { batchSize: 40, everyMs: 50 });
    const { windowMs } = pipeline.config.aggregation;

    const primary = infra('redis-ha', 'primary');
    const name = infra('redis-ha', 'name-of', primary.split(':')[1]!);
    const killedAt = Date.now();
    await kill9(Number(infra('redis-ha', 'pid', name)));
    await waitFor('a Sentinel names a new primary', () => {
      try {
        return infra('redis-ha', 'primary') !== primary;
      } catch {
        return false;
      }
    }, 60_000);
    const failedOverAt = Date.now();
    // Fan-out resumes: every client gets an update of a window that started after the failover.
    await waitFor('updates after the failover at every client', () => [...viewers.got.values()].every((l) => l.some((r) => r.msg.windowStart > failedOverAt)), 90_000).catch((err: unknown) => {
      const p = pipeline.publisher;
      console.error(`publisher ${p.child.exitCode === null ? 'alive' : `exited ${p.child.exitCode}`}:\n${p.output().slice(-4000)}`);
      for (const f of pipeline.fanouts) console.error(`fanout:\n${f.output().slice(-1500)}`);
      throw err;
    });
    const resumedAt = Date.now();
    await sleep(8000);
    await load.stop();
    const lastWindowEnd = Math.floor(Date.now() / windowMs) * windowMs;
    await waitFor('the last windows at every client', () => [...viewers.got.values()].every((l) => l.some((r) => r.msg.windowStart + windowMs >= lastWindowEnd)), 30_000).catch(() => undefined);
    await sleep(2000);

    const gaps = [...viewers.gaps.values()].flat();
    const verdict = verify(load, viewers, windowMs, { from: t0, until: lastWindowEnd, allowGaps: 1 });
    printRow({
      fault: `Redis primary ${name} (${primary}) kill -9; Sentinel failover in ${((failedOverAt - killedAt) / 1000).toFixed(1)} s`,
      'no updates (s)': (viewers.longestSilence(killedAt - 1000, resumedAt + 1000) / 1000).toFixed(1),
      'acked during fault': load.acknowledged(killedAt, resumedAt),
      'non-202 answers': load.batches.filter((b) => b.status !== 202).reduce((n, b) => n + b.reactions.length, 0),
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      windows: verdict.windowsChecked,
    });
    console.log(`[cluster] gap messages at the clients: ${JSON.stringify(gaps)}; publisher alive: ${pipeline.publisher.child.exitCode === null}`);
    if (verdict.problems.length > 0) {
      console.error(verdict.problems.slice(0, 20).join('\n'));
      console.error(`publisher:\n${pipeline.publisher.output().slice(-3000)}`);
    }
    expect(pipeline.publisher.child.exitCode).toBeNull();
    expect(verdict.windowsChecked).toBeGreaterThan(50);
    expect(verdict.problems).toEqual([]);
    expect(verdict.lost).toBe(0);
    expect(verdict.duplicated).toBe(0);
  });
});
