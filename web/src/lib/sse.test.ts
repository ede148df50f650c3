import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('parses data lines into events at blank lines', () => {
    const p = new SseParser();
    expect(p.push('data: {"cpu":1}\n\ndata: {"cpu":2}\n\n')).toEqual([
      { event: 'message', data: '{"cpu":1}' },
      { event: 'message', data: '{"cpu":2}' },
    ]);
  });

  it('waits for the rest of an event split across chunks', () => {
    const p = new SseParser();
    expect(p.push('da')).toEqual([]);
    expect(p.push('ta: hel')).toEqual([]);
    expect(p.push('lo\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'message', data: 'hello' }]);
  });

  it('joins several data lines, keeps event names and ids, skips comments', () => {
    const p = new SseParser();
    const evs = p.push(': keep-alive\n\nevent: sample\nid: 7\ndata: a\ndata:b\n\n');
    expect(evs).toEqual([{ event: 'sample', id: '7', data: 'a\nb' }]);
  });

  it('accepts CRLF and CR line endings', () => {
    const p = new SseParser();
    expect(p.push('data: x\r\n\r\ndata: y\r\r\n')).toEqual([
      { event: 'message', data: 'x' },
      { event: 'message', data: 'y' },
    ]);
  });

  it('does not split a CRLF that arrives in two chunks', () => {
    const p = new SseParser();
    expect(p.push('data: x\r')).toEqual([]);
    expect(p.push('\n\r\n')).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('ignores blank-line runs without data and unknown fields', () => {
    const p = new SseParser();
    expect(p.push('\n\nretry: 100\nfoo: bar\n\n')).toEqual([]);
    expect(p.push('data\n\n')).toEqual([{ event: 'message', data: '' }]);
  });
});
