import { describe, expect, it } from 'vitest';
import { describe as describeType, isEditable, kindOf } from './filetype';
import { copyName, nameProblem, stemLength } from './names';

describe('nameProblem', () => {
  it('accepts ordinary names, including spaces and unicode', () => {
    expect(nameProblem('Holiday photos')).toBeNull();
    expect(nameProblem('Ünïcødé 📷.jpg')).toBeNull();
  });
  it('refuses what the server would refuse', () => {
    expect(nameProblem('  ')).toMatch(/Enter a name/);
    expect(nameProblem('..')).toMatch(/reserved/);
    expect(nameProblem('a/b')).toMatch(/cannot contain/);
    expect(nameProblem('a\\b')).toMatch(/cannot contain/);
    expect(nameProblem('a\nb')).toMatch(/control/);
    expect(nameProblem('x'.repeat(256))).toMatch(/too long/);
  });
  it('spots a name already in the folder, except the entry being renamed', () => {
    const here = new Set(['a.txt', 'b']);
    expect(nameProblem('a.txt', here)).toMatch(/already here/);
    expect(nameProblem('a.txt', here, 'a.txt')).toBeNull();
  });
});

describe('copyName', () => {
  it('keeps the extension and counts up', () => {
    expect(copyName('a.txt', new Set(['a.txt']))).toBe('a (copy).txt');
    expect(copyName('a.txt', new Set(['a.txt', 'a (copy).txt']))).toBe('a (copy 2).txt');
    expect(copyName('archive.tar.gz', new Set())).toBe('archive.tar (copy).gz');
    expect(copyName('.bashrc', new Set())).toBe('.bashrc (copy)');
    expect(copyName('v1.2', new Set(), true)).toBe('v1.2 (copy)');
  });
  it('selects the stem when renaming', () => {
    expect(stemLength('photo.jpeg', false)).toBe(5);
    expect(stemLength('.env', false)).toBe(4);
    expect(stemLength('dir.d', true)).toBe(5);
  });
});

describe('file kinds', () => {
  const f = (name: string, mime = 'application/octet-stream', is_dir = false) => ({ name, mime, is_dir });
  it('uses the MIME type, then the extension', () => {
    expect(kindOf(f('x', 'inode/directory', true))).toBe('folder');
    expect(kindOf(f('a.png', 'image/png'))).toBe('image');
    expect(kindOf(f('a.mp4', 'video/mp4'))).toBe('video');
    expect(kindOf(f('a.mp3', 'audio/mpeg'))).toBe('audio');
    expect(kindOf(f('a.pdf', 'application/pdf'))).toBe('pdf');
    expect(kindOf(f('README.md', 'text/markdown'))).toBe('markdown');
    expect(kindOf(f('notes.md'))).toBe('markdown');
    expect(kindOf(f('main.rs'))).toBe('text');
    expect(kindOf(f('Makefile'))).toBe('text');
    expect(kindOf(f('a.json', 'application/json'))).toBe('text');
    expect(kindOf(f('a.zip', 'application/zip'))).toBe('archive');
    expect(kindOf(f('a.bin'))).toBe('other');
  });
  it('edits only text up to the size limit', () => {
    expect(isEditable({ ...f('a.txt', 'text/plain'), size: 10 })).toBe(true);
    expect(isEditable({ ...f('a.txt', 'text/plain'), size: 50 * 1024 * 1024 })).toBe(false);
    expect(isEditable({ ...f('a.png', 'image/png'), size: 10 })).toBe(false);
  });
  it('describes types for people', () => {
    expect(describeType(f('a.png', 'image/png'))).toBe('PNG image');
    expect(describeType(f('x', 'inode/directory', true))).toBe('Folder');
    expect(describeType(f('noext'))).toBe('File');
  });
});
