import { describe, expect, it } from 'vitest';
import { csvCell, fetchAll, toCsv } from './csv';

describe('csvCell', () => {
  it('leaves plain text alone', () => {
    expect(csvCell('login')).toBe('login');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
  });

  it('quotes commas, quotes and line breaks', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('cr\rhere')).toBe('"cr\rhere"');
  });

  it('neutralises formulas', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe('"\'=HYPERLINK(""http://evil"",""x"")"');
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell('a=b')).toBe('a=b');
  });
});

describe('toCsv', () => {
  it('writes a header and one line per row', () => {
    const rows = [
      { id: 2, action: 'login', detail: 'x,y' },
      { id: 1, action: 'upload', detail: '=1+1' },
    ];
    expect(toCsv(['id', 'action', 'detail'], rows)).toBe('id,action,detail\r\n2,login,"x,y"\r\n1,upload,\'=1+1\r\n');
  });
});

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
