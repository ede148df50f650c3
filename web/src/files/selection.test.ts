import { describe, expect, it } from 'vitest';
import { clear, click, emptySelection, move, only, ordered, prune, selectAll } from './selection';

const keys = ['/a', '/b', '/c', '/d', '/e'];
const sel = (s: { selected: ReadonlySet<string> }) => [...s.selected].sort();

describe('selection by pointer', () => {
  it('a plain click selects one and sets the anchor', () => {
    const s = click(click(emptySelection(), keys, '/b'), keys, '/d');
    expect(sel(s)).toEqual(['/d']);
    expect(s.anchor).toBe('/d');
  });

  it('ctrl-click toggles without losing the others', () => {
    let s = click(emptySelection(), keys, '/a');
    s = click(s, keys, '/c', { toggle: true });
    expect(sel(s)).toEqual(['/a', '/c']);
    s = click(s, keys, '/a', { toggle: true });
    expect(sel(s)).toEqual(['/c']);
  });

  it('shift-click selects the range from the anchor, in both directions', () => {
    let s = click(emptySelection(), keys, '/b');
    s = click(s, keys, '/d', { shift: true });
    expect(sel(s)).toEqual(['/b', '/c', '/d']);
    s = click(s, keys, '/a', { shift: true });
    expect(sel(s)).toEqual(['/a', '/b']);
    expect(s.anchor).toBe('/b');
  });

  it('ctrl+shift-click adds a range to what is selected', () => {
    let s = click(emptySelection(), keys, '/a');
    s = click(s, keys, '/c', { toggle: true });
    s = click(s, keys, '/e', { toggle: true, shift: true });
    expect(sel(s)).toEqual(['/a', '/c', '/d', '/e']);
  });

  it('ignores keys that are not shown', () => {
    const s = click(emptySelection(), keys, '/zzz');
    expect(s.selected.size).toBe(0);
  });
});

describe('selection by keyboard', () => {
  it('arrows move the focus and select it; the first press starts at an end', () => {
    let s = move(emptySelection(), keys, 1);
    expect(s.focus).toBe('/a');
    s = move(s, keys, 1);
    expect(sel(s)).toEqual(['/b']);
    expect(move(emptySelection(), keys, -1).focus).toBe('/e');
  });

  it('stops at the ends and jumps with home/end', () => {
    let s = move(emptySelection(), keys, 'end');
    expect(s.focus).toBe('/e');
    s = move(s, keys, 3);
    expect(s.focus).toBe('/e');
    s = move(s, keys, 'home');
    expect(s.focus).toBe('/a');
    s = move(s, keys, -4);
    expect(s.focus).toBe('/a');
  });

  it('shift+arrows extend from the anchor and shrink back', () => {
    let s = click(emptySelection(), keys, '/b');
    s = move(s, keys, 1, true);
    s = move(s, keys, 1, true);
    expect(sel(s)).toEqual(['/b', '/c', '/d']);
    s = move(s, keys, -2, true);
    expect(sel(s)).toEqual(['/b']);
    s = move(s, keys, -1, true);
    expect(sel(s)).toEqual(['/a', '/b']);
  });

  it('moves by a row of a grid', () => {
    const s = move(only('/a'), keys, 3);
    expect(s.focus).toBe('/d');
  });

  it('does nothing in an empty folder', () => {
    const s = emptySelection();
    expect(move(s, [], 1)).toBe(s);
  });
});

describe('whole-selection helpers', () => {
  it('select all, clear, ordered', () => {
    let s = selectAll(emptySelection(), keys);
    expect(s.selected.size).toBe(5);
    expect(ordered(click(click(s, keys, '/d'), keys, '/a', { toggle: true }), keys)).toEqual(['/a', '/d']);
    s = clear(s);
    expect(s.selected.size).toBe(0);
  });

  it('prune drops entries that disappeared and keeps the same object when nothing changed', () => {
    const s = click(click(emptySelection(), keys, '/a'), keys, '/c', { toggle: true });
    const p = prune(s, ['/a', '/b']);
    expect(sel(p)).toEqual(['/a']);
    expect(p.focus).toBeNull();
    expect(prune(p, ['/a', '/b'])).toBe(p);
  });
});
