import { describe, expect, it } from 'vitest';
import { fetchAll } from './paging';

describe('fetchAll', () => {
  it('pages until a short page', async () => {
    const data = Array.from({ length: 7 }, (_, i) => i);
    const calls: [number, number][] = [];
    const { rows, complete } = await fetchAll(async (offset, limit) => {
      calls.push([offset, limit]);
      return data.slice(offset, offset + limit);
    }, 3);
    expect(rows).toEqual(data);
    expect(complete).toBe(true);
    expect(calls).toEqual([
      [0, 3],
      [3, 3],
      [6, 3],
    ]);
  });

  it('asks once more after an exactly full last page, and stops at the cap', async () => {
    const data = Array.from({ length: 6 }, (_, i) => i);
    let n = 0;
    const all = await fetchAll(async (o, l) => (n++, data.slice(o, o + l)), 3);
    expect(all.rows.length).toBe(6);
    expect(n).toBe(3);
    const capped = await fetchAll(async (o, l) => data.slice(o, o + l), 2, 4);
    expect(capped).toEqual({ rows: [0, 1, 2, 3], complete: false });
  });
});
