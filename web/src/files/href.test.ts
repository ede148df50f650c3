import { describe, expect, it } from 'vitest';
import { folderHref, previewHref } from './href';

describe('file manager addresses', () => {
  it('puts the folder, the preview and the editor in the query', () => {
    expect(folderHref('/')).toBe('/');
    expect(folderHref('/a b/c')).toBe('/?path=%2Fa+b%2Fc');
    expect(folderHref('/d', '/d/x&y.txt')).toBe('/?path=%2Fd&view=%2Fd%2Fx%26y.txt');
    expect(folderHref('/', '/r.md', true)).toBe('/?view=%2Fr.md&edit=1');
  });
  it('round-trips through URLSearchParams', () => {
    const odd = '/we?ird/#name%20&=+';
    const u = new URL(folderHref(odd, `${odd}/f`), 'http://x');
    expect(u.searchParams.get('path')).toBe(odd);
    expect(u.searchParams.get('view')).toBe(`${odd}/f`);
    expect(new URL(previewHref(odd, true), 'http://x').searchParams.get('path')).toBe(odd);
  });
});
