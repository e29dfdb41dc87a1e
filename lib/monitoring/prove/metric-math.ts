/**
 * The part of CloudWatch metric math the alarms here use, over a window of period slots:
 * arithmetic (+ - * /), comparisons (returning 1 or 0), `IF`, `FILL`, and `MAX` / `MIN` / `SUM` /
 * `AVG` of an array of time series. Semantics from the metric math documentation,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html :
 *
 * - an expression's time series has a value only at timestamps where its inputs have one; an
 *   operation on two time series is applied timestamp by timestamp, and a timestamp missing in
 *   either input is missing in the output (that is why the alarms `FILL(x, 0)` every sparse count);
 * - `FILL(ts, S)` fills the missing values of the time series with the scalar (or with another time
 *   series' value at that timestamp); REPEAT and LINEAR are not used here and are refused;
 * - `IF(condition, trueValue[, falseValue])`: the condition is FALSE where its value is 0 and TRUE
 *   otherwise, evaluated per timestamp; with falseValue omitted the output has no datapoint where
 *   the condition is FALSE ("is an empty time series ... if scalar3/metric3 is omitted");
 * - `MAX` (`MIN`, `SUM`, `AVG`) of an array of time series is one time series (per timestamp, over
 *   the series that have a value there); of a single time series it is a scalar over the window.
 *
 * A division by zero yields no datapoint (no alarm here divides by an unguarded zero).
 */

/** One value per period slot of the window; `undefined` is a missing datapoint. */
export type Series = readonly (number | undefined)[];
export type MathValue = number | { readonly series: Series } | { readonly array: readonly Series[] };

type Token =
  | { t: 'num'; v: number }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'punct'; v: '(' | ')' | '[' | ']' | ',' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?/i.exec(text.slice(i));
      if (!m) throw new Error(`metric math: bad number at ${i} in '${text}'`);
      tokens.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if ('()[],'.includes(c)) {
      tokens.push({ t: 'punct', v: c as '(' });
      i++;
    } else {
      const two = text.slice(i, i + 2);
      if (['>=', '<=', '==', '!='].includes(two)) {
        tokens.push({ t: 'op', v: two });
        i += 2;
      } else if ('+-*/<>^'.includes(c)) {
        tokens.push({ t: 'op', v: c });
        i++;
      } else throw new Error(`metric math: unexpected '${c}' in '${text}'`);
    }
  }
  return tokens;
}

export type Node =
  | { k: 'num'; v: number }
  | { k: 'ref'; id: string }
  | { k: 'call'; fn: string; args: Node[] }
  | { k: 'array'; items: Node[] }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'neg'; a: Node };

const PRECEDENCE: Record<string, number> = {
  '==': 1,
  '!=': 1,
  '<': 1,
  '>': 1,
  '<=': 1,
  '>=': 1,
  '+': 2,
  '-': 2,
  '*': 3,
  '/': 3,
  '^': 4,
};

export function parseExpression(text: string): Node {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (v: string) => {
    const tok = tokens[pos++];
    if (!tok || tok.v !== v) throw new Error(`metric math: expected '${v}' in '${text}'`);
  };
  const primary = (): Node => {
    const tok = tokens[pos++];
    if (!tok) throw new Error(`metric math: unexpected end of '${text}'`);
    if (tok.t === 'num') return { k: 'num', v: tok.v };
    if (tok.t === 'op' && tok.v === '-') return { k: 'neg', a: primary() };
    if (tok.t === 'punct' && tok.v === '(') {
      const inner = expr(0);
      expect(')');
      return inner;
    }
    if (tok.t === 'punct' && tok.v === '[') {
      const items: Node[] = [];
      while (peek()?.v !== ']') {
        items.push(expr(0));
        if (peek()?.v === ',') pos++;
      }
      expect(']');
      return { k: 'array', items };
    }
    if (tok.t === 'id') {
      if (peek()?.v === '(') {
        pos++;
        const args: Node[] = [];
        while (peek()?.v !== ')') {
          args.push(expr(0));
          if (peek()?.v === ',') pos++;
        }
        expect(')');
        return { k: 'call', fn: tok.v.toUpperCase(), args };
      }
      return { k: 'ref', id: tok.v };
    }
    throw new Error(`metric math: unexpected '${tok.v}' in '${text}'`);
  };
  const expr = (min: number): Node => {
    let left = primary();
    for (;;) {
      const tok = peek();
      if (tok?.t !== 'op' || PRECEDENCE[tok.v] === undefined || PRECEDENCE[tok.v] < min) return left;
      pos++;
      const right = expr(PRECEDENCE[tok.v] + 1);
      left = { k: 'bin', op: tok.v, a: left, b: right };
    }
  };
  const node = expr(0);
  if (pos !== tokens.length) throw new Error(`metric math: trailing input in '${text}'`);
  return node;
}

/** The ids an expression refers to. */
export function referencedIds(node: Node): string[] {
  switch (node.k) {
    case 'ref':
      return [node.id];
    case 'call':
      return node.args.flatMap(referencedIds);
    case 'array':
      return node.items.flatMap(referencedIds);
    case 'bin':
      return [...referencedIds(node.a), ...referencedIds(node.b)];
    case 'neg':
      return referencedIds(node.a);
    default:
      return [];
  }
}

function binary(op: string, x: number, y: number): number | undefined {
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return y === 0 ? undefined : x / y;
    case '^':
      return x ** y;
    case '>':
      return x > y ? 1 : 0;
    case '<':
      return x < y ? 1 : 0;
    case '>=':
      return x >= y ? 1 : 0;
    case '<=':
      return x <= y ? 1 : 0;
    case '==':
      return x === y ? 1 : 0;
    case '!=':
      return x !== y ? 1 : 0;
    default:
      throw new Error(`metric math: operator '${op}' not supported`);
  }
}

const isSeries = (v: MathValue): v is { series: Series } => typeof v === 'object' && 'series' in v;
const isArray = (v: MathValue): v is { array: readonly Series[] } => typeof v === 'object' && 'array' in v;

function at(v: MathValue, i: number): number | undefined {
  if (typeof v === 'number') return v;
  if (isSeries(v)) return v.series[i];
  throw new Error('metric math: an array of time series where one value was expected');
}

const reducers: Record<string, (xs: number[]) => number> = {
  MAX: (xs) => Math.max(...xs),
  MIN: (xs) => Math.min(...xs),
  SUM: (xs) => xs.reduce((a, b) => a + b, 0),
  AVG: (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
};

/** Evaluates `node` over a window of `width` slots; `resolve` gives each referenced id's value. */
export function evaluateNode(node: Node, width: number, resolve: (id: string) => MathValue): MathValue {
  const ev = (n: Node) => evaluateNode(n, width, resolve);
  const perSlot = (f: (i: number) => number | undefined): MathValue => ({
    series: Array.from({ length: width }, (_, i) => f(i)),
  });
  switch (node.k) {
    case 'num':
      return node.v;
    case 'ref':
      return resolve(node.id);
    case 'neg': {
      const a = ev(node.a);
      if (typeof a === 'number') return -a;
      return perSlot((i) => {
        const x = at(a, i);
        return x === undefined ? undefined : -x;
      });
    }
    case 'bin': {
      const a = ev(node.a);
      const b = ev(node.b);
      if (typeof a === 'number' && typeof b === 'number') return binary(node.op, a, b) ?? Number.NaN;
      return perSlot((i) => {
        const x = at(a, i);
        const y = at(b, i);
        return x === undefined || y === undefined ? undefined : binary(node.op, x, y);
      });
    }
    case 'array':
      return {
        array: node.items.map((item) => {
          const v = ev(item);
          if (typeof v === 'number') return Array.from({ length: width }, () => v);
          if (!isSeries(v)) throw new Error('metric math: nested arrays are not supported');
          return v.series;
        }),
      };
    case 'call': {
      const args = node.args.map(ev);
      if (node.fn === 'FILL') {
        const [ts, fill] = args;
        if (!isSeries(ts)) throw new Error('metric math: FILL of something other than one time series');
        return perSlot((i) => ts.series[i] ?? at(fill, i));
      }
      if (node.fn === 'IF') {
        const [cond, yes, no] = args;
        return perSlot((i) => {
          const c = at(cond, i);
          if (c === undefined) return undefined;
          if (c !== 0) return at(yes, i);
          return no === undefined ? undefined : at(no, i);
        });
      }
      const reduce = reducers[node.fn];
      if (reduce) {
        const [arg] = args;
        if (isArray(arg))
          return perSlot((i) => {
            const xs = arg.array.map((s) => s[i]).filter((x): x is number => x !== undefined);
            return xs.length === 0 ? undefined : reduce(xs);
          });
        if (isSeries(arg)) {
          const xs = arg.series.filter((x): x is number => x !== undefined);
          return xs.length === 0 ? Number.NaN : reduce(xs);
        }
        return arg;
      }
      if (node.fn === 'ABS') {
        const [arg] = args;
        if (typeof arg === 'number') return Math.abs(arg);
        return perSlot((i) => {
          const x = at(arg, i);
          return x === undefined ? undefined : Math.abs(x);
        });
      }
      throw new Error(`metric math: function ${node.fn} is not supported by the proof's evaluator`);
    }
  }
}
