import { describe, expect, it } from 'vitest';
import { draftOf, groupSettings, isChanged, labelOf, parseDraft, showValue, sourceText, type SettingInfo } from './settings';

function info(p: Partial<SettingInfo> & Pick<SettingInfo, 'key' | 'kind'>): SettingInfo {
  return { value: null, default: null, help: '', effective: null, source: 'config', ...p };
}

describe('grouping and labels', () => {
  it('groups by key prefix in order of appearance', () => {
    const g = groupSettings([
      info({ key: 'site_name', kind: 'text' }),
      info({ key: 'ftp.listen', kind: 'address' }),
      info({ key: 'audit_retention_days', kind: 'integer' }),
      info({ key: 'smtp.host', kind: 'text' }),
    ]);
    expect(g.map((x) => [x.id, x.title, x.items.length])).toEqual([
      ['general', 'General', 2],
      ['ftp', 'FTP server', 1],
      ['smtp', 'Smtp', 1],
    ]);
  });

  it('labels known and unknown keys', () => {
    expect(labelOf('ftp.max_connections_per_ip')).toBe('Most connections per address');
    expect(labelOf('smtp.from_address')).toBe('From address');
  });
});

describe('drafts', () => {
  it('starts from the stored value', () => {
    expect(draftOf(info({ key: 'a', kind: 'boolean', value: null }))).toBe('unset');
    expect(draftOf(info({ key: 'a', kind: 'boolean', value: false, source: 'setting' }))).toBe('false');
    expect(draftOf(info({ key: 'a', kind: 'integer', value: 30, source: 'setting' }))).toBe('30');
    expect(draftOf(info({ key: 'a', kind: 'text', value: null }))).toBe('');
  });

  it('parses integers within bounds', () => {
    const i = info({ key: 'n', kind: 'integer', min: 10, max: 100 });
    expect(parseDraft(i, ' 42 ')).toEqual({ ok: true, value: 42 });
    expect(parseDraft(i, '')).toEqual({ ok: true, value: null });
    expect(parseDraft(i, '4.5')).toEqual({ ok: false, error: 'Enter a whole number.' });
    expect(parseDraft(i, '5')).toEqual({ ok: false, error: 'Enter a number from 10 to 100.' });
  });

  it('parses addresses and port ranges', () => {
    const a = info({ key: 'ftp.listen', kind: 'address' });
    expect(parseDraft(a, '0.0.0.0:2121')).toEqual({ ok: true, value: '0.0.0.0:2121' });
    expect(parseDraft(a, '[::]:21')).toEqual({ ok: true, value: '[::]:21' });
    expect(parseDraft(a, 'localhost:21').ok).toBe(false);
    expect(parseDraft(a, '1.2.3.4:70000').ok).toBe(false);
    expect(parseDraft(a, '300.1.1.1:21').ok).toBe(false);
    const r = info({ key: 'ftp.passive_ports', kind: 'port_range' });
    expect(parseDraft(r, '30000 - 30009')).toEqual({ ok: true, value: '30000-30009' });
    expect(parseDraft(r, '30009-30000').ok).toBe(false);
    expect(parseDraft(r, '0-10').ok).toBe(false);
  });

  it('parses text with its length limit, booleans three ways', () => {
    const t = info({ key: 'site_name', kind: 'text', max: 5 });
    expect(parseDraft(t, 'Home')).toEqual({ ok: true, value: 'Home' });
    expect(parseDraft(t, 'Homestead')).toEqual({ ok: false, error: 'At most 5 characters.' });
    expect(parseDraft(t, 'a\u0007').ok).toBe(false);
    expect(parseDraft(t, '   ')).toEqual({ ok: true, value: null });
    const b = info({ key: 'x', kind: 'boolean' });
    expect(parseDraft(b, 'true')).toEqual({ ok: true, value: true });
    expect(parseDraft(b, 'false')).toEqual({ ok: true, value: false });
    expect(parseDraft(b, 'unset')).toEqual({ ok: true, value: null });
  });

  it('knows when a draft changes the stored value', () => {
    const t = info({ key: 'site_name', kind: 'text', value: 'Nook', source: 'setting' });
    expect(isChanged(t, 'Nook')).toBe(false);
    expect(isChanged(t, 'Home')).toBe(true);
    expect(isChanged(info({ key: 'g', kind: 'text', value: null }), '')).toBe(false);
    expect(isChanged(info({ key: 'g', kind: 'text', value: '' }), '')).toBe(false);
    expect(isChanged(info({ key: 'n', kind: 'integer', value: 5 }), 'x')).toBe(true);
    // A default or config value in force is not a stored value: the empty draft keeps it so.
    const d = info({ key: 'site_name', kind: 'text', value: 'Nook', source: 'default', effective: 'Nook' });
    expect(draftOf(d)).toBe('');
    expect(isChanged(d, '')).toBe(false);
    expect(isChanged(d, 'Nook')).toBe(true);
  });

  it('shows values and sources in words', () => {
    expect(showValue(null)).toBe('—');
    expect(showValue(true)).toBe('on');
    expect(showValue(600)).toBe('600');
    expect(sourceText(info({ key: 'a', kind: 'text', source: 'config' }))).toBe('from the config file');
    expect(sourceText(info({ key: 'a', kind: 'text', source: 'setting' }))).toBe('set here');
    expect(sourceText(info({ key: 'a', kind: 'text', source: 'default' }))).toBe('built-in default');
  });
});
