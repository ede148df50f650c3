import { describe, expect, it } from 'vitest';
import { changes, firstSentence, groupEndpoints, isAllowed, isLocked, roleNameProblem, rolesOf, tagByPrefix, toggle, toggleMany, type RoleMap, type SpecLike } from './matrix';

const map: RoleMap = {
  '/api/finder': ['admin', 'user'],
  '/api/user/create': ['admin'],
  '/api/user/logout': ['admin', 'user'],
  '/api/v1/user/{userID}': ['admin', 'ops'],
  '/api/get_logs': ['admin'],
};

const spec: SpecLike = {
  tags: [
    { name: 'Files', description: 'Files and folders.' },
    { name: 'Users', description: 'Users.' },
    { name: 'V1', description: 'v1' },
  ],
  paths: {
    '/api/finder': { get: { tags: ['Files'], summary: 'List a folder. Paged.' } },
    '/api/user/create': { post: { tags: ['Users'], summary: 'Create a user; the response carries the key.' } },
    '/api/user/logout': { post: { tags: ['Users'], summary: 'End every session' } },
    '/api/v1/user/{userID}': {
      get: { tags: ['V1'], summary: 'Find a user by id.' },
      put: { tags: ['V1'], summary: 'Update a user.' },
      delete: { tags: ['V1'] },
    },
  },
};

describe('groupEndpoints', () => {
  it('groups by the spec tag in the spec order, with methods and a short summary', () => {
    const groups = groupEndpoints(map, spec);
    expect(groups.map((g) => g.tag)).toEqual(['Files', 'Users', 'V1', 'Logs']);
    expect(groups[1]?.endpoints.map((e) => e.path)).toEqual(['/api/user/create', '/api/user/logout']);
    expect(groups[1]?.endpoints[0]?.summary).toBe('Create a user.');
    expect(groups[2]?.endpoints[0]).toEqual({ path: '/api/v1/user/{userID}', methods: ['GET', 'PUT', 'DELETE'], summary: 'Find a user by id.' });
    expect(groups[0]?.description).toBe('Files and folders.');
    // Not in the spec: grouped by prefix.
    expect(groups[3]?.endpoints[0]?.methods).toEqual([]);
  });

  it('falls back to path prefixes without a spec', () => {
    const groups = groupEndpoints(map, null);
    expect(groups.map((g) => g.tag)).toEqual(['Files', 'V1', 'Logs', 'Users']);
    expect(tagByPrefix('/api/tus/{id}')).toBe('Files');
    expect(tagByPrefix('/api/ftp/start')).toBe('Ftp');
    expect(tagByPrefix('/api/settings/info')).toBe('Settings');
    expect(tagByPrefix('/metrics')).toBe('System');
  });
});

describe('roles', () => {
  it('lists admin, user, then custom roles', () => {
    expect(rolesOf(map)).toEqual(['admin', 'user', 'ops']);
    expect(rolesOf({}, ['zed', 'abc'])).toEqual(['admin', 'user', 'abc', 'zed']);
  });

  it('locks the admin column and the endpoints open to everyone', () => {
    expect(isLocked('/api/finder', 'admin')).toBe(true);
    expect(isLocked('/api/user/logout', 'ops')).toBe(true);
    expect(isLocked('/api/finder', 'user')).toBe(false);
    expect(isAllowed(map, '/api/user/create', 'admin')).toBe(true);
    expect(isAllowed(map, '/api/user/logout', 'ops')).toBe(true);
    expect(isAllowed(map, '/api/user/create', 'user')).toBe(false);
  });

  it('validates new role names like the server', () => {
    expect(roleNameProblem('', [])).toMatch(/name/);
    expect(roleNameProblem('Ops', [])).toMatch(/a-z/);
    expect(roleNameProblem('1ops', [])).toMatch(/letter/);
    expect(roleNameProblem('ops', ['ops'])).toMatch(/exists/);
    expect(roleNameProblem('x'.repeat(65), [])).toMatch(/64/);
    expect(roleNameProblem('back-up_2', [])).toBeNull();
  });
});

describe('editing', () => {
  it('toggles cells without touching locked ones', () => {
    const m1 = toggle(map, '/api/finder', 'user', false);
    expect(m1['/api/finder']).toEqual(['admin']);
    expect(map['/api/finder']).toEqual(['admin', 'user']);
    expect(toggle(map, '/api/finder', 'admin', false)).toBe(map);
    const m2 = toggle(map, '/api/get_logs', 'ops', true);
    expect(m2['/api/get_logs']).toEqual(['admin', 'ops']);
    const m3 = toggleMany(map, ['/api/finder', '/api/get_logs', '/api/user/logout'], 'ops', true);
    expect(m3['/api/finder']).toEqual(['admin', 'user', 'ops']);
    expect(m3['/api/user/logout']).toEqual(['admin', 'user']);
  });

  it('sends only the endpoints that changed, always with admin', () => {
    expect(changes(map, map)).toEqual({});
    const edited = toggle(toggle(map, '/api/finder', 'user', false), '/api/get_logs', 'ops', true);
    expect(changes(map, edited)).toEqual({ '/api/finder': ['admin'], '/api/get_logs': ['admin', 'ops'] });
    // Order and a missing admin do not count as changes.
    expect(changes({ '/x': ['user', 'admin'] }, { '/x': ['user'] })).toEqual({});
  });
});

describe('firstSentence', () => {
  it('cuts at the first sentence or clause outside parentheses', () => {
    expect(firstSentence('Copy a file or folder (regular files and folders; symlinks are skipped).')).toBe(
      'Copy a file or folder (regular files and folders; symlinks are skipped).',
    );
    expect(firstSentence('Every user (passwords never included; API keys masked).')).toBe('Every user (passwords never included; API keys masked).');
    expect(firstSentence('Create a user; the response carries the key.')).toBe('Create a user.');
    expect(firstSentence('A URL (see `files.ticket_ttl`, at most 5 minutes) that\ndownloads. More.')).toBe(
      'A URL (see files.ticket_ttl, at most 5 minutes) that downloads.',
    );
    expect(firstSentence('Version 1.2 of it')).toBe('Version 1.2 of it');
    expect(firstSentence('')).toBe('');
  });
});
