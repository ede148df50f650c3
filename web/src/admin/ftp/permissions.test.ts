import { describe as group, expect, it } from 'vitest';
import { describe, has, limitText, normalize, parseLimit, quotaPercent, setPermission } from './permissions';

group('permissions', () => {
  it('normalises to * alone or names in table order', () => {
    expect(normalize(['download', 'list'])).toEqual(['list', 'download']);
    expect(normalize(['list', '*'])).toEqual(['*']);
    expect(normalize([])).toEqual([]);
  });

  it('treats * as everything', () => {
    expect(has(['*'], 'create_symlinks')).toBe(true);
    expect(has(['list'], 'upload')).toBe(false);
  });

  it('checks and unchecks boxes', () => {
    expect(setPermission([], 'list', true)).toEqual(['list']);
    expect(setPermission(['list', 'upload'], 'list', false)).toEqual(['upload']);
    expect(setPermission(['list'], '*', true)).toEqual(['*']);
    const all = setPermission(['*'], '*', false);
    expect(all).toHaveLength(7);
    expect(setPermission(['*'], 'delete', false)).toEqual(['list', 'download', 'upload', 'rename', 'create_dirs', 'create_symlinks']);
    expect(setPermission(['list'], 'list', true)).toEqual(['list']);
  });

  it('describes a set', () => {
    expect(describe(['*'])).toBe('all');
    expect(describe([])).toBe('none');
    expect(describe(['download', 'list'])).toBe('list, download');
    expect(describe(['create_dirs'])).toBe('create folders');
  });
});

group('quotas and limits', () => {
  it('computes a share of a quota, null for unlimited', () => {
    expect(quotaPercent(50, 200)).toBe(25);
    expect(quotaPercent(500, 200)).toBe(100);
    expect(quotaPercent(5, 0)).toBeNull();
    expect(quotaPercent(-5, 10)).toBe(0);
  });

  it('shows 0 as unlimited', () => {
    expect(limitText(0, (n) => `${n} KB/s`)).toBe('unlimited');
    expect(limitText(10, (n) => `${n} KB/s`)).toBe('10 KB/s');
  });

  it('parses limit fields', () => {
    expect(parseLimit('')).toBe(0);
    expect(parseLimit(' 12 ')).toBe(12);
    expect(parseLimit(7)).toBe(7);
    expect(parseLimit('-1')).toBeNull();
    expect(parseLimit('1.5')).toBeNull();
    expect(parseLimit('abc')).toBeNull();
    expect(parseLimit('70000', 65535)).toBeNull();
    expect(parseLimit(null)).toBe(0);
  });
});

import { splitBytes, toBytes } from './permissions';

group('quota sizes', () => {
  it('round-trips through the largest exact unit', () => {
    expect(splitBytes(0)).toEqual({ n: 0, unit: 'MiB' });
    expect(splitBytes(5 * 1024 ** 3)).toEqual({ n: 5, unit: 'GiB' });
    expect(splitBytes(1536 * 1024 ** 2)).toEqual({ n: 1536, unit: 'MiB' });
    expect(toBytes(2, 'GiB')).toBe(2 * 1024 ** 3);
    expect(toBytes(3, 'MiB')).toBe(3 * 1024 ** 2);
  });
});
