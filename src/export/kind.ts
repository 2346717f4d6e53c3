// What one kind of `dpmon export` is: its usage, help and how it writes.
import type { Config } from '../config/index.ts';

export interface ExportOptions {
  /** the file (or folder, for kinds that write several) to write; stdout when absent */
  readonly out?: string;
  /** prometheus-rules: also write a promtool unit-test file here */
  readonly tests?: string;
  /** alertmanager: the folder `*_file` secret references point into */
  readonly secretsDir?: string;
}

export interface ExportKind {
  /** the usage line's arguments after the kind */
  readonly usage: string;
  readonly help: string;
  /** writes the export; returns lines for stderr (what was written, what could not be expressed) */
  run(config: Config, opts: ExportOptions, stdout: (text: string) => void): Promise<string[]>;
}

/** A request the kind cannot carry out as asked (an option missing its partner): exit 2, not 1. */
export class ExportUsageError extends Error {}
