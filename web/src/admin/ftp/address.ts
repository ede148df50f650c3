// FTP listen addresses as the settings and the status give them (`host:port`, `[v6]:port`).

/** Whether `addr` listens on every interface: `0.0.0.0`, `::` (`[::]`), or no host at all. */
export function isAllInterfaces(addr: string): boolean {
  const a = addr.trim();
  const m = /^\[(.*)\]:\d+$/.exec(a) ?? /^(.*):\d+$/.exec(a);
  const host = (m ? m[1] : a) ?? '';
  return host === '' || host === '0.0.0.0' || /^(0*:)*:?0*$/.test(host) || host === '::';
}
