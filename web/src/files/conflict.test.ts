import { describe, expect, it } from 'vitest';
import { replaceKind } from './conflict';
import type { Entry } from './ops';

const file = { name: 'a', path: '/d/a', is_dir: false } as Entry;
const dir = { name: 'a', path: '/d/a', is_dir: true } as Entry;

describe('replaceKind', () => {
  it('a file replaces a file, moved or copied', () => {
    expect(replaceKind('move', file, file)).toBe('replace');
    expect(replaceKind('copy', file, file)).toBe('replace');
  });
  it('a folder copied onto a folder merges; moved, it cannot', () => {
    expect(replaceKind('copy', dir, dir)).toBe('merge');
    expect(replaceKind('move', dir, dir)).toBeNull();
  });
  it('a file and a folder never replace each other', () => {
    for (const kind of ['move', 'copy'] as const) {
      expect(replaceKind(kind, file, dir)).toBeNull();
      expect(replaceKind(kind, dir, file)).toBeNull();
    }
  });
});
