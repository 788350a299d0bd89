import { StreamsError } from '@streams/core';

/** A row predicate compiled from an expression such as `label == 3 and score > 0.5`. */
export type RowPredicate = (row: Record<string, unknown>) => boolean;

type Tok =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' };

function bad(expr: string, why: string): StreamsError {
  return new StreamsError('STREAMS_INVALID_ARGUMENT', `[streams/index] filter "${expr}": ${why}`, {
    fix: 'write filters like: label == 3 and (score >= 0.5 or split != "val"); columns with spaces in "double quotes"... use `backticks`',
  });
}

function tokenize(expr: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = expr.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      out.push({ t: 'op', v: two });
      i += 2;
      continue;
    }
    if ('<>()!='.includes(c)) {
      out.push({ t: 'op', v: c === '=' ? '==' : c });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && j + 1 < expr.length) j++;
        s += expr[j];
        j++;
      }
      if (j >= expr.length) throw bad(expr, 'unterminated string');
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = expr.indexOf('`', i + 1);
      if (j === -1) throw bad(expr, 'unterminated `column`');
      out.push({ t: 'id', v: expr.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const num = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(expr.slice(i));
    if (
      num &&
      (c !== '+' && c !== '-' ? true : out.length === 0 || out[out.length - 1]?.t === 'op')
    ) {
      out.push({ t: 'num', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][\w.]*/.exec(expr.slice(i));
    if (id) {
      const w = id[0];
      const lw = w.toLowerCase();
      if (lw === 'and') out.push({ t: 'op', v: '&&' });
      else if (lw === 'or') out.push({ t: 'op', v: '||' });
      else if (lw === 'not') out.push({ t: 'op', v: '!' });
      else out.push({ t: 'id', v: w });
      i += w.length;
      continue;
    }
    throw bad(expr, `unexpected "${c}"`);
  }
  out.push({ t: 'end' });
  return out;
}

type Node = (row: Record<string, unknown>) => unknown;

/** Compiles a filter expression: comparisons (`== != < <= > >=`), `and`/`or`/`not` (or `&& || !`), parentheses, numbers, strings, `true`, `false`, `null`. */
export function compileFilter(expr: string): RowPredicate {
  const toks = tokenize(expr);
  let p = 0;
  const peek = () => toks[p] as Tok;
  const isOp = (v: string) => {
    const t = peek();
    return t.t === 'op' && t.v === v;
  };
  const orExpr = (): Node => {
    let left = andExpr();
    while (isOp('||')) {
      p++;
      const l = left;
      const r = andExpr();
      left = (row) => Boolean(l(row)) || Boolean(r(row));
    }
    return left;
  };
  const andExpr = (): Node => {
    let left = notExpr();
    while (isOp('&&')) {
      p++;
      const l = left;
      const r = notExpr();
      left = (row) => Boolean(l(row)) && Boolean(r(row));
    }
    return left;
  };
  const notExpr = (): Node => {
    if (isOp('!')) {
      p++;
      const inner = notExpr();
      return (row) => !inner(row);
    }
    return cmp();
  };
  const cmp = (): Node => {
    const left = atom();
    const t = peek();
    if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      p++;
      const right = atom();
      const op = t.v;
      return (row) => compare(op, left(row), right(row));
    }
    return left;
  };
  const atom = (): Node => {
    const t = peek();
    p++;
    if (t.t === 'num' || t.t === 'str') {
      const v = t.v;
      return () => v;
    }
    if (t.t === 'id') {
      const name = t.v;
      if (name === 'true') return () => true;
      if (name === 'false') return () => false;
      if (name === 'null') return () => null;
      return (row) => row[name] ?? null;
    }
    if (t.t === 'op' && t.v === '(') {
      const inner = orExpr();
      if (!isOp(')')) throw bad(expr, 'missing )');
      p++;
      return inner;
    }
    throw bad(expr, t.t === 'end' ? 'unexpected end' : `unexpected "${t.t === 'op' ? t.v : ''}"`);
  };
  const root = orExpr();
  if (peek().t !== 'end') throw bad(expr, 'unexpected text after the expression');
  return (row) => Boolean(root(row));
}

function norm(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  return v;
}

function compare(op: string, a0: unknown, b0: unknown): boolean {
  const a = norm(a0);
  const b = norm(b0);
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
  if (a === null || b === null || a === undefined || b === undefined) return false;
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}
