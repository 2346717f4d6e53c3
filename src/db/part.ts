// A part of what `dpmon db install` puts into a target database, in dpmon's own schema `monitoring`:
// its objects for this server's version, what it needs (findings when missing, each with the command
// that fixes it), the settings from the config that shape it, and the maintenance dpmon runs while it
// is installed. A new part is a new file under parts/ and one line in parts/index.ts.
import type { Config } from '../config/index.ts';

/** What preflight learnt about the server and the connecting role, once per command. */
export interface ServerFacts {
  /** server major version, e.g. 16 */
  readonly major: number;
  readonly database: string;
  readonly role: string;
  readonly superuser: boolean;
  /** CREATE on the database: may create the schema */
  readonly createOnDatabase: boolean;
  /** the owner of schema `monitoring`, undefined while it does not exist */
  readonly schemaOwner?: string;
  /** CREATE on schema `monitoring` (false while it does not exist) */
  readonly createOnSchema: boolean;
  /** member of pg_monitor or pg_read_all_stats: sees every role's statement text */
  readonly readsAllStats: boolean;
  /** shared_preload_libraries, as a list; undefined when the role may not read it */
  readonly preloadLibraries?: readonly string[];
  /** whether pg_stat_statements is loaded (in shared_preload_libraries, or answering); undefined when unknown */
  readonly statementsLoaded?: boolean;
  /** the schema pg_stat_statements is installed in, in this database; undefined when not created */
  readonly statementsSchema?: string;
  /** pg_stat_statements can be created here (its files are installed) */
  readonly statementsAvailable: boolean;
}

export interface Finding {
  readonly level: 'error' | 'warning';
  /** what is missing or wrong, in a sentence */
  readonly what: string;
  /** exactly what to run or change, e.g. `GRANT pg_monitor TO dpmon;` */
  readonly fix: string;
}

export interface DbPart {
  readonly name: string;
  /** bumped when the part's objects change: an older install is replaced */
  readonly version: number;
  /** one line for `dpmon db status` */
  readonly title: string;
  /** the config values that shape the objects; a change means the part is installed anew */
  settings(config: Config): Record<string, string | number>;
  /** what the part needs that is not there; an error stops the install of this part */
  check(facts: ServerFacts): Finding[];
  /** the statements that create the part's objects (in schema monitoring) for this server */
  install(facts: ServerFacts, settings: Record<string, string | number>): string[];
  /** the statements that remove them */
  uninstall(): string[];
  /** what dpmon runs on its own schedule while the part is installed */
  readonly maintenance?: { readonly sql: string; intervalMs(config: Config): number };
  /** counts for `dpmon db status` (the part is installed) */
  describe?(query: (sql: string) => Promise<Record<string, unknown>[]>): Promise<Record<string, string | number>>;
}

/** A quoted SQL identifier. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** A quoted SQL string literal. */
export const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
