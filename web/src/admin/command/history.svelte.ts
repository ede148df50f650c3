// The command console's recent runs, kept for this browser tab (sessionStorage): the newest
// first, at most MAX, each with what it printed.

import type { Schemas } from '../../lib/api';

export interface Run {
  id: number;
  command: string;
  at: string;
  result: Schemas['CommandResult'] | null;
  error: string;
}

const KEY = 'nook.command.history';
export const MAX = 10;

function read(): Run[] {
  try {
    const v: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
    return Array.isArray(v) ? (v as Run[]).slice(0, MAX) : [];
  } catch {
    return [];
  }
}

export const history = $state<{ runs: Run[] }>({ runs: typeof sessionStorage === 'undefined' ? [] : read() });

/** Add a run at the top, dropping the oldest beyond MAX. */
export function remember(run: Omit<Run, 'id'>): Run {
  const r: Run = { ...run, id: Date.now() + Math.random() };
  history.runs = [r, ...history.runs].slice(0, MAX);
  try {
    sessionStorage.setItem(KEY, JSON.stringify(history.runs));
  } catch {
    // Storage full or disabled: the history lasts for this page only.
  }
  return r;
}

export function forget(): void {
  history.runs = [];
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // ignore
  }
}

/** The distinct commands of the history, newest first (for recalling with the arrow keys). */
export function recallList(runs: readonly Run[]): string[] {
  return [...new Set(runs.map((r) => r.command))];
}
