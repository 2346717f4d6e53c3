// Where a JSON text stops being JSON, as line and column, for error messages a person can act on.
// Node 20's JSON.parse gives "at position N" for some errors but not for others
// (`Unexpected token '}', "{"a":}" is not valid JSON`, `Unexpected end of JSON input`), so the offset
// is found by a scan of the grammar (RFC 8259) run only after JSON.parse has refused the text.

export interface JsonErrorPlace {
  /** 0-based offset in characters of the first character that cannot continue a JSON text */
  readonly offset: number;
  /** 1-based */
  readonly line: number;
  /** 1-based, in characters */
  readonly column: number;
}

class Stop extends Error {}

/** The offset of the first syntax error in text, or undefined when text is valid JSON. Linear. */
export function jsonSyntaxErrorOffset(text: string): number | undefined {
  let i = 0;
  const n = text.length;
  const stop = (): never => {
    throw new Stop();
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const digit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  const literal = (word: string) => {
    for (const c of word) {
      if (text[i] !== c) stop();
      i++;
    }
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) stop();
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') stop();
      if (c !== '\\') {
        i++;
        continue;
      }
      i++;
      const e = text[i];
      if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
      else if (e === 'u') {
        i++;
        for (let k = 0; k < 4; k++) {
          if (!/[0-9a-fA-F]/.test(text[i] ?? '')) stop();
          i++;
        }
      } else stop();
    }
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (digit(text[i])) while (digit(text[i])) i++;
    else stop();
    if (text[i] === '.') {
      i++;
      if (!digit(text[i])) stop();
      while (digit(text[i])) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!digit(text[i])) stop();
      while (digit(text[i])) i++;
    }
  };
  // depth is bounded by the caller (jsonNestsDeeperThan runs first), so recursion is safe
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        if (text[i] !== '"') stop();
        string();
        ws();
        if (text[i] !== ':') stop();
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || digit(c)) return number();
    stop();
  };
  try {
    value();
    ws();
    if (i < n) stop();
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return Math.min(i, n);
    throw err;
  }
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): JsonErrorPlace {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 0x0a) {
      line++;
      lineStart = k + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}

/** Where text's first JSON syntax error is, or undefined when it has none. */
export function jsonErrorPlace(text: string): JsonErrorPlace | undefined {
  const offset = jsonSyntaxErrorOffset(text);
  return offset === undefined ? undefined : lineColumn(text, offset);
}
