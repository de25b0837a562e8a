// Verify a localpay receipt in the browser, trusting nothing the server says at the time.
//
//   import { verifyReceipt } from "/static/js/receipt-verify.js";
//   const { ok, checks } = await verifyReceipt(receipt, { operatorKey, witnesses, quorum });
//
// A port, check by check and message by message, of the offline verifier
// (services/transparency/verifier.py and the standalone tools/verify_receipt.py); the
// tests run both on the same receipts and compare. `operatorKey` (hex) is the city's
// genesis operator key; `witnesses` ([{name, key}]) with `quorum` the witness set. As
// there: without `operatorKey` the `operator` check fails; without witnesses finality is
// not checked (`warn`); witnesses without a quorum (and the like) throw a PinError.
// `requireFinal` fails a receipt that is not final; `allowUnpinned` takes the missing
// keys from the receipt (SELF-ASSERTED).
//
// Each check is {name, ok, status, detail}: status "ok", "FAIL" or "warn" (a warning
// is not a failure: ok stays true). The result's `ok` is true when no check failed.
//
// SHA-256 and Ed25519 come from WebCrypto; where the browser has no Ed25519 there, the
// vendored @noble/ed25519 verifies. WebCrypto needs a secure context (HTTPS, localhost).
//
// Specs: RFC 9162 (Merkle proofs), https://c2sp.org/signed-note,
// https://c2sp.org/tlog-checkpoint, https://c2sp.org/tlog-cosignature.

const FORMAT = "localpay-receipt/v1";
export const CHECKS = [
  "format", "transaction", "leaf", "checkpoint", "operator", "inclusion", "cosignatures",
  "quorum",
];
const COMMAND_PREFIX = "localpay/command/v1\n";
const UNPINNED_WITNESSES =
  "witness keys not pinned: finality NOT CHECKED (pin the city's witnesses with" +
  " --witness NAME=HEX and --quorum N)";

export class PinError extends Error {}
class Bad extends Error {}

// -- bytes ------------------------------------------------------------------------------

const utf8 = new TextEncoder();
const enc = (text) => utf8.encode(text);

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

// Python's bytes.fromhex: pairs of hex digits (spaces between pairs allowed); else throws.
function fromHex(text) {
  if (typeof text !== "string") throw new TypeError("not a string");
  const compact = text.replace(/ /g, "");
  if (compact.length % 2 || !/^[0-9a-fA-F]*$/.test(compact)) throw new Bad("not hex");
  const out = new Uint8Array(compact.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(compact.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function b64encode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

// Standard base64 with padding, and canonical (one spelling per value).
function b64decodeStrict(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) throw new Bad("not base64");
  const raw = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  if (b64encode(raw) !== text) throw new Bad("not canonical base64");
  return raw;
}

async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

let nobleVerify = null;
let webCryptoEd25519 = true;

async function ed25519Ok(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (webCryptoEd25519) {
    try {
      const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, [
        "verify",
      ]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
    } catch (err) {
      if (err && err.name === "NotSupportedError") webCryptoEd25519 = false;
      else return false; // a key WebCrypto refuses (not a point): it verifies nothing
    }
  }
  if (!nobleVerify) nobleVerify = (await import("/static/vendor/noble-ed25519/index.js")).verifyAsync;
  try {
    return await nobleVerify(signature, message, publicKey);
  } catch {
    return false;
  }
}

// -- the receipt ------------------------------------------------------------------------

const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const KINDS = {
  str: (v) => typeof v === "string",
  int: (v) => Number.isInteger(v),
  dict: isDict,
  list: Array.isArray,
  bool: (v) => typeof v === "boolean",
};

function field(obj, key, kind, where = "receipt") {
  if (!isDict(obj) || !Object.prototype.hasOwnProperty.call(obj, key)) {
    throw new Bad(`${where} has no '${key}'`);
  }
  const value = obj[key];
  if (!KINDS[kind](value)) throw new Bad(`${where}.${key} has the wrong type`);
  return value;
}

function hex32(value, what) {
  if (typeof value !== "string" || value.length !== 64) throw new Bad(`${what} is not 64 hex digits`);
  try {
    return fromHex(value);
  } catch {
    throw new Bad(`${what} is not 64 hex digits`);
  }
}

// Every string in the receipt must be encodable as UTF-8 (no lone surrogates).
function wellFormed(value) {
  if (typeof value === "string") return value.isWellFormed ? value.isWellFormed() : true;
  if (Array.isArray(value)) return value.every(wellFormed);
  if (isDict(value)) return Object.entries(value).every(([k, v]) => wellFormed(k) && wellFormed(v));
  return true;
}

// The receipt's fields, checked for presence and type in verifier.py's order; throws Bad.
function readReceipt(r) {
  if (!wellFormed(r)) throw new Bad("the receipt is not JSON text in UTF-8");
  if (field(r, "format", "str") !== FORMAT) throw new Bad(`receipt format is not ${FORMAT}`);
  const tx = field(r, "transaction", "dict");
  const proof = field(r, "inclusion_proof", "list");
  const witnesses = field(r, "witnesses", "list").map((w, n) => {
    const where = `receipt.witnesses[${n}]`;
    return [field(w, "name", "str", where), hex32(field(w, "key", "str", where), where)];
  });
  const leafHash = r.leaf_hash;
  return {
    city: field(r, "city", "str"),
    origin: field(r, "origin", "str"),
    operatorKey: hex32(field(r, "operator_key", "str"), "receipt.operator_key"),
    txId: field(tx, "id", "str", "receipt.transaction"),
    seq: field(tx, "seq", "int", "receipt.transaction"),
    envelope: enc(field(tx, "envelope", "str", "receipt.transaction")),
    result: enc(field(tx, "result", "str", "receipt.transaction")),
    leafIndex: field(r, "leaf_index", "int"),
    leafHash: leafHash === undefined || leafHash === null ? null : hex32(leafHash, "receipt.leaf_hash"),
    treeSize: field(r, "tree_size", "int"),
    proof: proof.map((p, n) => hex32(p, `receipt.inclusion_proof[${n}]`)),
    note: field(r, "note", "str"),
    witnesses,
    quorum: field(r, "quorum", "int"),
    final: field(r, "final", "bool"),
    rotations: readRotations(r),
  };
}

// As services/transparency/rotation_proofs.parse_rotations.
function readRotations(r) {
  const found = r.operator_rotations === undefined ? [] : r.operator_rotations;
  if (!Array.isArray(found)) throw new Bad("receipt.operator_rotations is not a list");
  const get = (obj, key, kind, where) => {
    const value = isDict(obj) ? obj[key] : undefined;
    if (value === undefined || !KINDS[kind](value)) {
      throw new Bad(`${where} has no '${key}' of the right type`);
    }
    return value;
  };
  return found.map((x, n) => {
    const where = `receipt.operator_rotations[${n}]`;
    const tx = get(x, "transaction", "dict", where);
    const path = get(x, "inclusion_proof", "list", where);
    const proof = (h, i) => {
      const what = `${where}.inclusion_proof[${i}]`;
      if (typeof h !== "string" || h.length !== 64) throw new Bad(`${what} is not 64 hex digits`);
      try { return fromHex(h); } catch { throw new Bad(`${what} is not 64 hex digits`); }
    };
    return {
      txId: get(tx, "id", "str", `${where}.transaction`),
      envelope: enc(get(tx, "envelope", "str", `${where}.transaction`)),
      result: enc(get(tx, "result", "str", `${where}.transaction`)),
      leafIndex: get(x, "leaf_index", "int", where),
      treeSize: get(x, "tree_size", "int", where),
      note: get(x, "note", "str", where),
      proof: path.map(proof),
    };
  });
}

// -- signed notes and checkpoints (C2SP) ------------------------------------------------

// Python's repr() of a short string, as the Python verifier's messages show it.
function pyRepr(text) {
  const named = { "\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\" };
  let out = "";
  for (const ch of text) {
    if (named[ch]) out += named[ch];
    else if (ch < " " || ch === "\x7f") out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return text.includes("'") && !text.includes('"') ? `"${out}"` : `'${out.replace(/'/g, "\\'")}'`;
}

// As ledger/log/checkpoint.py: the same rules, the same words.
function checkChars(text, what) {
  let i = 0;
  for (const ch of text) {
    if (ch < " " && ch !== "\n") throw new Bad(`${what} contains control character ${pyRepr(ch)} at offset ${i}`);
    i++;
  }
}

function checkName(name) {
  if (!name) throw new Bad("key name is empty");
  if (name.includes("+")) throw new Bad(`key name ${pyRepr(name)} contains '+'`);
  if (/\s/u.test(name)) throw new Bad(`key name ${pyRepr(name)} contains a space`);
  checkChars(name, "key name");
}

function unb64(text, what) {
  let raw;
  try {
    raw = b64decodeStrict(text);
  } catch (exc) {
    if (exc.message === "not canonical base64") throw new Bad(`${what} is not canonical base64`);
    throw new Bad(`${what} is not valid base64`);
  }
  return raw;
}

function parseSignatureLine(line, n) {
  if (!line.startsWith("\u2014 ")) {
    throw new Bad(`signature line ${n} does not start with an em dash and a space`);
  }
  const rest = line.slice(2);
  const space = rest.indexOf(" ");
  const name = space < 0 ? rest : rest.slice(0, space);
  const blob64 = space < 0 ? "" : rest.slice(space + 1);
  if (space < 0 || !blob64) throw new Bad(`signature line ${n} has no signature after the key name`);
  checkName(name);
  const blob = unb64(blob64, `signature line ${n}`);
  if (blob.length <= 4) {
    throw new Bad(`signature line ${n} is too short to hold a key id and a signature`);
  }
  return { name, keyId: blob.slice(0, 4), sig: blob.slice(4) };
}

// A signed note's text and its signature lines [{name, keyId, sig}]; throws Bad.
function openNote(text) {
  checkChars(text, "note");
  const split = text.lastIndexOf("\n\n"); // the text may hold blank lines: the last separates
  if (split < 0) throw new Bad("note has no blank line before its signatures");
  const body = text.slice(0, split + 1);
  const sigs = text.slice(split + 2);
  if (!sigs) throw new Bad("note has no signature lines");
  if (!sigs.endsWith("\n")) throw new Bad("note does not end with a newline");
  const lines = sigs.slice(0, -1).split("\n");
  if (lines.length > 100) throw new Bad(`note has ${lines.length} signatures, more than 100`);
  return [body, lines.map((line, i) => parseSignatureLine(line, i + 1))];
}

function parseSize(line) {
  if (!line) throw new Bad("checkpoint tree size line is empty");
  if (!/^[0-9]+$/.test(line)) throw new Bad(`checkpoint tree size ${pyRepr(line)} is not an ASCII decimal`);
  if (line.length > 1 && line[0] === "0") throw new Bad(`checkpoint tree size ${pyRepr(line)} has a leading zero`);
  if (BigInt(line) > 2n ** 64n - 1n) throw new Bad(`checkpoint tree size ${line} exceeds 2^64-1`);
  return Number(line);
}

// {origin, size, root} from a tlog-checkpoint text; throws Bad.
function parseCheckpoint(body) {
  if (!body.endsWith("\n")) throw new Bad("note text must end with a newline");
  checkChars(body, "note text");
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw new Bad(`checkpoint has ${lines.length} line(s), needs origin, tree size and root hash`);
  }
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (!origin) throw new Bad("checkpoint origin line is empty");
  const size = parseSize(sizeLine);
  const root = unb64(rootLine, "checkpoint root hash");
  if (root.length !== 32) throw new Bad(`checkpoint root hash is ${root.length} bytes, expected 32`);
  extensions.forEach((ext, i) => {
    if (!ext) throw new Bad(`checkpoint extension line ${i + 1} is empty`);
  });
  return { origin, size, root };
}

async function keyId(name, type, publicKey) {
  return (await sha256(concat(enc(name), enc("\n"), Uint8Array.of(type), publicKey))).slice(0, 4);
}

async function noteSignatureOk(body, s, name, publicKey) {
  return (
    s.name === name &&
    equal(s.keyId, await keyId(name, 0x01, publicKey)) &&
    s.sig.length === 64 &&
    (await ed25519Ok(publicKey, enc(body), s.sig))
  );
}

async function cosignatureOk(body, s, name, publicKey) {
  if (s.name !== name || !equal(s.keyId, await keyId(name, 0x04, publicKey)) || s.sig.length !== 72) {
    return false;
  }
  const timestamp = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
  if (timestamp >= 2n ** 63n) return false;
  const message = enc(`cosignature/v1\ntime ${timestamp}\n${body}`);
  return ed25519Ok(publicKey, message, s.sig.slice(8));
}

// -- Merkle inclusion (RFC 9162 2.1.3.2) ------------------------------------------------

async function inclusionOk(leaf, index, size, proof, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if (fn & 1n || fn === sn) {
      r = await sha256(concat(Uint8Array.of(1), p, r));
      while (fn && !(fn & 1n)) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await sha256(concat(Uint8Array.of(1), r, p));
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

const leafOf = (result, envelope) =>
  sha256(concat(enc('\x00{"result":'), result, enc(',"tx":'), envelope, enc("}")));

// -- the checks -------------------------------------------------------------------------

const dec = new TextDecoder("utf-8", { fatal: false });
const HEAD = enc('{"body":');
const SEP = enc(',"sigs":');

function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && equal(bytes.slice(0, prefix.length), prefix);
}

function lastIndexOf(bytes, needle) {
  for (let i = bytes.length - needle.length; i >= 0; i--) {
    if (equal(bytes.slice(i, i + needle.length), needle)) return i;
  }
  return -1;
}

// JSON.parse of bytes that must be valid UTF-8 JSON, as Python's json.loads(bytes).
function parseJsonBytes(bytes) {
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
}

async function checkTransaction(rc) {
  const env = rc.envelope;
  if (!startsWith(env, HEAD) || lastIndexOf(env, SEP) < 0) {
    return ["FAIL", 'the envelope is not {"body":...,"sigs":[...]}'];
  }
  const body = env.slice(HEAD.length, lastIndexOf(env, SEP)); // the exact bytes signed
  let command, sigs, code;
  try {
    command = parseJsonBytes(body);
    sigs = parseJsonBytes(env).sigs;
    if (sigs === undefined) throw new Bad("no sigs");
    const result = parseJsonBytes(rc.result);
    if (!isDict(result) || !("code" in result)) throw new Bad("no code");
    code = result.code;
  } catch {
    return ["FAIL", "the envelope or result is not valid JSON"];
  }
  if (!isDict(command) || !Array.isArray(sigs) || !sigs.length) {
    return ["FAIL", "the envelope has no command or no signatures"];
  }
  if (command.id !== rc.txId || command.city !== rc.city) {
    return ["FAIL", "the command's id or city differs from the receipt's"];
  }
  if (rc.seq !== rc.leafIndex) return ["FAIL", "the transaction's seq is not the leaf index"];
  for (const s of sigs) {
    let key, sig;
    try {
      key = fromHex(s.key);
      sig = fromHex(s.sig);
    } catch {
      return ["FAIL", "a signature on the command does not verify"];
    }
    if (!(await ed25519Ok(key, concat(enc(COMMAND_PREFIX), body), sig))) {
      return ["FAIL", "a signature on the command does not verify"];
    }
  }
  const keys = sigs.map((s) => String(s.key).slice(0, 16)).join(", ");
  return ["ok", `${command.type} ${rc.txId}, signed by ${sigs.length} key(s) (${keys}…), result ${code}`];
}

function checkCheckpoint(rc, point) {
  if (point.origin !== rc.origin || !point.origin.startsWith(`localpay.city/${rc.city}/`)) {
    return ["FAIL", `origin '${point.origin}' is not ${rc.city}'s log`];
  }
  if (point.size !== rc.treeSize || !(rc.leafIndex >= 0 && rc.leafIndex < point.size)) {
    return ["FAIL", "tree size does not match the receipt"];
  }
  return ["ok", `${point.origin}, size ${point.size}, root ${b64encode(point.root)}`];
}

function checkPins(witnesses, quorum, requireFinal) {
  const given = witnesses !== undefined && witnesses !== null;
  const q = quorum !== undefined && quorum !== null;
  if (given && !q) throw new PinError("--witness needs --quorum N: the receipt's own quorum is not evidence");
  if (q && !given) throw new PinError("--quorum needs the witness set pinned with --witness NAME=HEX");
  if (requireFinal && !given) {
    throw new PinError("--require-final needs the witnesses pinned: --witness NAME=HEX --quorum N");
  }
  if (given && q && !(quorum >= 1 && quorum <= witnesses.length)) {
    throw new PinError(`--quorum ${quorum} cannot be met by ${witnesses.length} pinned witness(es)`);
  }
}

// As services/transparency/rotation_proofs._fault: why rotation `p` does not hand the
// operator key on from `key` (a string), or the rotate_operator command it is.
async function rotationFault(rc, p, key) {
  let body, sigs, point;
  try {
    [body, sigs] = openNote(p.note);
    point = parseCheckpoint(body);
  } catch (exc) {
    if (!(exc instanceof Bad)) throw exc;
    return `unreadable signed note: ${exc.message}`;
  }
  if (point.origin !== rc.origin || point.size !== p.treeSize) {
    return "its checkpoint is not of this log or not of its tree size";
  }
  let signed = false;
  for (const s of sigs) if (await noteSignatureOk(body, s, rc.origin, key)) signed = true;
  if (!signed) return `its checkpoint is not signed by the key it rotates from, ${toHex(key)}`;
  const leaf = await leafOf(p.result, p.envelope);
  if (!(await inclusionOk(leaf, p.leafIndex, p.treeSize, p.proof, point.root))) {
    return "the proof does not lead to its checkpoint's root";
  }
  let command, envSigs, code, signedBytes;
  try {
    const env = p.envelope;
    const at = lastIndexOf(env, SEP);
    if (!startsWith(env, HEAD) || at < 0) throw new Bad("not an envelope");
    signedBytes = env.slice(HEAD.length, at);
    command = parseJsonBytes(signedBytes);
    envSigs = parseJsonBytes(env).sigs;
    const result = parseJsonBytes(p.result);
    if (!isDict(command) || !Array.isArray(envSigs) || !isDict(result)) throw new Bad("shape");
    code = result.code;
  } catch (exc) {
    return `its envelope or result is unreadable (${exc.message})`;
  }
  if (command.type !== "rotate_operator" || command.city !== rc.city || command.id !== p.txId) {
    return "not this city's rotate_operator";
  }
  if (code !== "ok" || command.old_key !== toHex(key)) {
    return `not an accepted rotation from ${toHex(key)}`;
  }
  // ledger/signatures.verify_one: every signature must verify; then the old key among them.
  const message = concat(enc(COMMAND_PREFIX), signedBytes);
  const keys = [];
  for (const s of envSigs) {
    let ok = false;
    try {
      ok = await ed25519Ok(fromHex(s.key), message, fromHex(s.sig));
    } catch {
      ok = false;
    }
    if (!ok) return "it is not signed by the key it rotates from";
    keys.push(s.key);
  }
  if (!keys.includes(toHex(key))) return "it is not signed by the key it rotates from";
  try {
    return { newKey: hex32(command.new_key, "new_key") };
  } catch {
    return "its envelope or result is unreadable (new_key is not 64 hex digits)";
  }
}

// As rotation_proofs.follow_rotations: the key the receipt's checkpoint must be signed
// by, from `key` through every rotation; and what breaks the chain (null: nothing).
async function followRotations(rc, key) {
  let after = -1;
  for (const [n, p] of rc.rotations.entries()) {
    const found = after < p.treeSize && p.treeSize < rc.treeSize
      ? await rotationFault(rc, p, key)
      : "out of order, or not before the receipt's checkpoint";
    if (typeof found === "string") return [key, `operator key rotation #${n} (tx ${p.txId}): ${found}`];
    key = found.newKey;
    after = p.treeSize;
  }
  return [key, null];
}

async function checkOperator(rc, body, signatures, pinned, allowUnpinned) {
  if (pinned === null && !allowUnpinned) {
    return ["FAIL",
      "no operator key pinned: pass --operator-key HEX, the city's key from a source" +
      " other than the receipt, or --allow-unpinned to check it against its own keys"];
  }
  const first = pinned !== null ? pinned : rc.operatorKey;
  const [key, fault] = await followRotations(rc, first);
  if (fault !== null) return ["FAIL", fault];
  let signed = false;
  for (const s of signatures) if (await noteSignatureOk(body, s, rc.origin, key)) signed = true;
  if (!signed) return ["FAIL", `no valid signature by ${rc.origin} key ${toHex(key)}`];
  const source = pinned !== null ? "the pinned" : "the receipt's";
  let signer;
  if (!rc.rotations.length) {
    signer = pinned !== null ? `the pinned operator key ${toHex(key)}` : `key ${toHex(key)}`;
  } else {
    const ids = rc.rotations.map((x) => x.txId).join(", ");
    signer = `key ${toHex(key)}, reached from ${source} operator key ${toHex(first)} by` +
      ` ${rc.rotations.length} rotation(s) (${ids})`;
  }
  if (pinned !== null) return ["ok", `signed by ${signer}`];
  return ["ok", `signed by ${signer}, SELF-ASSERTED by the receipt:` +
    " pin the city's operator key with --operator-key to trust it"];
}

async function checkCosignatures(body, signatures, named, pinned) {
  const valid = new Map(); // witness key (hex) -> name, for each valid cosignature
  const bad = [];
  for (const s of signatures) {
    const keys = named.filter(([n]) => n === s.name).map(([, k]) => k);
    if (!keys.length) continue; // the operator's signature, or a signer not named
    const good = [];
    for (const k of keys) if (await cosignatureOk(body, s, s.name, k)) good.push(k);
    if (!good.length) bad.push(s.name);
    for (const k of good) valid.set(toHex(k), s.name);
  }
  if (bad.length) return ["FAIL", `invalid cosignature(s) by ${bad.sort().join(", ")}`, valid.size];
  const who = [...valid.values()].sort().join(", ") || "none";
  const source = pinned ? "pinned" : "SELF-ASSERTED by the receipt (pin with --witness)";
  return ["ok", `${valid.size} of ${named.length} witnesses cosigned (${who}); witness keys ${source}`, valid.size];
}

function checkQuorum(claimsFinal, valid, need, requireFinal, pinned) {
  if (need >= 1 && valid >= need) {
    const source = pinned ? "" : ", witnesses and quorum SELF-ASSERTED by the receipt";
    return ["ok", `FINAL: ${valid} cosignature(s), quorum ${need}${source}`];
  }
  if (claimsFinal) return ["FAIL", `the receipt claims final, but ${valid} valid cosignature(s), quorum ${need}`];
  return [requireFinal ? "FAIL" : "warn",
    `NOT FINAL: ${valid} valid cosignature(s), quorum ${need}; the checkpoint is vouched` +
    " for by the operator alone"];
}

function hasCrypto() {
  return Boolean(globalThis.crypto && globalThis.crypto.subtle);
}

/**
 * Check a receipt. Returns {ok, checks: [{name, ok, status, detail}]}, one check per
 * entry of CHECKS (only `format` when the receipt is unreadable).
 * @param {object} receipt the parsed receipt JSON
 * @param {{operatorKey?: string, witnesses?: {name: string, key: string}[] | null,
 *          quorum?: number | null, requireFinal?: boolean, allowUnpinned?: boolean}} pins
 */
export async function verifyReceipt(receipt, pins = {}) {
  if (!hasCrypto()) throw new Error("WebCrypto is not available: open the page over HTTPS");
  const { operatorKey = null, witnesses = null, quorum = null } = pins;
  const requireFinal = Boolean(pins.requireFinal);
  const allowUnpinned = Boolean(pins.allowUnpinned);
  checkPins(witnesses, quorum, requireFinal);
  const out = [];
  const add = (name, status, detail) => out.push({ name, ok: status !== "FAIL", status, detail });
  let rc, pinnedOp, pinnedW;
  try {
    rc = readReceipt(receipt);
    pinnedOp = operatorKey === null ? null : hex32(operatorKey, "--operator-key");
    pinnedW = witnesses === null ? null
      : witnesses.map((w) => [w.name, hex32(w.key, `the key of witness ${w.name}`)]);
  } catch (exc) {
    if (!(exc instanceof Bad)) throw exc;
    add("format", "FAIL", exc.message);
    return { ok: false, checks: out };
  }
  add("format", "ok", `${FORMAT}, city ${rc.city}, transaction ${rc.txId}`);
  add("transaction", ...(await checkTransaction(rc)));
  const leaf = await leafOf(rc.result, rc.envelope);
  if (rc.leafHash !== null && !equal(rc.leafHash, leaf)) {
    add("leaf", "FAIL", "the transaction does not hash to the receipt's leaf");
  } else {
    add("leaf", "ok", `leaf ${rc.leafIndex} hashes to ${toHex(leaf)}`);
  }
  let body, signatures, point;
  try {
    [body, signatures] = openNote(rc.note);
    point = parseCheckpoint(body);
  } catch (exc) {
    if (!(exc instanceof Bad)) throw exc;
    add("checkpoint", "FAIL", `unreadable signed note: ${exc.message}`);
    for (const name of CHECKS.slice(4)) add(name, "FAIL", "no readable checkpoint");
    return { ok: false, checks: out };
  }
  add("checkpoint", ...checkCheckpoint(rc, point));
  add("operator", ...(await checkOperator(rc, body, signatures, pinnedOp, allowUnpinned)));
  if (await inclusionOk(leaf, rc.leafIndex, point.size, rc.proof, point.root)) {
    add("inclusion", "ok", `leaf ${rc.leafIndex} is in the tree of size ${point.size}`);
  } else {
    add("inclusion", "FAIL", "the proof does not lead to the checkpoint root");
  }
  if (pinnedW === null && !allowUnpinned) {
    add("cosignatures", "warn", UNPINNED_WITNESSES);
    add("quorum", "warn", UNPINNED_WITNESSES);
  } else {
    const named = pinnedW !== null ? pinnedW : rc.witnesses;
    const pinned = pinnedW !== null;
    const [status, detail, valid] = await checkCosignatures(body, signatures, named, pinned);
    add("cosignatures", status, detail);
    const need = pinnedW === null || quorum === null ? rc.quorum : quorum;
    add("quorum", ...checkQuorum(rc.final, valid, need, requireFinal, pinned));
  }
  return { ok: out.every((c) => c.ok), checks: out };
}
