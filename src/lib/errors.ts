// Runtime errors: one shape (DpmonError: a stable code and a message that names what failed and why)
// and one table of codes, which docs/errors.md lists too (src/lib/errors.test.ts checks they agree).
// Configuration problems have their own table (CONFIG_ERROR_CODES in src/config/errors.ts): they are
// reported as file:line:col lines before anything starts, not thrown while running.

/** Every code a runtime error can carry, with its meaning. */
export const RUNTIME_ERROR_CODES = {
  STORE_OPEN: 'the data directory or `history.db` cannot be created, opened or read (unwritable directory, corrupt or foreign file); nothing starts',
  STORE_WRITE: 'a flush, a rollup or retention could not write (disk full, file removed, store closed); reported once per distinct error, samples stay buffered in memory until the next flush succeeds',
  SILENCE_INVALID: 'a silence that cannot be stored: no matchers, a bad label name or regex, only matchers that match the empty string, an end not after the start or in the past',
  SILENCE_NOT_FOUND: 'an update or expiry names a silence id that does not exist (or was deleted after its retention)',
  REMEDIATION_PATH: 'a file action was asked to touch a path outside its allowed roots, a refused root (`/`, `/etc`, the data directories, …), a symlink out of its root, or a file that changed between plan and execute',
  EMBEDDED_POSTGRES: 'the embedded cluster could not be set up (data dir, binaries, user `postgres`), `initdb` failed, the server did not reach "ready to accept connections", or `CREATE EXTENSION pg_stat_statements` failed; the state file is missing for an existing cluster',
} as const;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERROR_CODES;

/** A runtime failure with a stable code (docs/errors.md); subclasses narrow the code to their area. */
export class DpmonError<C extends RuntimeErrorCode = RuntimeErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
