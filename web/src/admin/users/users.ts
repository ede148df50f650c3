// Helpers for the users page: the server stores path lists as JSON-encoded strings.

import type { Schemas } from '../../lib/api';

export type UserView = Schemas['UserView'];

/** A JSON-encoded path list from the server as an array (nothing readable on bad input). */
export function parsePaths(raw: string | null | undefined): string[] {
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Short text for a path list in a table cell. */
export function pathsSummary(paths: readonly string[], role: string): string {
  if (role === 'admin') return 'everything';
  if (paths.length === 0) return 'none';
  return paths.join(', ');
}
