// Go RE2 syntax → JavaScript RegExp syntax for label matchers and label_replace: inline case-insensitive
// flags ((?i) and (?i:...)), which JavaScript on Node 20 lacks, named groups (?P<name>...), and \z.
// Letters inside a case-insensitive part become [xX] classes; other flags are rejected as unsupported.
import { unsupported } from './errors.ts';

export function translateRegex(re: string): string {
  if (!re.includes('(?')) return re.replace(/\\z/g, '$');
  let out = '';
  // stack of "case-insensitive?" per open group
  const stack: boolean[] = [false];
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const ch = re[i]!;
    const ci = stack[stack.length - 1]!;
    if (ch === '\\') {
      const next = re[i + 1] ?? '';
      out += next === 'z' ? '$' : ch + next;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ci && /[a-zA-Z]/.test(ch) ? ch.toLowerCase() + ch.toUpperCase() : ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      if (re[i + 1] === '^') out += re[++i];
      if (re[i + 1] === ']') out += re[++i];
      continue;
    }
    if (ch === '(') {
      const flags = /^\(\?([a-zA-Z-]*)(\)|:)/.exec(re.slice(i));
      if (flags && re[i + 2] !== 'P' && re[i + 2] !== '<' && re[i + 2] !== '=' && re[i + 2] !== '!') {
        if (!/^i?$/.test(flags[1]!.replace('s', ''))) throw unsupported(`regular expression flags "(?${flags[1]})"`);
        const on = flags[1]!.includes('i') || ci;
        if (flags[2] === ')') {
          // (?i): applies to the rest of the enclosing group
          stack[stack.length - 1] = on;
        } else {
          stack.push(on);
          out += '(?:';
        }
        i += flags[0].length - 1;
        continue;
      }
      if (re.startsWith('(?P<', i)) {
        out += '(?<';
        i += 3;
      } else out += ch;
      stack.push(ci);
      continue;
    }
    if (ch === ')') {
      stack.pop();
      if (stack.length === 0) stack.push(false);
      out += ch;
      continue;
    }
    out += ci && /[a-zA-Z]/.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch;
  }
  return out;
}
