import { describe, expect, it } from 'vitest';
import { plan } from './drop';

const f = (name: string) => ({ name, size: 1 }) as File;

describe('upload plan', () => {
  it('puts loose files in the folder and trees under their own folders, creating parents first', () => {
    const p = plan('/up', [
      { file: f('a.txt'), rel: '' },
      { file: f('b.jpg'), rel: 'trip/day 2' },
      { file: f('c.jpg'), rel: 'trip' },
    ], ['trip/empty']);
    expect(p.files.map((x) => [x.dir, x.label])).toEqual([
      ['/up', 'a.txt'],
      ['/up/trip/day 2', 'trip/day 2/b.jpg'],
      ['/up/trip', 'trip/c.jpg'],
    ]);
    expect(p.mkdirs).toEqual(['/up/trip', '/up/trip/day 2', '/up/trip/empty']);
  });

  it('works at the root', () => {
    const p = plan('/', [{ file: f('x'), rel: 'd' }]);
    expect(p.files[0]?.dir).toBe('/d');
    expect(p.mkdirs).toEqual(['/d']);
  });
});
