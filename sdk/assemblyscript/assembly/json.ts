// A small, strict JSON module (RFC 8259) for AssemblyScript: a Value tree that keeps
// object key order, a parser with full escape handling (surrogate pairs checked) and a
// serializer.

export const MAX_DEPTH: i32 = 128;

export enum Kind { Null, Bool, Int, Float, String, Array, Object }

/** A JSON value. Integers that fit i64 keep kind Int; other numbers are Float. */
export class Value {
  kind: Kind = Kind.Null;
  b: bool = false;
  i: i64 = 0;
  f: f64 = 0;
  s: string = "";
  items: Array<Value> | null = null;
  keys: Array<string> | null = null;

  static null(): Value { return new Value(); }
  static bool(b: bool): Value { const v = new Value(); v.kind = Kind.Bool; v.b = b; return v; }
  static int(i: i64): Value { const v = new Value(); v.kind = Kind.Int; v.i = i; v.f = <f64>i; return v; }
  static float(f: f64): Value { const v = new Value(); v.kind = Kind.Float; v.f = f; return v; }
  static str(s: string): Value { const v = new Value(); v.kind = Kind.String; v.s = s; return v; }
  static array(items: Array<Value> = []): Value { const v = new Value(); v.kind = Kind.Array; v.items = items; return v; }
  static object(): Value { const v = new Value(); v.kind = Kind.Object; v.items = []; v.keys = []; return v; }

  /** Sets `key` on an object (replacing in place); returns this for chaining. */
  set(key: string, value: Value): Value {
    if (this.kind != Kind.Object) return this;
    const keys = this.keys!, items = this.items!;
    for (let k = keys.length - 1; k >= 0; k--) {
      if (keys[k] == key) { items[k] = value; return this; }
    }
    keys.push(key);
    items.push(value);
    return this;
  }

  /** Appends to an array; returns this for chaining. */
  push(value: Value): Value {
    if (this.kind == Kind.Array) this.items!.push(value);
    return this;
  }

  /** Member `key` of an object (last duplicate wins), or null. */
  get(key: string): Value | null {
    if (this.kind != Kind.Object) return null;
    const keys = this.keys!;
    for (let k = keys.length - 1; k >= 0; k--) {
      if (keys[k] == key) return this.items![k];
    }
    return null;
  }

  get isNull(): bool { return this.kind == Kind.Null; }
  get isBool(): bool { return this.kind == Kind.Bool; }
  get isNumber(): bool { return this.kind == Kind.Int || this.kind == Kind.Float; }
  /** Whether this is an integral number that fits i64. */
  get isInteger(): bool {
    return this.kind == Kind.Int || (this.kind == Kind.Float && Math.floor(this.f) == this.f && Math.abs(this.f) < 9.2e18);
  }
  get isString(): bool { return this.kind == Kind.String; }
  get isArray(): bool { return this.kind == Kind.Array; }
  get isObject(): bool { return this.kind == Kind.Object; }

  /** The integer (0 unless isInteger). */
  asInt(): i64 { return this.kind == Kind.Int ? this.i : (this.isInteger ? <i64>this.f : 0); }
  /** The number as f64 (0 unless a number). */
  asFloat(): f64 { return this.kind == Kind.Int ? <f64>this.i : this.f; }
  /** The array items (empty unless an array). */
  asArray(): Array<Value> { return this.kind == Kind.Array ? this.items! : []; }
  /** The object's keys in order (empty unless an object). */
  objectKeys(): Array<string> { return this.kind == Kind.Object ? this.keys! : []; }

  /** Compact JSON text; non-finite floats become null. */
  stringify(): string {
    const parts = new Array<string>();
    write(this, parts);
    return parts.join("");
  }
}

function write(v: Value, out: Array<string>): void {
  switch (v.kind) {
    case Kind.Null: out.push("null"); break;
    case Kind.Bool: out.push(v.b ? "true" : "false"); break;
    case Kind.Int: out.push(v.i.toString()); break;
    case Kind.Float: out.push(isFinite(v.f) ? v.f.toString() : "null"); break;
    case Kind.String: out.push(quote(v.s)); break;
    case Kind.Array: {
      const items = v.items!;
      out.push("[");
      for (let k = 0; k < items.length; k++) {
        if (k > 0) out.push(",");
        write(items[k], out);
      }
      out.push("]");
      break;
    }
    default: {
      const keys = v.keys!, items = v.items!;
      out.push("{");
      for (let k = 0; k < keys.length; k++) {
        if (k > 0) out.push(",");
        out.push(quote(keys[k]));
        out.push(":");
        write(items[k], out);
      }
      out.push("}");
    }
  }
}

const HEX = "0123456789abcdef";

/** `s` as a JSON string literal, quotes included. */
export function quote(s: string): string {
  let out = "\"";
  let run = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    let esc = "";
    if (c == 0x22) esc = "\\\"";
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c == 0x08) esc = "\\b";
    else if (c == 0x0c) esc = "\\f";
    else if (c < 0x20) esc = "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    else continue;
    out += s.substring(run, k) + esc;
    run = k + 1;
  }
  return out + s.substring(run) + "\"";
}

/** Parses JSON text; on failure returns null and leaves the reason in `error`. */
export class Parser {
  error: string = "";
  private s: string = "";
  private i: i32 = 0;

  parse(text: string): Value | null {
    this.s = text;
    this.i = 0;
    this.error = "";
    this.ws();
    const v = this.value(0);
    if (v == null) return null;
    this.ws();
    if (this.i != text.length) return this.fail("trailing data after document");
    return v;
  }

  private fail(msg: string): Value | null {
    if (this.error.length == 0) this.error = msg + " at character " + this.i.toString();
    return null;
  }

  private peek(): i32 { return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1; }

  private ws(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.i++;
    }
  }

  private literal(word: string, v: Value): Value | null {
    if (this.s.substr(this.i, word.length) != word) return this.fail("invalid literal");
    this.i += word.length;
    return v;
  }

  private value(depth: i32): Value | null {
    if (depth > MAX_DEPTH) return this.fail("document nested too deeply");
    const c = this.peek();
    if (c == -1) return this.fail("unexpected end of input");
    if (c == 0x6e) return this.literal("null", Value.null());
    if (c == 0x74) return this.literal("true", Value.bool(true));
    if (c == 0x66) return this.literal("false", Value.bool(false));
    if (c == 0x22) {
      const s = this.string();
      return s == null ? null : Value.str(s);
    }
    if (c == 0x5b) {
      this.i++;
      const arr = Value.array();
      this.ws();
      if (this.peek() == 0x5d) { this.i++; return arr; }
      while (true) {
        this.ws();
        const item = this.value(depth + 1);
        if (item == null) return null;
        arr.items!.push(item);
        this.ws();
        const d = this.peek();
        if (d == 0x2c) { this.i++; continue; }
        if (d == 0x5d) { this.i++; return arr; }
        return this.fail("expected ',' or ']'");
      }
    }
    if (c == 0x7b) {
      this.i++;
      const obj = Value.object();
      this.ws();
      if (this.peek() == 0x7d) { this.i++; return obj; }
      while (true) {
        this.ws();
        if (this.peek() != 0x22) return this.fail("expected string key");
        const key = this.string();
        if (key == null) return null;
        this.ws();
        if (this.peek() != 0x3a) return this.fail("expected ':'");
        this.i++;
        this.ws();
        const item = this.value(depth + 1);
        if (item == null) return null;
        obj.keys!.push(key);
        obj.items!.push(item);
        this.ws();
        const d = this.peek();
        if (d == 0x2c) { this.i++; continue; }
        if (d == 0x7d) { this.i++; return obj; }
        return this.fail("expected ',' or '}'");
      }
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("unexpected character");
  }

  private digits(): i32 {
    const start = this.i;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.i++;
    return this.i - start;
  }

  private number(): Value | null {
    const start = this.i;
    let neg = false;
    if (this.peek() == 0x2d) { neg = true; this.i++; }
    const intStart = this.i;
    const n = this.digits();
    if (n == 0) return this.fail("expected digit");
    if (n > 1 && this.s.charCodeAt(intStart) == 0x30) return this.fail("leading zero in number");
    let integral = true;
    if (this.peek() == 0x2e) {
      this.i++;
      integral = false;
      if (this.digits() == 0) return this.fail("expected digit after '.'");
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.i++;
      integral = false;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.i++;
      if (this.digits() == 0) return this.fail("expected digit in exponent");
    }
    const text = this.s.substring(start, this.i);
    if (integral) {
      // exact i64 accumulation with overflow detection
      let acc: u64 = 0;
      const limit: u64 = neg ? <u64>9223372036854775808 : <u64>9223372036854775807;
      let ok = true;
      for (let k = intStart; k < this.i; k++) {
        const d = <u64>(this.s.charCodeAt(k) - 0x30);
        if (acc > (limit - d) / 10) { ok = false; break; }
        acc = acc * 10 + d;
      }
      if (ok) return Value.int(neg ? <i64>(0 - acc) : <i64>acc);
    }
    return Value.float(parseFloat(text));
  }

  private hex4(): i32 {
    if (this.i + 4 > this.s.length) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(this.i + k);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    this.i += 4;
    return v;
  }

  private string(): string | null {
    this.i++; // opening quote
    const parts = new Array<string>();
    let run = this.i;
    while (true) {
      const c = this.peek();
      if (c == -1) { this.fail("unterminated string"); return null; }
      if (c == 0x22) {
        parts.push(this.s.substring(run, this.i));
        this.i++;
        return parts.join("");
      }
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c != 0x5c) { this.i++; continue; }
      parts.push(this.s.substring(run, this.i));
      this.i++;
      const e = this.peek();
      this.i++;
      if (e == 0x22) parts.push("\"");
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        const hi = this.hex4();
        if (hi < 0) { this.fail("invalid \\u escape"); return null; }
        if (hi >= 0xd800 && hi < 0xdc00) {
          if (this.s.substr(this.i, 2) != "\\u") { this.fail("unpaired high surrogate"); return null; }
          this.i += 2;
          const lo = this.hex4();
          if (lo < 0xdc00 || lo >= 0xe000) { this.fail("invalid low surrogate"); return null; }
          parts.push(String.fromCharCode(hi, lo));
        } else if (hi >= 0xdc00 && hi < 0xe000) {
          this.fail("unpaired low surrogate");
          return null;
        } else {
          parts.push(String.fromCharCode(hi));
        }
      } else { this.fail("invalid escape"); return null; }
      run = this.i;
    }
  }
}

/** Parses `text`, or returns null (use a Parser to learn why). */
export function parse(text: string): Value | null {
  return new Parser().parse(text);
}
