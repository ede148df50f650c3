import { describe, expect, it } from 'vitest';
import { addPoint, pointOfHistory, type Point } from './live.svelte';

const p = (t: number, cpu = 1): Point => ({ t, cpu, memory: 0, disk: 0, rx: 0, tx: 0, rss: 0 });

describe('addPoint', () => {
  it('appends in time order and replaces a repeated time', () => {
    let pts: Point[] = [];
    pts = addPoint(pts, p(1000));
    pts = addPoint(pts, p(3000));
    pts = addPoint(pts, p(3000, 7));
    expect(pts.map((x) => [x.t, x.cpu])).toEqual([
      [1000, 1],
      [3000, 7],
    ]);
  });

  it('ignores out-of-order and broken times, and keeps one hour', () => {
    let pts = [p(10_000)];
    pts = addPoint(pts, p(5_000));
    pts = addPoint(pts, p(Number.NaN));
    expect(pts).toHaveLength(1);
    pts = addPoint(pts, p(10_000 + 61 * 60 * 1000));
    expect(pts.map((x) => x.t)).toEqual([10_000 + 61 * 60 * 1000]);
  });

  it('reads history points', () => {
    expect(
      pointOfHistory({ time: '2026-01-01T00:00:02Z', cpu: 5, memory: 6, disk: 7, rx_bytes_per_sec: 8, tx_bytes_per_sec: 9, process_rss: 10 }),
    ).toEqual({ t: Date.parse('2026-01-01T00:00:02Z'), cpu: 5, memory: 6, disk: 7, rx: 8, tx: 9, rss: 10 });
  });
});
