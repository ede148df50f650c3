import { describe, expect, it } from 'vitest';
import { basename, crumbs, isWithin, join, normalize, parent, resolveRelative } from './paths';

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

describe('resolveRelative', () => {
  it('resolves plain relative references against the folder', () => {
    expect(resolveRelative('/docs', 'pic.png')).toBe('/docs/pic.png');
    expect(resolveRelative('/docs', './img/a.png')).toBe('/docs/img/a.png');
    expect(resolveRelative('/docs/guide', '../shared/b.png')).toBe('/docs/shared/b.png');
    expect(resolveRelative('/', 'top.png')).toBe('/top.png');
    expect(resolveRelative('/docs', 'my%20photo.jpg?x=1#y')).toBe('/docs/my photo.jpg');
  });
  it('leaves everything else alone', () => {
    for (const ref of ['', 'https://example.com/a.png', 'data:image/png;base64,AA', '//host/a.png', '/abs.png', '#top', '?q', 'javascript:alert(1)', '%E0%A4%A']) {
      expect(resolveRelative('/docs', ref)).toBeNull();
    }
  });
  it('never climbs above the root', () => {
    expect(resolveRelative('/docs', '../../etc/passwd')).toBeNull();
    expect(resolveRelative('/', '../a.png')).toBeNull();
  });
});
