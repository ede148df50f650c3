import { describe, expect, it } from 'vitest';
import spec from '../../../../openapi/openapi.json';
import { allCapabilities, capabilityGroups, capabilityState, changedCapabilities, DEFS, matches } from './capabilities';
import type { RoleMap, SpecLike } from './matrix';

/** Every endpoint of the API that needs a sign-in: what the server's role map holds. */
const gated = Object.entries((spec as { paths: Record<string, Record<string, { security?: unknown[] }>> }).paths)
  .filter(([, ops]) => Object.values(ops).some((o) => (o.security ?? []).length > 0))
  .map(([path]) => path);

describe('capabilities', () => {
  it('name every endpoint of the API that needs a sign-in, each in exactly one capability', () => {
    const map: RoleMap = Object.fromEntries(gated.map((p) => [p, ['admin']]));
    const groups = capabilityGroups(map, spec as SpecLike);
    // None is left for "Other": a new endpoint needs words here.
    expect(groups.map((g) => g.id)).not.toContain('other');
    const listed = allCapabilities(groups).flatMap((c) => c.endpoints);
    expect([...listed].sort()).toEqual([...gated].sort());
    expect(new Set(listed).size).toBe(listed.length);
    // Far fewer rows than endpoints, in words.
    expect(allCapabilities(groups).length).toBeLessThan(gated.length * 0.75);
    for (const c of allCapabilities(groups)) expect(c.label).toMatch(/^[A-Z][^/_]*$/);
  });

  it('match endpoint templates whatever their parameter is called, and keep the map’s spelling', () => {
    const groups = capabilityGroups({ '/api/v1/user/{userID}': ['admin'], '/api/v1/sftp_connection/{connectionID}': ['admin'] });
    const caps = allCapabilities(groups);
    expect(caps.find((c) => c.id === 'ftp.accounts')?.endpoints).toEqual(['/api/v1/user/{userID}']);
    expect(caps.find((c) => c.id === 'ftp.disconnect')?.endpoints).toEqual(['/api/v1/sftp_connection/{connectionID}']);
    // Capabilities the server does not have are left out.
    expect(caps.map((c) => c.id)).toEqual(['ftp.accounts', 'ftp.disconnect']);
  });

  it('put an endpoint nobody named under Other, labelled from the spec without notes in parentheses', () => {
    const s: SpecLike = { paths: { '/api/new_thing': { post: { summary: 'Frobnicate the widgets (seed 002). More text.' } } } };
    const groups = capabilityGroups({ '/api/new_thing': ['admin'], '/api/no_doc': ['admin'] }, s);
    expect(groups.map((g) => g.id)).toEqual(['other']);
    expect(groups[0]?.capabilities.map((c) => c.label)).toEqual(['Frobnicate the widgets', '/api/no_doc']);
  });

  it('show all, some or none, and count changes per capability', () => {
    const map: RoleMap = { '/api/upload': ['admin', 'user'], '/api/tus': ['admin', 'user'], '/api/tus/{id}': ['admin'], '/api/put_file': ['admin'] };
    const upload = ['/api/upload', '/api/put_file', '/api/tus', '/api/tus/{id}'];
    expect(capabilityState(map, upload, 'user')).toBe('some');
    expect(capabilityState(map, upload, 'admin')).toBe('all');
    expect(capabilityState(map, upload, 'guest')).toBe('none');
    const groups = capabilityGroups({ ...map, '/api/move': ['admin'] });
    expect(changedCapabilities(groups, { '/api/tus': ['admin'], '/api/upload': ['admin'] })).toBe(1);
    expect(changedCapabilities(groups, { '/api/tus': ['admin'], '/api/move': ['admin', 'user'] })).toBe(2);
  });

  it('are found by their words, their group or an endpoint', () => {
    const groups = capabilityGroups({ '/api/upload': ['admin'], '/api/tus': ['admin'], '/api/delete_file': ['admin'] });
    const files = groups[0];
    if (!files) throw new Error('no group');
    const found = (q: string) => files.capabilities.filter((c) => matches(c, files, q)).map((c) => c.id);
    expect(found('UPLOAD')).toEqual(['files.upload']);
    expect(found('/api/tus')).toEqual(['files.upload']);
    expect(found('folders')).toEqual(['files.upload', 'files.delete']);
    expect(found('')).toEqual(['files.upload', 'files.delete']);
    expect(DEFS.every((d) => d.capabilities.length > 0)).toBe(true);
  });
});
