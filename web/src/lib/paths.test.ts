import { describe, expect, it } from 'vitest';
import { basename, crumbs, isWithin, join, normalize, parent } from './paths';

describe('paths', () => {
  it('normalises', () => {
    expect(normalize('')).toBe('/');
    expect(normalize('//a///b/./')).toBe('/a/b');
    expect(normalize('a/b')).toBe('/a/b');
    expect(normalize('/a/../b')).toBe('/a/../b');
  });
  it('joins, splits and walks up', () => {
    expect(join('/', 'x')).toBe('/x');
    expect(join('/a/', 'x')).toBe('/a/x');
    expect(parent('/a/b')).toBe('/a');
    expect(parent('/a')).toBe('/');
    expect(parent('/')).toBe('/');
    expect(basename('/a/b.txt')).toBe('b.txt');
    expect(basename('/')).toBe('');
  });
  it('builds breadcrumbs', () => {
    expect(crumbs('/a/b')).toEqual([
      { name: '/', path: '/' },
      { name: 'a', path: '/a' },
      { name: 'b', path: '/a/b' },
    ]);
  });
  it('matches by components', () => {
    expect(isWithin('/pub/x', '/pub')).toBe(true);
    expect(isWithin('/pub', '/pub')).toBe(true);
    expect(isWithin('/pub-private', '/pub')).toBe(false);
    expect(isWithin('/anything', '/')).toBe(true);
  });
});
