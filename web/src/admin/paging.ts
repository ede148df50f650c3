// Reading a paged listing to the end (audit log export, FTP accounts).

/**
 * Fetch every row of a paged listing: pages of `pageSize` from offset 0 until a short page.
 * `max` stops a runaway export (the caller says so if it was reached).
 */
export async function fetchAll<T>(
  page: (offset: number, limit: number) => Promise<T[]>,
  pageSize: number,
  max = 100_000,
  onProgress?: (count: number) => void,
): Promise<{ rows: T[]; complete: boolean }> {
  const rows: T[] = [];
  for (;;) {
    const batch = await page(rows.length, pageSize);
    rows.push(...batch);
    onProgress?.(rows.length);
    if (batch.length < pageSize) return { rows, complete: true };
    if (rows.length >= max) return { rows, complete: false };
  }
}
