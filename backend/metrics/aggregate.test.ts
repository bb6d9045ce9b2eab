import { describe, expect, it } from 'vitest';
import { aggregate, decimalPlaces, exactSum, mergeAggregates } from './aggregate.js';

describe('aggregate', () => {
  it('counts decimal places and sums decimals exactly', () => {
    expect([decimalPlaces(3), decimalPlaces(12.34), decimalPlaces(0.1), decimalPlaces(NaN), decimalPlaces(Math.PI)]).toEqual([0, 2, 1, -1, -1]);
    const readings = [0.1, 0.2, 0.3];
    expect(readings.reduce((a, b) => a + b, 0)).not.toBe(0.6);
    expect(exactSum(readings)).toBe(0.6);
    expect(exactSum([Math.PI, 1])).toBe(Math.PI + 1);
    expect(aggregate([2.5, 1.25, 3])).toEqual({ count: 3, sum: 6.75, min: 1.25, max: 3 });
    expect(aggregate([])).toBeUndefined();
    expect(mergeAggregates([{ count: 2, sum: 0.1, min: 0, max: 0.1 }, { count: 1, sum: 0.2, min: 0.2, max: 0.2 }])).toEqual({ count: 3, sum: 0.3, min: 0, max: 0.2 });
  });
});
