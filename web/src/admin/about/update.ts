// Words for the self-update: the states of /api/update/status and the refusal codes of
// POST /api/update, so a person knows what happened and what to do.

export const STATES: Record<string, string> = {
  idle: 'No update has run since Nook started.',
  downloading: 'Downloading the new version…',
  installing: 'Installing…',
  restarting: 'Restarting Nook…',
  failed: 'The last update failed.',
  installed: 'The last update was installed.',
};

const CODES: Record<string, string> = {
  update_not_configured:
    'Updates are not set up on this server. An administrator sets [update] url and public_key in the config file (see the README, “Updates”), then restarts Nook.',
  update_not_newer: 'You are on the newest version.',
  update_in_progress: 'An update is already running.',
  update_unsigned: 'The release is not signed, so it was refused. Nothing was changed.',
  update_bad_signature: 'The release signature does not match the configured key, so it was refused. Nothing was changed.',
  update_no_artifact: 'The release has no build for this platform.',
  update_hash_mismatch: 'The download did not match the release’s checksum; nothing was installed.',
  update_artifact_broken: 'The downloaded program did not start; nothing was installed.',
  update_not_writable:
    'Nook cannot replace its own program file here (for example in a container or a package install). Update the image or package instead.',
  update_source_invalid: 'The configured update source is not a valid URL or folder.',
};

/** An explanation for a refusal or failure code, falling back to the server's message. */
export function explain(code: string | null | undefined, message: string): string {
  return (code && CODES[code]) || message;
}

/** Whether a state means work is under way (keep polling). */
export function isBusy(state: string): boolean {
  return state === 'downloading' || state === 'installing' || state === 'restarting';
}
