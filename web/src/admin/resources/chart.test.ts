import { describe, expect, it } from 'vitest';
import { areaPath, linePath, niceBytesCeil, niceCeil, project, runs, spanOf, trimWindow, yMax, type Frame } from './chart';

const frame: Frame = { t0: 0, t1: 100, min: 0, max: 100, width: 200, height: 50 };

describe('nice numbers', () => {
  it('rounds up to 1, 2, 2.5, 5 × 10^k', () => {
    expect(niceCeil(0)).toBe(1);
    expect(niceCeil(-3)).toBe(1);
    expect(niceCeil(0.7)).toBe(1);
    expect(niceCeil(1)).toBe(1);
    expect(niceCeil(1.2)).toBe(2);
    expect(niceCeil(2.2)).toBe(2.5);
    expect(niceCeil(3)).toBe(5);
    expect(niceCeil(7)).toBe(10);
    expect(niceCeil(130)).toBe(200);
    expect(niceCeil(Number.NaN)).toBe(1);
  });

  it('rounds bytes within their binary unit', () => {
    expect(niceBytesCeil(0)).toBe(1024);
    expect(niceBytesCeil(700)).toBe(1000);
    expect(niceBytesCeil(1500)).toBe(2 * 1024);
    expect(niceBytesCeil(3.1 * 1024 * 1024)).toBe(5 * 1024 * 1024);
  });

  it('picks a fixed or peak-based top', () => {
    expect(yMax([1, 2, 3], 100, false)).toBe(100);
    expect(yMax([1, 42, 3], undefined, false)).toBe(50);
    expect(yMax([], undefined, true)).toBe(1024);
  });
});

describe('projection', () => {
  it('maps time to x and value to y (y down), clamping values', () => {
    expect(project({ t: 0, v: 0 }, frame)).toEqual([0, 50]);
    expect(project({ t: 100, v: 100 }, frame)).toEqual([200, 0]);
    expect(project({ t: 50, v: 50 }, frame)).toEqual([100, 25]);
    expect(project({ t: 50, v: 500 }, frame)).toEqual([100, 0]);
    expect(project({ t: 50, v: -5 }, frame)).toEqual([100, 50]);
  });

  it('survives an empty time or value range', () => {
    const flat: Frame = { ...frame, t1: 0, max: 0 };
    expect(project({ t: 0, v: 0 }, flat)).toEqual([0, 50]);
  });
});

describe('paths', () => {
  const samples = [
    { t: 0, v: 0 },
    { t: 10, v: 50 },
    { t: 20, v: 100 },
  ];

  it('draws a line through every sample', () => {
    expect(linePath(samples, frame)).toBe('M0 50 L20 25 L40 0');
    expect(linePath([], frame)).toBe('');
  });

  it('breaks the line at gaps and skips broken values', () => {
    const gappy = [...samples, { t: 80, v: 0 }, { t: 90, v: Number.NaN }, { t: 90, v: 50 }];
    expect(runs(gappy, 15).map((r) => r.length)).toEqual([3, 2]);
    expect(linePath(gappy, frame, 15)).toBe('M0 50 L20 25 L40 0 M160 50 L180 25');
  });

  it('closes areas down to the baseline', () => {
    expect(areaPath(samples, frame)).toBe('M0 50 L0 50 L20 25 L40 0 L40 50 Z');
  });
});

describe('trimWindow', () => {
  it('keeps the samples within the window of the newest', () => {
    const s = [{ t: 0 }, { t: 10 }, { t: 20 }, { t: 30 }];
    expect(trimWindow(s, 15).map((x) => x.t)).toEqual([20, 30]);
    expect(trimWindow(s, 100)).toBe(s);
    expect(trimWindow([], 10)).toEqual([]);
  });
});

describe('spanOf', () => {
  const series = (ts: number[]) => [{ label: 'a', color: 'red', samples: ts.map((t) => ({ t, v: 1 })) }];
  it('covers the data, within the bounds', () => {
    expect(spanOf(series([1000, 5000]), 10_000, 60_000)).toEqual({ t0: -5000, t1: 5000 });
    expect(spanOf(series([0, 30_000]), 10_000, 60_000)).toEqual({ t0: 0, t1: 30_000 });
    expect(spanOf(series([0, 100_000]), 10_000, 60_000)).toEqual({ t0: 40_000, t1: 100_000 });
    expect(spanOf(series([]), 10_000, 60_000)).toEqual({ t0: -10_000, t1: 0 });
  });
});
