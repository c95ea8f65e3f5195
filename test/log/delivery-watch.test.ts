import { describe, expect, it } from 'vitest';
import { DeliveryWatch } from '../../src/adapters/kafka/delivery-watch.js';

describe('the producer delivery watch', () => {
  it('is stuck once a record waited past the bound with nothing delivered meanwhile; a failure is not progress', () => {
    let now = 0;
    const w = new DeliveryWatch(10_000, () => now);
    expect(w.stuck()).toBe(false);
    w.sent();
    now = 9_000;
    w.sent(); // a later record does not restart the wait of the first
    now = 9_500;
    w.answered(false); // the first times out; the second still waits
    now = 10_001;
    expect(w.stuck()).toBe(true);
    w.sent();
    w.answered(true);
    expect(w.stuck()).toBe(false);
    now = 30_000;
    expect(w.stuck()).toBe(true); // one still waits, 20 s after the last delivery
  });

  it('is not stuck with nothing left waiting, whether the records were delivered or failed', () => {
    let now = 0;
    const w = new DeliveryWatch(10_000, () => now);
    w.sent();
    w.sent();
    now = 5_000;
    w.answered(false);
    w.answered(false); // an outage's records all timed out; then no more sends
    now = 60_000;
    expect(w.stuck()).toBe(false);
    w.sent();
    now = 70_001;
    expect(w.stuck()).toBe(true); // judged from the first send after it, not from the old failures
  });

  it('judges a replacement afresh, and only what still waits', () => {
    let now = 0;
    const w = new DeliveryWatch(10_000, () => now);
    w.sent();
    now = 11_000;
    expect(w.stuck()).toBe(true);
    w.restart();
    expect(w.stuck()).toBe(false);
    now = 21_001;
    expect(w.stuck()).toBe(true);
    w.answered(true);
    w.restart();
    now = 40_000;
    expect(w.stuck()).toBe(false);
  });
});
