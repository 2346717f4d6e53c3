// Which columns of a table a statement filters on, read from its text as pg_stat_statements keeps it
// (constants replaced by $n). A lexical reading, not a parse: it finds the table after FROM, JOIN,
// UPDATE or DELETE FROM, and in the WHERE clause the identifiers compared with =, IN, <, >, BETWEEN,
// LIKE or IS, keeping those that are columns of the table — and, when qualified (`o.status`), qualified
// with the table's name or its alias in the statement. Equality columns come first (they lead a btree
// best), then ranges; at most three.

const COMPARISON = /(?:\b(\w+)\.)?"?([A-Za-z_][A-Za-z0-9_$]*)"?\s*(=|<>|!=|<=|>=|<|>|\bIN\b|\bBETWEEN\b|\bLIKE\b|\bILIKE\b|\bIS\b)/gi;
const CLAUSE_END = /\b(GROUP\s+BY|ORDER\s+BY|LIMIT|OFFSET|RETURNING|HAVING|WINDOW|FOR\s+UPDATE|FOR\s+SHARE|UNION|EXCEPT|INTERSECT)\b/i;
const MAX_COLUMNS = 3;

/** Whether the statement reads or changes `table` (optionally schema-qualified in the text). */
export function mentionsTable(text: string, schema: string, table: string): boolean {
  const t = escape(table);
  const re = new RegExp(`\\b(?:FROM|JOIN|UPDATE|DELETE\\s+FROM)\\s+(?:"?${escape(schema)}"?\\.)?"?${t}"?(?![\\w$."])`, 'i');
  return re.test(text);
}

const NOT_ALIAS = new Set(['where', 'join', 'on', 'left', 'right', 'inner', 'outer', 'full', 'cross', 'natural', 'using', 'group', 'order', 'limit', 'set', 'returning', 'for', 'union', 'window', 'offset', 'having', 'lateral', 'tablesample']);

/** The names a statement may qualify the table's columns with: the table's own and its aliases. */
function qualifiers(text: string, schema: string, table: string): Set<string> {
  const names = new Set([table.toLowerCase()]);
  const re = new RegExp(`\\b(?:FROM|JOIN|UPDATE|DELETE\\s+FROM)\\s+(?:"?${escape(schema)}"?\\.)?"?${escape(table)}"?(?:\\s+(?:AS\\s+)?([A-Za-z_][A-Za-z0-9_]*))?`, 'gi');
  for (const m of text.matchAll(re)) if (m[1] && !NOT_ALIAS.has(m[1].toLowerCase())) names.add(m[1].toLowerCase());
  return names;
}

/** The table's columns the statement filters on, equality first; empty when it filters on none. */
export function filterColumns(text: string, columns: ReadonlySet<string>, relation: { schema: string; table: string }): string[] {
  const own = qualifiers(text, relation.schema, relation.table);
  const where = /\bWHERE\b([\s\S]*)$/i.exec(text);
  if (!where) return [];
  const clause = where[1]!.split(CLAUSE_END)[0]!;
  const eq: string[] = [];
  const range: string[] = [];
  for (const m of clause.matchAll(COMPARISON)) {
    const col = m[2]!;
    if (m[1] !== undefined && !own.has(m[1].toLowerCase())) continue;
    const name = columns.has(col) ? col : columns.has(col.toLowerCase()) ? col.toLowerCase() : undefined;
    if (name === undefined || eq.includes(name) || range.includes(name)) continue;
    (/^(=|IN)$/i.test(m[3]!.trim()) ? eq : range).push(name);
  }
  return [...eq, ...range].slice(0, MAX_COLUMNS);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
