// The session token lives in localStorage (never in a cookie, so no CSRF surface).

export const TOKEN_KEY = 'nook.token';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  try {
    localStorage.setItem(TOKEN_KEY, token);
    sessionStorage.removeItem(SIGNED_OUT_KEY);
  } catch {
    // Storage disabled: the session simply will not survive a reload.
  }
}

/** Set in this tab when its user signs out on purpose; cleared by the next sign-in. */
const SIGNED_OUT_KEY = 'nook.signedOut';

/**
 * Remember that this tab's user signed out. Until the next sign-in, pages of the ended session
 * (reached with Back) send to the plain login page: not one that would lead the next person
 * back to them.
 */
export function markSignedOut(): void {
  try {
    sessionStorage.setItem(SIGNED_OUT_KEY, '1');
  } catch {
    // ignore
  }
}

export function signedOutHere(): boolean {
  try {
    return sessionStorage.getItem(SIGNED_OUT_KEY) === '1';
  } catch {
    return false;
  }
}

export function clearToken(): void {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    // ignore
  }
}
