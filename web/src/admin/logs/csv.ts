// CSV export of audit log rows. Cells are quoted when needed (RFC 4180), and a cell a
// spreadsheet would run as a formula (starting with = + - @, or a tab or carriage return) gets
// a leading apostrophe, so an attacker-chosen username or file name cannot inject one.

const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: formula-neutralised, then quoted if it holds a comma, quote or line break. */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  if (/[",\r\n]/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** Rows of objects as CSV text with a header line; `\r\n` line ends as spreadsheets expect. */
export function toCsv<T>(columns: readonly (keyof T & string)[], rows: readonly T[]): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
