import { describe, expect, it } from 'vitest';
import { DeliveryWatch } from '../../src/adapters/kafka/delivery-watch.js';

describe('the producer delivery watch', () => {
  it('is stuck once a record waited past the bound with nothing delivered meanwhile; failures are not progress', () => {
    let now = 0;
    const w = new DeliveryWatch(10_000, () => now);
    expect(w.stuck()).toBe(false);
    w.sent();
    now = 9_000;
    w.sent(); // a later record does not restart the wait of the first
    now = 10_001;
    expect(w.stuck()).toBe(true);
    w.delivered();
    expect(w.stuck()).toBe(false);
    now = 30_000;
    expect(w.stuck()).toBe(false); // idle is not stuck
  });

  it('judges a replacement afresh, and only while something waits', () => {
    let now = 0;
    const w = new DeliveryWatch(10_000, () => now);
    w.sent();
    now = 11_000;
    expect(w.stuck()).toBe(true);
    w.restart();
    expect(w.stuck()).toBe(false);
    now = 21_001;
    expect(w.stuck()).toBe(true);
    w.delivered();
    w.restart();
    now = 40_000;
    expect(w.stuck()).toBe(false);
  });
});
