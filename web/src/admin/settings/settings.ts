// Settings forms: grouping, labels, and turning what a person typed into the JSON value
// `/api/update_settings` expects (null resets a setting to its fallback). The server checks
// everything again; these checks only make the message immediate. Tested in settings.test.ts.

import type { Schemas } from '../../lib/api';

export type SettingInfo = Schemas['SettingInfo'];

/** What an input holds: text for text-like kinds, 'unset' | 'true' | 'false' for booleans. */
export type Draft = string;

export interface SettingGroup {
  id: string;
  title: string;
  description: string;
  items: SettingInfo[];
}

const GROUPS: Record<string, { title: string; description: string }> = {
  general: { title: 'General', description: 'How Nook presents itself and how long it keeps its records.' },
  ftp: {
    title: 'FTP server',
    description: 'Overrides of the config file’s [ftp] section. Leave a field empty to use the config file’s value.',
  },
};

const LABELS: Record<string, string> = {
  site_name: 'Site name',
  audit_retention_days: 'Keep audit log entries (days)',
  'ftp.listen': 'Listen address',
  'ftp.passive_ports': 'Passive ports',
  'ftp.passive_host': 'Passive host',
  'ftp.greeting': 'Greeting',
  'ftp.idle_timeout_seconds': 'Idle timeout (seconds)',
  'ftp.login_timeout_seconds': 'Login timeout (seconds)',
  'ftp.max_connections': 'Most connections',
  'ftp.max_connections_per_ip': 'Most connections per address',
  'ftp.ftps_required': 'Require TLS (FTPS)',
  'ftp.allow_web_users': 'Let web users sign in over FTP',
};

/** A readable label: known keys by name, others from the key itself. */
export function labelOf(key: string): string {
  const known = LABELS[key];
  if (known) return known;
  const last = key.slice(key.lastIndexOf('.') + 1).replace(/_/g, ' ');
  return last.charAt(0).toUpperCase() + last.slice(1);
}

/** Settings grouped by the part of the key before the first dot (`general` without one). */
export function groupSettings(items: readonly SettingInfo[]): SettingGroup[] {
  const out: SettingGroup[] = [];
  for (const item of items) {
    const dot = item.key.indexOf('.');
    const id = dot > 0 ? item.key.slice(0, dot) : 'general';
    let g = out.find((x) => x.id === id);
    if (!g) {
      const meta = GROUPS[id] ?? { title: id.charAt(0).toUpperCase() + id.slice(1), description: '' };
      g = { id, ...meta, items: [] };
      out.push(g);
    }
    g.items.push(item);
  }
  return out;
}

/** The value an administrator set, or null when the fallback or default is in force. */
export function storedValue(info: SettingInfo): unknown {
  if (info.source !== undefined && info.source !== 'setting') return null;
  return info.value === '' ? null : (info.value ?? null);
}

/** The input's starting text: the value set here, or empty (unset) for a fallback. */
export function draftOf(info: SettingInfo): Draft {
  const v = storedValue(info);
  if (info.kind === 'boolean') return v === true ? 'true' : v === false ? 'false' : 'unset';
  if (v === null || v === undefined) return '';
  return String(v);
}

/** A value for display (`—` for nothing, `on`/`off` for booleans). */
export function showValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (v === true) return 'on';
  if (v === false) return 'off';
  return String(v);
}

function isAddress(s: string): boolean {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(s);
  if (!m) return false;
  const port = Number(m[3]);
  if (port > 65535) return false;
  if (m[2]) return m[2].split('.').every((o) => Number(o) <= 255);
  return true;
}

function isPortRange(s: string): boolean {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(s);
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > 0 && a <= b && b <= 65535;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** Turn a draft into the value to send, or say what is wrong with it. */
export function parseDraft(info: SettingInfo, draft: Draft): Parsed {
  const s = draft.trim();
  switch (info.kind) {
    case 'boolean':
      if (draft === 'unset') return { ok: true, value: null };
      return { ok: true, value: draft === 'true' };
    case 'integer': {
      if (s === '') return { ok: true, value: null };
      if (!/^-?\d+$/.test(s)) return { ok: false, error: 'Enter a whole number.' };
      const n = Number(s);
      const lo = info.min ?? Number.MIN_SAFE_INTEGER;
      const hi = info.max ?? Number.MAX_SAFE_INTEGER;
      if (n < lo || n > hi) return { ok: false, error: `Enter a number from ${lo} to ${hi}.` };
      return { ok: true, value: n };
    }
    case 'address':
      if (s === '') return { ok: true, value: null };
      return isAddress(s) ? { ok: true, value: s } : { ok: false, error: 'Enter an address like 0.0.0.0:2121.' };
    case 'port_range':
      if (s === '') return { ok: true, value: null };
      return isPortRange(s)
        ? { ok: true, value: s.replace(/\s+/g, '') }
        : { ok: false, error: 'Enter a range like 30000-30009.' };
    default: {
      if (s === '') return { ok: true, value: null };
      if (info.max !== null && info.max !== undefined && [...draft].length > info.max) {
        return { ok: false, error: `At most ${info.max} characters.` };
      }
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(draft)) return { ok: false, error: 'No control characters.' };
      return { ok: true, value: draft };
    }
  }
}

/** Whether the draft changes the stored value (an empty draft for an unset value does not). */
export function isChanged(info: SettingInfo, draft: Draft): boolean {
  const p = parseDraft(info, draft);
  if (!p.ok) return true;
  return JSON.stringify(p.value) !== JSON.stringify(storedValue(info));
}

/** Where the value in force comes from, in words. */
export function sourceText(info: SettingInfo): string {
  switch (info.source) {
    case 'setting':
      return 'set here';
    case 'config':
      return 'from the config file';
    default:
      return 'built-in default';
  }
}
