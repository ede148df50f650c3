// Save text as a file through a temporary object URL (nothing leaves the browser).

export function downloadText(text: string, filename: string, type = 'text/csv;charset=utf-8'): void {
  // A byte order mark so spreadsheet programs read the file as UTF-8.
  const blob = new Blob(['\ufeff', text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
