import { describe, expect, it } from 'vitest';
import { Backoff, StageLoop } from '../../src/stage/stage-loop.js';
import { StageProgress } from '../../src/stage/stage-progress.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { sleepOn } from '../../src/ports/clock.js';
import { silentLogger } from '../../helpers/fixtures.js';

describe('Backoff', () => {
  it('doubles up to its maximum, each delay between half and all of its step; reset starts over', () => {
    const low = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff(100, 1000, () => 0.999999);
    expect(high.next()).toBeCloseTo(100, 3);
    expect(high.next()).toBeCloseTo(200, 3);
    high.reset();
    expect(high.next()).toBeCloseTo(100, 3);
  });
});

describe('StageLoop', () => {
  const T = 1_000_000;
  // Deterministic backoff: 50, 100, 200, 200... ms.
  const loopWith = (clock: ManualClock, giveUpMs: number, progress?: StageProgress) =>
    new StageLoop({ stage: 'test', dependency: 'kafka', giveUpMs, logger: silentLogger, backoff: new Backoff(100, 400, () => 0), clock, ...(progress ? { progress } : {}) });

  it('gives up with EMO_ERR_LOG_UNAVAILABLE, naming the stage and the last error, once failures outlast giveUpMs', async () => {
    const clock = new ManualClock(T);
    const loop = loopWith(clock, 500);
    const failedAt: number[] = [];
    const run = loop.run(
      async () => {
        throw new Error('broker away');
      },
      { closing: () => false, onFailure: () => failedAt.push(clock.now() - T) },
    );
    await clock.drive(run);
    await expect(run).rejects.toMatchObject({ code: 'EMO_ERR_LOG_UNAVAILABLE', message: expect.stringMatching(/^test gave up: .*broker away/) });
    // Backed off 50, 100, 200, 200 ms of the clock between attempts; the one 550 ms in is past 500.
    expect(failedAt).toEqual([0, 50, 150, 350, 550]);
  });

  it('a step that stops throwing is no recovery until the stage says healthy: the run of failures goes on, and gives up', async () => {
    const clock = new ManualClock(T);
    const loop = loopWith(clock, 40);
    let steps = 0;
    // Fails, then "succeeds" without progress (an empty poll taking 5 ms), then fails again: still one run.
    const run = loop.run(
      async () => {
        steps++;
        if (steps % 2 === 1) throw new Error('poll failed');
        await sleepOn(clock, 5);
      },
      { closing: () => false },
    );
    await clock.drive(run);
    await expect(run).rejects.toMatchObject({ code: 'EMO_ERR_LOG_UNAVAILABLE' });
    // Failed at 0, backed off 50, an empty step of 5 (the clock moves in 10 ms steps), failed again ~60 ms in: past 40.
    expect(steps).toBe(3);
    expect(clock.now() - T).toBeLessThan(70);
  });

  it('healthy() ends the run of failures and marks the dependency up for /readyz', async () => {
    const clock = new ManualClock(T);
    const progress = new StageProgress('test', new ManualClock(0), 1000);
    const loop = loopWith(clock, 60_000, progress);
    let steps = 0;
    let closing = false;
    const run = loop.run(
      async () => {
        steps++;
        if (steps === 1) throw new Error('once');
        expect(loop.failing).toBe(true);
        expect(progress.ready()).toBe(false);
        loop.healthy();
        expect(loop.failing).toBe(false);
        expect(progress.ready()).toBe(true);
        closing = true;
      },
      { closing: () => closing },
    );
    await clock.drive(run);
    await run;
    expect(steps).toBe(2);
  });
});
