import { describe, expect, it } from 'vitest';
import { isAllInterfaces } from './address';

describe('isAllInterfaces', () => {
  it('knows the wildcard addresses, v4 and v6', () => {
    for (const a of ['0.0.0.0:2121', '[::]:21', '[0:0:0:0:0:0:0:0]:21', ':2121', '0.0.0.0', '::']) expect(isAllInterfaces(a), a).toBe(true);
  });

  it('and that one address is not', () => {
    for (const a of ['127.0.0.1:2121', '192.168.1.10:21', '[::1]:21', '[fe80::1]:21', 'nas.local:21', '10.0.0.1']) expect(isAllInterfaces(a), a).toBe(false);
  });
});
