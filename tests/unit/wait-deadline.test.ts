// When an agent's wait ends (functions/services/agents.ts, waitDeadline): counted from its arrival or,
// signed and queued, from when it was sent; long waits spread so a fleet started together falls out of step.
import { describe, expect, it } from 'vitest';
import { QUEUED_CREDIT_MAX_MS, waitDeadline } from '../../functions/services/agents.ts';

const arrival = 1_800_000_000_000;
const never = () => 0;
const always = () => 0.999_999;

describe('waitDeadline', () => {
  it('an unsigned wait, or one sent within the timestamp’s second: the whole timeout from its arrival', () => {
    expect(waitDeadline(arrival, undefined, 5)).toBe(arrival + 5_000);
    expect(waitDeadline(arrival, arrival - 999, 5)).toBe(arrival + 5_000);
    expect(waitDeadline(arrival, arrival + 30_000, 5)).toBe(arrival + 5_000); // a clock ahead changes nothing
  });

  it('a signed wait that queued: counted from when it was sent, less the timestamp’s second, by at most the bound', () => {
    expect(waitDeadline(arrival, arrival - 6_000, 8)).toBe(arrival - 5_000 + 8_000);
    expect(waitDeadline(arrival, arrival - 60_000, 8)).toBe(arrival - QUEUED_CREDIT_MAX_MS + 8_000);
  });

  it('waits of 10 s or more end up to a fifth earlier, at random; shorter ones never', () => {
    expect(waitDeadline(arrival, undefined, 25, never)).toBe(arrival + 25_000);
    expect(waitDeadline(arrival, undefined, 25, always)).toBe(arrival + 20_000);
    expect(waitDeadline(arrival, undefined, 9, always)).toBe(arrival + 9_000);
    const ends = Array.from({ length: 200 }, () => waitDeadline(arrival, undefined, 25) - arrival);
    expect(Math.min(...ends)).toBeGreaterThanOrEqual(20_000);
    expect(Math.max(...ends)).toBeLessThanOrEqual(25_000);
    expect(new Set(ends).size).toBeGreaterThan(100); // spread, not in step
  });
});
