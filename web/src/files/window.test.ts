import { describe, expect, it } from 'vitest';
import { columnsFor, rowRange, scrollDelta } from './window';

describe('windowed rows', () => {
  const v = { count: 10_000, cols: 1, rowHeight: 40, top: 0, height: 800 };

  it('renders the rows in view plus the overscan', () => {
    expect(rowRange(v, 5)).toEqual({ start: 0, end: 25 });
    expect(rowRange({ ...v, top: 4000 }, 5)).toEqual({ start: 95, end: 125 });
  });

  it('starts at the top while the list is still below the viewport top', () => {
    expect(rowRange({ ...v, top: -300 }, 0)).toEqual({ start: 0, end: 13 });
    // Entirely below the viewport: nothing but the overscan.
    expect(rowRange({ ...v, top: -5000 }, 2)).toEqual({ start: 0, end: 2 });
  });

  it('stops at the end and handles small and empty lists', () => {
    expect(rowRange({ ...v, top: 399_990 }, 5)).toEqual({ start: 9994, end: 10_000 });
    expect(rowRange({ ...v, count: 3 })).toEqual({ start: 0, end: 3 });
    expect(rowRange({ ...v, count: 0 })).toEqual({ start: 0, end: 0 });
    expect(rowRange({ ...v, top: 10_000_000 }, 1)).toEqual({ start: 10_000, end: 10_000 });
  });

  it('counts grid rows, not entries', () => {
    expect(rowRange({ ...v, cols: 5, top: 400 }, 0)).toEqual({ start: 10, end: 30 });
    expect(rowRange({ ...v, count: 11, cols: 5 })).toEqual({ start: 0, end: 3 });
  });

  it('fits grid columns to the width', () => {
    expect(columnsFor(1000, 136, 8)).toBe(7);
    expect(columnsFor(100, 136, 8)).toBe(1);
    expect(columnsFor(0, 136, 8)).toBe(1);
  });

  it('scrolls just enough to bring an entry into view', () => {
    expect(scrollDelta(5, v)).toBe(0);
    expect(scrollDelta(30, v)).toBe(31 * 40 - 800);
    expect(scrollDelta(10, { ...v, top: 1000 })).toBe(400 - 1000);
    expect(scrollDelta(10, { ...v, top: 1000 }, 60)).toBe(400 - 60 - 1000);
    expect(scrollDelta(12, { ...v, cols: 4, top: 0 })).toBe(0);
  });
});
