import { describe, expect, it } from 'vitest';
import { parsePaths, pathsSummary } from './users';

describe('path lists', () => {
  it('parses the server’s JSON strings defensively', () => {
    expect(parsePaths('["/a","/b"]')).toEqual(['/a', '/b']);
    expect(parsePaths('')).toEqual([]);
    expect(parsePaths(null)).toEqual([]);
    expect(parsePaths('not json')).toEqual([]);
    expect(parsePaths('{"a":1}')).toEqual([]);
    expect(parsePaths('["/a", 3]')).toEqual(['/a']);
  });

  it('summarises for a table cell', () => {
    expect(pathsSummary(['/a', '/b'], 'user')).toBe('/a, /b');
    expect(pathsSummary([], 'user')).toBe('none');
    expect(pathsSummary([], 'admin')).toBe('everything');
  });
});
