// Who is signed in and what the server lets them call. The UI offers only what
// `/api/role/self` allows; it never decides permissions itself.

import { client, ok, type Schemas } from './api';

export type User = Schemas['UserView'];

export const session = $state<{ user: User | null; allowed: Record<string, boolean>; commandRunner: boolean }>({
  user: null,
  allowed: {},
  /** Whether the server's command runner is enabled (asked only when the role may ask). */
  commandRunner: false,
});

/** Load the signed-in user and their endpoint map (both needed before the shell renders). */
export async function loadSession(signal?: AbortSignal): Promise<void> {
  const opts = signal ? { signal } : {};
  const [user, allowed] = await Promise.all([
    ok(client.GET('/api/user/get_self', opts)),
    ok(client.GET('/api/role/self', opts)),
  ]);
  const runner = allowed['/api/command/info'] ? await ok(client.GET('/api/command/info', opts)) : null;
  session.user = user;
  session.allowed = allowed;
  session.commandRunner = runner?.enabled === true;
}

export function clearSession(): void {
  session.user = null;
  session.allowed = {};
  session.commandRunner = false;
}

/** Whether the caller's role may call `endpoint` (a path such as `/api/user/create`). */
export function can(endpoint: string): boolean {
  return session.allowed[endpoint] === true;
}
