// What kind of file an entry is, for its icon and how to preview it. The server's MIME guess
// comes first; the extension fills in for source files it calls octet-stream.

export type Kind = 'folder' | 'image' | 'video' | 'audio' | 'pdf' | 'markdown' | 'text' | 'archive' | 'other';

export interface EntryLike {
  name: string;
  is_dir: boolean;
  mime: string;
}

const TEXT_EXT = new Set(
  (
    'txt text log csv tsv json jsonc json5 yaml yml toml ini conf cfg env properties xml svg html htm css scss sass less ' +
    'js mjs cjs jsx ts tsx svelte vue rs go py rb php pl lua java kt kts scala swift c h cc cpp hpp cs fs m sh bash zsh fish ' +
    'ps1 bat cmd sql graphql proto gradle cmake make mk dockerfile gitignore gitattributes editorconfig lock patch diff ' +
    'tex rst adoc org srt vtt nfo'
  ).split(' '),
);
const TEXT_NAMES = new Set(['makefile', 'dockerfile', 'readme', 'license', 'changelog', '.gitignore', '.env', '.bashrc', '.profile']);
const ARCHIVE_EXT = new Set('zip tar gz tgz bz2 xz zst 7z rar iso dmg'.split(' '));
const TEXT_MIME = ['application/json', 'application/xml', 'application/javascript', 'application/toml', 'application/x-sh', 'application/sql'];

export function extension(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(i + 1).toLowerCase() : '';
}

export function kindOf(e: EntryLike): Kind {
  if (e.is_dir) return 'folder';
  const mime = e.mime.toLowerCase();
  const ext = extension(e.name);
  if (ext === 'md' || ext === 'markdown' || mime === 'text/markdown') return 'markdown';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime === 'application/pdf') return 'pdf';
  if (ARCHIVE_EXT.has(ext) || mime.includes('zip') || mime.includes('compressed') || mime === 'application/x-tar') return 'archive';
  if (mime.startsWith('text/') || TEXT_MIME.includes(mime) || mime.endsWith('+json') || mime.endsWith('+xml')) return 'text';
  if (TEXT_EXT.has(ext) || TEXT_NAMES.has(e.name.toLowerCase())) return 'text';
  return 'other';
}

/** The icon of each kind (names of Icon.svelte). */
const ICONS: Record<Kind, 'folder' | 'image' | 'video' | 'audio' | 'pdf' | 'text' | 'code' | 'archive' | 'file'> = {
  folder: 'folder',
  image: 'image',
  video: 'video',
  audio: 'audio',
  pdf: 'pdf',
  markdown: 'text',
  text: 'code',
  archive: 'archive',
  other: 'file',
};

export const iconOf = (k: Kind) => ICONS[k];

/** Files the text editor opens (it loads the whole file into memory). */
export const EDIT_MAX_BYTES = 5 * 1024 * 1024;

export function isEditable(e: EntryLike & { size: number }): boolean {
  const k = kindOf(e);
  return (k === 'text' || k === 'markdown') && e.size <= EDIT_MAX_BYTES;
}

/** Readable type for the details line: `PNG image`, `Folder`, `Text`. */
export function describe(e: EntryLike): string {
  const k = kindOf(e);
  const ext = extension(e.name).toUpperCase();
  const label: Record<Kind, string> = {
    folder: 'Folder',
    image: 'image',
    video: 'video',
    audio: 'audio',
    pdf: 'PDF document',
    markdown: 'Markdown',
    text: 'text',
    archive: 'archive',
    other: 'file',
  };
  if (k === 'folder' || k === 'pdf' || k === 'markdown') return label[k];
  return ext ? `${ext} ${label[k]}` : label[k].charAt(0).toUpperCase() + label[k].slice(1);
}
