import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFS, nextSort, parsePrefs } from './prefs';

describe('view preferences', () => {
  it('parses what was stored and ignores junk', () => {
    expect(parsePrefs(null)).toEqual(DEFAULT_PREFS);
    expect(parsePrefs('not json')).toEqual(DEFAULT_PREFS);
    expect(parsePrefs('[1]')).toEqual(DEFAULT_PREFS);
    expect(parsePrefs('{"view":"grid","sort":"size","order":"desc","showHidden":true}')).toEqual({
      view: 'grid',
      sort: 'size',
      order: 'desc',
      showHidden: true,
    });
    expect(parsePrefs('{"sort":"evil","order":"sideways","showHidden":"yes"}')).toEqual(DEFAULT_PREFS);
  });

  it('sort headers flip the order or start with a sensible one', () => {
    expect(nextSort({ sort: 'name', order: 'asc' }, 'name')).toEqual({ sort: 'name', order: 'desc' });
    expect(nextSort({ sort: 'name', order: 'desc' }, 'name')).toEqual({ sort: 'name', order: 'asc' });
    expect(nextSort({ sort: 'name', order: 'asc' }, 'modified')).toEqual({ sort: 'modified', order: 'desc' });
    expect(nextSort({ sort: 'size', order: 'asc' }, 'type')).toEqual({ sort: 'type', order: 'asc' });
  });
});
