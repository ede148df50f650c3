// Copy text to the clipboard. The async Clipboard API exists only in secure contexts (https or
// localhost); a NAS opened over plain http on the LAN falls back to a hidden textarea and the
// legacy copy command, which browsers still allow inside a click handler.

export async function copyText(text: string): Promise<boolean> {
  if (typeof navigator !== 'undefined' && navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: try the fallback.
    }
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  ta.style.pointerEvents = 'none';
  // Inside an open modal dialog, only the dialog is interactive: put the textarea there.
  const host = document.activeElement?.closest('dialog') ?? document.body;
  host.appendChild(ta);
  const previous = document.activeElement as HTMLElement | null;
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  previous?.focus?.();
  return ok;
}
