// Short notices at the edge of the screen ("Saved", an API error's message). Rendered by
// components/Toasts.svelte, announced to screen readers.

export type ToastKind = 'info' | 'ok' | 'error';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
}

export const toasts = $state<Toast[]>([]);
let next = 1;

/** Show a notice; errors stay longer. Returns its id. */
export function notify(message: string, kind: ToastKind = 'info', ms = kind === 'error' ? 8000 : 4000): number {
  const id = next++;
  toasts.push({ id, kind, message });
  if (ms > 0) setTimeout(() => dismiss(id), ms);
  return id;
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}
