import { describe, expect, it } from 'vitest';
import { actionFor, SHORTCUTS } from './keys';

const a = (key: string, mods: Partial<Record<'ctrlKey' | 'metaKey' | 'shiftKey' | 'altKey', boolean>> = {}, typing = false) =>
  actionFor({ key, ...mods }, typing);

describe('keyboard mapping', () => {
  it('maps the documented keys', () => {
    expect(a('ArrowDown')).toEqual({ action: 'down', extend: false });
    expect(a('ArrowUp', { shiftKey: true })).toEqual({ action: 'up', extend: true });
    expect(a('Enter')?.action).toBe('open');
    expect(a('Backspace')?.action).toBe('parent');
    expect(a('Delete')?.action).toBe('delete');
    expect(a('F2')?.action).toBe('rename');
    expect(a('a', { ctrlKey: true })?.action).toBe('selectAll');
    expect(a('A', { metaKey: true })?.action).toBe('selectAll');
    expect(a('/')?.action).toBe('search');
    expect(a('?', { shiftKey: true })?.action).toBe('help');
    expect(a('Escape')?.action).toBe('clear');
    expect(a('F10', { shiftKey: true })?.action).toBe('menu');
    expect(a('ContextMenu')?.action).toBe('menu');
    expect(a(' ')?.action).toBe('toggle');
  });

  it('leaves plain letters and browser shortcuts alone', () => {
    expect(a('a')).toBeNull();
    expect(a('F10')).toBeNull();
    expect(a('r', { ctrlKey: true })).toBeNull();
    expect(a('Enter', { ctrlKey: true })).toBeNull();
    expect(a('ArrowLeft', { altKey: true })).toBeNull(); // browser back
  });

  it('only Escape counts while typing in a field', () => {
    expect(a('Backspace', {}, true)).toBeNull();
    expect(a('/', {}, true)).toBeNull();
    expect(a('a', { ctrlKey: true }, true)).toBeNull();
    expect(a('Escape', {}, true)?.action).toBe('clear');
  });

  it('the help lists every action key', () => {
    const text = SHORTCUTS.map((s) => s.keys).join(' ');
    for (const k of ['Enter', 'Backspace', 'Delete', 'F2', 'Ctrl+A', '/', '?']) expect(text).toContain(k);
  });
});
