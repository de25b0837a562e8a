// Canonical JSON of localpay command bodies, exactly as docs/encoding.md ("Command
// bodies") defines it, so a signature made in the browser covers the very bytes the
// ledger re-encodes: object keys sorted by their UTF-8 bytes at every level, no
// whitespace, integers only (safe integers: every reader keeps them exact), strings as
// raw UTF-8 except the escapes listed there. Anything else is refused with a reason
// (a CanonicalError), never encoded some other way: no null, no undefined, no floats,
// no -0, no lone surrogates, only plain objects and arrays.
//
//   canonical(value)      -> string (the canonical JSON text)
//   canonicalBytes(value) -> Uint8Array (its UTF-8 bytes: what is signed and sent)

export class CanonicalError extends Error {
  constructor(reason, path) {
    super(`not canonical at ${path}: ${reason}`);
    this.name = "CanonicalError";
    this.reason = reason;
    this.path = path;
  }
}

const UTF8 = new TextEncoder();

// The short escapes of docs/encoding.md; other controls below U+0020 are \u00xx (lowercase).
const SHORT = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

function wellFormed(text) {
  // A lone surrogate has no UTF-8 form (TextEncoder would silently write U+FFFD).
  return typeof text.isWellFormed === "function"
    ? text.isWellFormed()
    : !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

function encodeString(text, path) {
  if (!wellFormed(text)) throw new CanonicalError("a lone surrogate is not UTF-8", path);
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (SHORT[ch] !== undefined) out += SHORT[ch];
    else if (code < 0x20) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

function encodeNumber(value, path) {
  if (!Number.isInteger(value)) throw new CanonicalError("numbers must be integers", path);
  if (!Number.isSafeInteger(value)) {
    throw new CanonicalError("integer beyond 2^53 - 1 is not exact", path);
  }
  if (Object.is(value, -0)) throw new CanonicalError("-0 is not canonical", path);
  return String(value);
}

// Keys compare by their UTF-8 bytes (JS compares UTF-16 units, which differs above U+FFFF).
function byUtf8(a, b) {
  const x = UTF8.encode(a);
  const y = UTF8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encodeObject(value, path) {
  if (!isPlainObject(value)) {
    const kind = value.constructor ? value.constructor.name : "object";
    throw new CanonicalError(`a ${kind} is not a JSON object (keys must be strings)`, path);
  }
  if (Object.getOwnPropertySymbols(value).length) {
    throw new CanonicalError("object keys must be strings, not symbols", path);
  }
  const keys = Object.keys(value).sort(byUtf8);
  const members = keys.map((key) => {
    const where = `${path}.${key}`;
    return encodeString(key, where) + ":" + encodeValue(value[key], where);
  });
  return "{" + members.join(",") + "}";
}

function encodeArray(value, path) {
  const items = [];
  for (let i = 0; i < value.length; i++) {
    // A hole in a sparse array is neither a value nor canonical.
    if (!(i in value)) throw new CanonicalError("an array hole has no JSON form", `${path}[${i}]`);
    items.push(encodeValue(value[i], `${path}[${i}]`));
  }
  return "[" + items.join(",") + "]";
}

function encodeValue(value, path) {
  switch (typeof value) {
    case "string":
      return encodeString(value, path);
    case "number":
      return encodeNumber(value, path);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) throw new CanonicalError("null is not allowed (every field present)", path);
      if (Array.isArray(value)) return encodeArray(value, path);
      return encodeObject(value, path);
    default:
      throw new CanonicalError(`a ${typeof value} has no JSON form`, path);
  }
}

export function canonical(value) {
  return encodeValue(value, "$");
}

export function canonicalBytes(value) {
  return UTF8.encode(canonical(value));
}
