import { describe, expect, it } from 'vitest';
import { apiQuery, EMPTY, exportName, readFilter, sinceToRfc3339, writeFilter } from './filters';

describe('log filters in the query string', () => {
  it('round-trips', () => {
    const f = { action: 'login', actor: 'bob', ip: '', since: '2026-01-02T03:04' };
    const qs = writeFilter(f, 50);
    expect(qs).toBe('?action=login&actor=bob&since=2026-01-02T03%3A04&offset=50');
    expect(readFilter(qs)).toEqual({ filter: f, offset: 50 });
  });

  it('reads nothing as no filter and bad offsets as 0', () => {
    expect(readFilter('')).toEqual({ filter: EMPTY, offset: 0 });
    expect(readFilter('?offset=-5').offset).toBe(0);
    expect(readFilter('?offset=abc').offset).toBe(0);
    expect(writeFilter(EMPTY)).toBe('');
  });

  it('builds the API query, converting local time to UTC', () => {
    expect(apiQuery({ action: ' login ', actor: '', ip: '10.0.0.1', since: '' })).toEqual({ action: 'login', ip: '10.0.0.1' });
    const since = sinceToRfc3339('2026-01-02T03:04');
    expect(since).toBe(new Date(2026, 0, 2, 3, 4).toISOString());
    expect(sinceToRfc3339('nonsense')).toBeNull();
    expect(sinceToRfc3339('')).toBeNull();
  });

  it('names exports by date', () => {
    expect(exportName(new Date(2026, 0, 2, 3, 4))).toBe('nook-audit-20260102-0304.csv');
  });
});
