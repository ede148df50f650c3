import { describe, expect, it } from 'vitest';
import { loginPath, nextFromSearch, safeNext } from './nav';

describe('safeNext', () => {
  it('keeps same-origin paths', () => {
    expect(safeNext('/')).toBe('/');
    expect(safeNext('/files?x=1')).toBe('/files?x=1');
    expect(safeNext('/files/a%20b#top')).toBe('/files/a%20b#top');
    expect(safeNext('/preview?path=%2F%2Fx')).toBe('/preview?path=%2F%2Fx');
  });

  it('falls back to / for missing values', () => {
    expect(safeNext(null)).toBe('/');
    expect(safeNext(undefined)).toBe('/');
    expect(safeNext('')).toBe('/');
  });

  it('rejects other origins', () => {
    expect(safeNext('//evil.com')).toBe('/');
    expect(safeNext('//evil.com/path')).toBe('/');
    expect(safeNext('https://x')).toBe('/');
    expect(safeNext('http://evil.com/')).toBe('/');
    expect(safeNext('javascript:alert(1)')).toBe('/');
    expect(safeNext('evil.com')).toBe('/');
    expect(safeNext('files')).toBe('/');
  });

  it('rejects tricks browsers normalise into another origin', () => {
    expect(safeNext('/\\evil.com')).toBe('/');
    expect(safeNext('/\t/evil.com')).toBe('/');
    expect(safeNext('/\n/evil.com')).toBe('/');
    expect(safeNext('/x\\..\\\\evil.com')).toBe('/');
    expect(safeNext(' //evil.com')).toBe('/');
  });

  it('never sends the user back to the login page', () => {
    expect(safeNext('/auth')).toBe('/');
    expect(safeNext('/auth?next=/files')).toBe('/');
  });

  it('rejects absurdly long values', () => {
    expect(safeNext('/' + 'a'.repeat(5000))).toBe('/');
  });
});

describe('loginPath / nextFromSearch', () => {
  it('round-trips the current location', () => {
    const url = loginPath('/files?x=1&y=2');
    expect(url).toBe('/auth?next=%2Ffiles%3Fx%3D1%26y%3D2');
    expect(nextFromSearch(url.slice(url.indexOf('?')))).toBe('/files?x=1&y=2');
  });

  it('omits next for the home page', () => {
    expect(loginPath('/')).toBe('/auth');
  });

  it('sanitises next from the query string', () => {
    expect(nextFromSearch('?next=%2F%2Fevil.com')).toBe('/');
    expect(nextFromSearch('?next=https%3A%2F%2Fevil.com')).toBe('/');
    expect(nextFromSearch('')).toBe('/');
  });
});
