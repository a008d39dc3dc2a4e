// Streaming JSON framing, byte-compatible with qemu-ga 7.2 (QEMU's json-lexer, json-streamer, json-parser).
//
// Input is a byte stream, not lines. A lexer (explicit state table, so chunk boundaries never matter)
// turns bytes into tokens; a streamer collects tokens until braces and brackets balance and hands the
// message to the parser. A byte that cannot start or continue a token (0xFF, 0xFE, NUL, a stray letter)
// produces one "JSON parse error, stray '...'" message, discards the half-received message and puts the
// lexer into recovery: it skips bytes until a structural character, a control character or 0xFE/0xFF.
// That is what makes the 0xFF resynchronisation of guest-sync-delimited work.
import { QFloat, INT64_MIN, INT64_MAX, UINT64_MAX } from "./qobject.ts";
import type { QValue, QDict } from "./qobject.ts";

export interface FramingLimits {
  /** Largest single token, and largest sum of token sizes in one message (QEMU MAX_TOKEN_SIZE). */
  maxTokenSize: number;
  /** Most tokens in one message (QEMU MAX_TOKEN_COUNT). */
  maxTokenCount: number;
  /** Deepest nesting of objects and arrays together (QEMU MAX_NESTING). */
  maxNesting: number;
}

export const DEFAULT_FRAMING_LIMITS: FramingLimits = {
  maxTokenSize: 64 * 1024 * 1024,
  maxTokenCount: 2 * 1024 * 1024,
  maxNesting: 1024,
};

export type FramedMessage = { ok: true; value: QValue } | { ok: false; desc: string };

// Lexer states (below TOKEN_MIN) and token types (from TOKEN_MIN).
const S_ERROR = 0, S_RECOVERY = 1, S_DQ_ESC = 2, S_DQ = 3, S_SQ_ESC = 4, S_SQ = 5, S_ZERO = 6,
  S_EXP_DIGITS = 7, S_EXP_SIGN = 8, S_EXP_E = 9, S_MANTISSA = 10, S_MANTISSA_DIGITS = 11, S_DIGITS = 12,
  S_SIGN = 13, S_KEYWORD = 14, S_START = 15, STATE_COUNT = 16;
const TOKEN_MIN = 100;
export const enum Tok {
  LCurly = 100, RCurly, LSquare, RSquare, Colon, Comma, Integer, Float, Keyword, String,
}
/** The transition does not consume the byte: the byte is looked at again from the next state. */
const LOOKAHEAD = 0x100;

const TABLE = buildTable();

function buildTable(): Uint16Array {
  const t = new Uint16Array(STATE_COUNT * 256); // default 0 = S_ERROR, consuming
  const set = (s: number, from: number, to: number, v: number): void => {
    for (let c = from; c <= to; c++) t[s * 256 + c] = v;
  };
  const one = (s: number, ch: string, v: number): void => set(s, ch.charCodeAt(0), ch.charCodeAt(0), v);
  const terminal = (s: number, tok: number): void => set(s, 0, 255, tok | LOOKAHEAD);

  // Recovery: skip until a promising resynchronisation point, which is then lexed from the start state.
  set(S_RECOVERY, 0, 0x1f, S_START | LOOKAHEAD);
  set(S_RECOVERY, 0x20, 0xfd, S_RECOVERY);
  set(S_RECOVERY, 0xfe, 0xff, S_START | LOOKAHEAD);
  one(S_RECOVERY, "\t", S_RECOVERY);
  for (const ch of "[]{}:,") one(S_RECOVERY, ch, S_START | LOOKAHEAD);

  for (const [body, esc, quote] of [[S_DQ, S_DQ_ESC, '"'], [S_SQ, S_SQ_ESC, "'"]] as const) {
    set(esc, 0x20, 0xfd, body);
    set(body, 0x20, 0xfd, body);
    one(body, "\\", esc);
    one(body, quote, Tok.String);
  }

  terminal(S_ZERO, Tok.Integer);
  set(S_ZERO, 0x30, 0x39, S_ERROR);
  one(S_ZERO, ".", S_MANTISSA);

  terminal(S_EXP_DIGITS, Tok.Float);
  set(S_EXP_DIGITS, 0x30, 0x39, S_EXP_DIGITS);
  set(S_EXP_SIGN, 0x30, 0x39, S_EXP_DIGITS);
  one(S_EXP_E, "-", S_EXP_SIGN);
  one(S_EXP_E, "+", S_EXP_SIGN);
  set(S_EXP_E, 0x30, 0x39, S_EXP_DIGITS);

  terminal(S_MANTISSA_DIGITS, Tok.Float);
  set(S_MANTISSA_DIGITS, 0x30, 0x39, S_MANTISSA_DIGITS);
  one(S_MANTISSA_DIGITS, "e", S_EXP_E);
  one(S_MANTISSA_DIGITS, "E", S_EXP_E);
  set(S_MANTISSA, 0x30, 0x39, S_MANTISSA_DIGITS);

  terminal(S_DIGITS, Tok.Integer);
  set(S_DIGITS, 0x30, 0x39, S_DIGITS);
  one(S_DIGITS, "e", S_EXP_E);
  one(S_DIGITS, "E", S_EXP_E);
  one(S_DIGITS, ".", S_MANTISSA);

  one(S_SIGN, "0", S_ZERO);
  set(S_SIGN, 0x31, 0x39, S_DIGITS);

  terminal(S_KEYWORD, Tok.Keyword);
  set(S_KEYWORD, 0x61, 0x7a, S_KEYWORD);

  one(S_START, '"', S_DQ);
  one(S_START, "'", S_SQ);
  one(S_START, "0", S_ZERO);
  set(S_START, 0x31, 0x39, S_DIGITS);
  one(S_START, "-", S_SIGN);
  one(S_START, "{", Tok.LCurly);
  one(S_START, "}", Tok.RCurly);
  one(S_START, "[", Tok.LSquare);
  one(S_START, "]", Tok.RSquare);
  one(S_START, ",", Tok.Comma);
  one(S_START, ":", Tok.Colon);
  set(S_START, 0x61, 0x7a, S_KEYWORD);
  for (const ch of " \t\r\n") one(S_START, ch, S_START);
  return t;
}

/**
 * Token bytes are kept in segments of this size once a token outgrows one: a long token grows without
 * being copied into ever bigger buffers, and one over maxTokenSize is dropped without being copied at all.
 * So a token costs its own length in memory, at most maxTokenSize (qemu-ga's GString costs the same).
 */
const SEGMENT_BYTES = 1024 * 1024;
/** A token buffer starts this small and doubles up to SEGMENT_BYTES. */
const INITIAL_TOKEN_BYTES = 64;

interface Token {
  type: number;
  /** The token's bytes as a latin-1 string: one char per byte. */
  text: string;
}

/**
 * Bytes in, complete messages out. Keeps all state between feed() calls, so a request may arrive one
 * byte at a time, split across a client reconnect, or several to a chunk.
 */
export class JsonMessageStream {
  private readonly limits: FramingLimits;
  private state = S_START;
  /** The token's bytes: full segments, then the one being filled (tokenLen counts all of them). */
  private segments: Uint8Array[] = [];
  private tokenBuf = new Uint8Array(INITIAL_TOKEN_BYTES);
  private tokenBufLen = 0;
  private tokenLen = 0;
  // streamer state
  private tokens: Token[] = [];
  private tokenSizeSum = 0;
  private braces = 0;
  private brackets = 0;
  private out: FramedMessage[] = [];

  constructor(limits: Partial<FramingLimits> = {}) {
    this.limits = { ...DEFAULT_FRAMING_LIMITS, ...limits };
  }

  /** Feed bytes; returns the messages completed by them, in order. */
  feed(chunk: Uint8Array): FramedMessage[] {
    const table = TABLE;
    const maxToken = this.limits.maxTokenSize;
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      let consumed = false;
      while (!consumed) {
        const t = table[this.state * 256 + ch]!;
        consumed = (t & LOOKAHEAD) === 0;
        const next = t & ~LOOKAHEAD;
        if (consumed) this.push(ch);
        if (next >= TOKEN_MIN) {
          this.token(next);
          this.clearToken();
          this.state = S_START;
        } else if (next === S_START) {
          this.clearToken();
          this.state = S_START;
        } else if (next === S_ERROR) {
          this.token(S_ERROR);
          this.clearToken();
          this.state = S_RECOVERY;
        } else if (next === S_RECOVERY) {
          this.clearToken();
          this.state = S_RECOVERY;
        } else {
          this.state = next;
        }
      }
      if (this.tokenLen > maxToken) {
        // A single token may not grow without bound: hand it over as it is (the streamer rejects it, by
        // its length alone) and lex the rest afresh, as QEMU's lexer does.
        this.token(this.state);
        this.clearToken();
        this.state = S_START;
      }
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  private push(ch: number): void {
    if (this.tokenBufLen === this.tokenBuf.length) this.growToken();
    this.tokenBuf[this.tokenBufLen++] = ch;
    this.tokenLen++;
  }

  private growToken(): void {
    if (this.tokenBuf.length < SEGMENT_BYTES) {
      const bigger = new Uint8Array(Math.min(this.tokenBuf.length * 2, SEGMENT_BYTES));
      bigger.set(this.tokenBuf);
      this.tokenBuf = bigger;
    } else {
      this.segments.push(this.tokenBuf);
      this.tokenBuf = new Uint8Array(SEGMENT_BYTES);
      this.tokenBufLen = 0;
    }
  }

  private clearToken(): void {
    this.tokenLen = 0;
    this.tokenBufLen = 0;
    if (this.segments.length) {
      // Let a long token's memory go; the next one starts small again.
      this.segments = [];
      this.tokenBuf = new Uint8Array(INITIAL_TOKEN_BYTES);
    }
  }

  private tokenText(): string {
    const tail = Buffer.from(this.tokenBuf.buffer, this.tokenBuf.byteOffset, this.tokenBufLen);
    if (!this.segments.length) return tail.toString("latin1");
    return Buffer.concat([...this.segments, tail], this.tokenLen).toString("latin1");
  }

  private token(type: number): void {
    const len = this.tokenLen;
    switch (type) {
      case Tok.LCurly: this.braces++; break;
      case Tok.RCurly: this.braces--; break;
      case Tok.LSquare: this.brackets++; break;
      case Tok.RSquare: this.brackets--; break;
      case S_ERROR: {
        // The message carries the offending token up to its first NUL, as a C string would.
        let text = this.tokenText();
        const nul = text.indexOf("\0");
        if (nul >= 0) text = text.slice(0, nul);
        this.emit({ ok: false, desc: `JSON parse error, stray '${decodeLossy(text)}'` });
        return;
      }
      default: break;
    }
    if (this.tokenSizeSum + len + 1 > this.limits.maxTokenSize) {
      this.emit({ ok: false, desc: "JSON token size limit exceeded" });
      return;
    }
    if (this.tokens.length + 1 > this.limits.maxTokenCount) {
      this.emit({ ok: false, desc: "JSON token count limit exceeded" });
      return;
    }
    if (this.braces + this.brackets > this.limits.maxNesting) {
      this.emit({ ok: false, desc: "JSON nesting depth limit exceeded" });
      return;
    }
    this.tokens.push({ type, text: this.tokenText() });
    this.tokenSizeSum += len;
    if ((this.braces > 0 || this.brackets > 0) && this.braces >= 0 && this.brackets >= 0) return;
    this.emit(parseTokens(this.tokens));
  }

  private emit(m: FramedMessage): void {
    this.braces = 0;
    this.brackets = 0;
    this.tokens = [];
    this.tokenSizeSum = 0;
    this.out.push(m);
  }
}

// ---------------------------------------------------------------------------------------------------
// UTF-8 as QEMU reads it ("modified UTF-8": C0 80 is NUL; surrogates, noncharacters, overlongs invalid).

function isValidCodepoint(cp: number): boolean {
  if (cp < 0 || cp > 0x10ffff) return false;
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return true;
}

const MIN_CP = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];

/** Decode one code point at s[pos] (latin-1 byte string). Returns [codepoint or -1, next position]. */
function codepointAt(s: string, pos: number, limit: number): [number, number] {
  const byte = s.charCodeAt(pos);
  let p = pos + 1;
  if (byte < 0x80) return [byte, p];
  if (byte >= 0xfe || (byte & 0x40) === 0) return [-1, p];
  let len = 0;
  let mask = 0x80;
  for (; byte & mask; mask >>= 1) len++;
  let cp = byte & (mask - 1);
  for (let i = 1; i < len; i++) {
    const b = p < limit ? s.charCodeAt(p) : 0;
    if ((b & 0xc0) !== 0x80) return [-1, p];
    p++;
    cp = cp * 64 + (b & 0x3f);
  }
  if (!isValidCodepoint(cp)) return [-1, p];
  if (cp < MIN_CP[len - 2]! && !(cp === 0 && len === 2)) return [-1, p];
  return [cp, p];
}

/** Bytes (latin-1 string) to text, each invalid sequence becoming U+FFFD, as QEMU writes such strings. */
export function decodeLossy(bytes: string): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const [cp, next] = codepointAt(bytes, i, bytes.length);
    out += String.fromCodePoint(cp < 0 ? 0xfffd : cp);
    i = next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Parser: recursive descent over one balanced message's tokens; the first error wins.

class Parser {
  pos = 0;
  err: string | null = null;
  constructor(private readonly toks: Token[]) {}

  fail(msg: string): undefined {
    if (this.err === null) this.err = `JSON parse error, ${msg}`;
    return undefined;
  }
  peek(): Token | undefined { return this.toks[this.pos]; }
  pop(): Token | undefined { return this.toks[this.pos++]; }

  /** undefined means failure (null is a valid value). */
  value(): QValue | undefined {
    const t = this.peek();
    if (!t) return this.fail("premature EOI");
    switch (t.type) {
      case Tok.LCurly: return this.object();
      case Tok.LSquare: return this.array();
      case Tok.Integer:
      case Tok.Float:
      case Tok.String: return this.literal();
      case Tok.Keyword: {
        this.pop();
        if (t.text === "true") return true;
        if (t.text === "false") return false;
        if (t.text === "null") return null;
        return this.fail(`invalid keyword '${decodeLossy(t.text)}'`);
      }
      default:
        return this.fail("expecting value");
    }
  }

  object(): QDict | undefined {
    this.pop();
    const dict: QDict = new Map();
    const peek = this.peek();
    if (!peek) { this.fail("premature EOI"); return undefined; }
    if (peek.type === Tok.RCurly) { this.pop(); return dict; }
    if (!this.pair(dict)) return undefined;
    let t = this.pop();
    if (!t) { this.fail("premature EOI"); return undefined; }
    while (t.type !== Tok.RCurly) {
      if (t.type !== Tok.Comma) { this.fail("expected separator in dict"); return undefined; }
      if (!this.pair(dict)) return undefined;
      t = this.pop();
      if (!t) { this.fail("premature EOI"); return undefined; }
    }
    return dict;
  }

  pair(dict: QDict): boolean {
    if (!this.peek()) { this.fail("premature EOI"); return false; }
    const key = this.value();
    if (typeof key !== "string") { this.fail("key is not a string in object"); return false; }
    const colon = this.pop();
    if (!colon) { this.fail("premature EOI"); return false; }
    if (colon.type !== Tok.Colon) { this.fail("missing : in object pair"); return false; }
    const value = this.value();
    if (value === undefined) { this.fail("Missing value in dict"); return false; }
    if (dict.has(key)) { this.fail("duplicate key"); return false; }
    dict.set(key, value);
    return true;
  }

  array(): QValue[] | undefined {
    this.pop();
    const list: QValue[] = [];
    const peek = this.peek();
    if (!peek) { this.fail("premature EOI"); return undefined; }
    if (peek.type === Tok.RSquare) { this.pop(); return list; }
    let v = this.value();
    if (v === undefined) { this.fail("expecting value"); return undefined; }
    list.push(v);
    let t = this.pop();
    if (!t) { this.fail("premature EOI"); return undefined; }
    while (t.type !== Tok.RSquare) {
      if (t.type !== Tok.Comma) { this.fail("expected separator in list"); return undefined; }
      v = this.value();
      if (v === undefined) { this.fail("expecting value"); return undefined; }
      list.push(v);
      t = this.pop();
      if (!t) { this.fail("premature EOI"); return undefined; }
    }
    return list;
  }

  literal(): QValue | undefined {
    const t = this.pop()!;
    if (t.type === Tok.String) return this.string(t.text);
    if (t.type === Tok.Integer) {
      const big = BigInt(t.text);
      if (big >= INT64_MIN && big <= INT64_MAX) return toIntValue(big);
      if (big >= 0n && big <= UINT64_MAX) return big;
      // Beyond 64 bits an integer becomes a double, as strtod would read it.
    }
    return new QFloat(Number(t.text));
  }

  string(text: string): string | undefined {
    const quote = text.charCodeAt(0);
    const end = text.length - 1; // closing quote
    // Fast path: printable ASCII, no escapes.
    let simple = true;
    for (let i = 1; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c || c >= 0x80) { simple = false; break; }
    }
    if (simple) return text.slice(1, end);
    let out = "";
    let i = 1;
    while (i < end && text.charCodeAt(i) !== quote) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        const beg = i;
        i++;
        const e = text[i++];
        switch (e) {
          case '"': out += '"'; break;
          case "'": out += "'"; break;
          case "\\": out += "\\"; break;
          case "/": out += "/"; break;
          case "b": out += "\b"; break;
          case "f": out += "\f"; break;
          case "n": out += "\n"; break;
          case "r": out += "\r"; break;
          case "t": out += "\t"; break;
          case "u": {
            let cp = hex4(text, i);
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && text[i] === "\\" && text[i + 1] === "u") {
              const trailing = hex4(text, i + 2);
              if (trailing >= 0xdc00 && trailing <= 0xdfff) {
                cp = 0x10000 + ((cp & 0x3ff) << 10) + (trailing & 0x3ff);
                i += 6;
              } else {
                cp = -1;
              }
            }
            if (!isValidCodepoint(cp)) {
              this.fail(`${decodeLossy(text.slice(beg, Math.min(i, end + 1)))} is not a valid Unicode character`);
              return undefined;
            }
            out += String.fromCodePoint(cp);
            break;
          }
          default:
            this.fail("invalid escape sequence in string");
            return undefined;
        }
      } else {
        const [cp, next] = codepointAt(text, i, end);
        if (cp < 0) { this.fail("invalid UTF-8 sequence in string"); return undefined; }
        out += String.fromCodePoint(cp);
        i = next;
      }
    }
    return out;
  }
}

function hex4(s: string, at: number): number {
  let cp = 0;
  for (let k = 0; k < 4; k++) {
    const c = s.charCodeAt(at + k);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else return -1;
    cp = cp * 16 + d;
  }
  return cp;
}

function toIntValue(big: bigint): number | bigint {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function parseTokens(tokens: Token[]): FramedMessage {
  const p = new Parser(tokens);
  const v = p.value();
  if (p.err !== null || v === undefined) return { ok: false, desc: p.err ?? "JSON parse error, expecting value" };
  return { ok: true, value: v };
}
