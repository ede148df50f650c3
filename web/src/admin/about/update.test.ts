import { describe, expect, it } from 'vitest';
import { explain, isBusy, STATES } from './update';

describe('update words', () => {
  it('explains known codes and falls back to the server message', () => {
    expect(explain('update_not_configured', 'x')).toMatch(/config file/);
    expect(explain('update_not_newer', 'x')).toMatch(/newest/);
    expect(explain('something_new', 'Server says so')).toBe('Server says so');
    expect(explain(undefined, 'Server says so')).toBe('Server says so');
  });

  it('knows which states are busy', () => {
    expect(['downloading', 'installing', 'restarting'].every(isBusy)).toBe(true);
    expect(['idle', 'failed', 'installed'].some(isBusy)).toBe(false);
    expect(Object.keys(STATES)).toHaveLength(6);
  });
});
