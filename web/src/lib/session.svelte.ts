// Who is signed in and what the server lets them call. The UI offers only what
// `/api/role/self` allows; it never decides permissions itself.

import { client, ok, type Schemas } from './api';

export type User = Schemas['UserView'];

export const session = $state<{ user: User | null; allowed: Record<string, boolean> }>({
  user: null,
  allowed: {},
});

/** Load the signed-in user and their endpoint map (both needed before the shell renders). */
export async function loadSession(signal?: AbortSignal): Promise<void> {
  const opts = signal ? { signal } : {};
  const [user, allowed] = await Promise.all([
    ok(client.GET('/api/user/get_self', opts)),
    ok(client.GET('/api/role/self', opts)),
  ]);
  session.user = user;
  session.allowed = allowed;
}

export function clearSession(): void {
  session.user = null;
  session.allowed = {};
}

/** Whether the caller's role may call `endpoint` (a path such as `/api/user/create`). */
export function can(endpoint: string): boolean {
  return session.allowed[endpoint] === true;
}
