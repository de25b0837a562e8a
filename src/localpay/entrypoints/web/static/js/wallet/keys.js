// The citizen's wallet key, made and kept on this device; the seed is never sent anywhere.
//
// Exports (other wallet pages, e.g. pay.js, import these by name; keep them stable):
//   signCommand(seed, body) -> Promise<{body, sigs: [{key, sig}]}>   sign a command body
//       (Ed25519 over "localpay/command/v1\n" + canonical body bytes). Send the envelope
//       with postCommand (api.js) or as canonical(envelope): never JSON.stringify, whose
//       key order is not canonical.
//   loadWallet(city) -> Promise<{city, wallet, key, seed} | null>   this device's wallet
//   saveWallet(city, wallet, seed), forgetWallet(city)
//   newCommandId() -> 32 lowercase hex (128 random bits): a command's id
//   newSeed() -> Uint8Array(32); publicKeyHex(seed) -> Promise<64 hex>
//   walletIdFor(publicKeyHex) -> "w-" + 10 base32 characters of the key
//   recoveryCode(seed) -> "XXXX XXXX ..." ; seedFromRecoveryCode(code) -> Uint8Array(32)
//       (throws RecoveryCodeError with .reason: "length" | "character" | "checksum")
//   signChallenge(seed, hexMessage) -> Promise<128 hex>   sign /challenges' "sign" as is
//   useBackend("auto" | "webcrypto" | "noble"), backendName() -> Promise<string>
//
// Ed25519 is WebCrypto's where the browser has it (imported from the seed as PKCS#8),
// otherwise the vendored @noble/ed25519 (audited; async API). Both give the same
// signatures (RFC 8032 is deterministic); the choice is injectable for the tests.
//
// Where the seed lives: localStorage of this origin, one entry per city. IndexedDB would
// only be better with a non-extractable CryptoKey, which the noble path and the recovery
// code both rule out (they need the raw seed); localStorage is as origin-scoped, and
// synchronous, so a page knows at once whether this device holds a wallet. The API is
// async all the same, so the store can move to IndexedDB without changing callers.

import { canonicalBytes } from "./canonical.js";

const SIGNING_PREFIX = new TextEncoder().encode("localpay/command/v1\n");
const PKCS8_PREFIX = hexToBytes("302e020100300506032b657004220420");
const NOBLE = "/static/vendor/noble-ed25519/index.js";
const STORE_PREFIX = "localpay.wallet.";

// -- hex ---------------------------------------------------------------------------------

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/.test(hex)) {
    throw new TypeError("expected lowercase hex");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checkSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new TypeError("a seed is 32 bytes");
  }
}

// -- the Ed25519 backend -----------------------------------------------------------------

let wanted = "auto";
let chosen = null; // Promise<backend>

export function useBackend(name) {
  if (!["auto", "webcrypto", "noble"].includes(name)) throw new TypeError(`no backend ${name}`);
  wanted = name;
  chosen = null;
}

const webcrypto = {
  name: "webcrypto",
  async key(seed) {
    const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
    pkcs8.set(PKCS8_PREFIX);
    pkcs8.set(seed, PKCS8_PREFIX.length);
    return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  },
  async publicKey(seed) {
    const jwk = await crypto.subtle.exportKey("jwk", await this.key(seed));
    return base64urlToBytes(jwk.x);
  },
  async sign(seed, message) {
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, await this.key(seed), message);
    return new Uint8Array(sig);
  },
};

async function noble() {
  const ed = await import(NOBLE);
  return {
    name: "noble",
    publicKey: (seed) => ed.getPublicKeyAsync(seed),
    sign: (seed, message) => ed.signAsync(message, seed),
  };
}

async function webcryptoWorks() {
  try {
    await webcrypto.sign(new Uint8Array(32), new Uint8Array(1));
    return true;
  } catch {
    return false; // no Ed25519 in this browser's WebCrypto (or no secure context)
  }
}

async function pick() {
  if (wanted === "noble") return noble();
  if (wanted === "webcrypto" || (await webcryptoWorks())) return webcrypto;
  return noble();
}

function backend() {
  if (chosen === null) chosen = pick();
  return chosen;
}

export async function backendName() {
  return (await backend()).name;
}

function base64urlToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

// -- keys, ids and signatures ------------------------------------------------------------

export function newSeed() {
  return crypto.getRandomValues(new Uint8Array(32));
}

export function newCommandId() {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

export async function publicKeyHex(seed) {
  checkSeed(seed);
  return bytesToHex(await (await backend()).publicKey(seed));
}

export async function signCommand(seed, body) {
  checkSeed(seed);
  const bodyBytes = canonicalBytes(body); // refuses a body that is not canonical JSON
  const message = new Uint8Array(SIGNING_PREFIX.length + bodyBytes.length);
  message.set(SIGNING_PREFIX);
  message.set(bodyBytes, SIGNING_PREFIX.length);
  const impl = await backend();
  const key = bytesToHex(await impl.publicKey(seed));
  const sig = bytesToHex(await impl.sign(seed, message));
  return { body, sigs: [{ key, sig }] };
}

export async function signChallenge(seed, hexMessage) {
  checkSeed(seed);
  return bytesToHex(await (await backend()).sign(seed, hexToBytes(hexMessage)));
}

// -- Crockford base32, recovery codes and wallet ids -------------------------------------

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SEED_SYMBOLS = 52; // 256 bits in 5-bit symbols (the last carries 1 bit, 4 zero bits)
const CHECK_SYMBOLS = 4; // a CRC-20 of the seed's symbols
const CODE_SYMBOLS = SEED_SYMBOLS + CHECK_SYMBOLS; // 56: 14 groups of 4
// x^20 + x^3 + 1 (primitive): catches every error within 20 consecutive bits, so any one
// mistyped character and any two swapped neighbours, and all but 1 in 2^20 of the rest.
const CRC_POLY = 0x9;

export class RecoveryCodeError extends Error {
  constructor(reason, detail) {
    super(`recovery code refused: ${reason}${detail ? ` (${detail})` : ""}`);
    this.name = "RecoveryCodeError";
    this.reason = reason;
    this.detail = detail || "";
  }
}

function toSymbols(bytes, count) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push((acc >> (bits - 5)) & 31);
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out.slice(0, count);
}

function fromSymbols(symbols, byteCount) {
  const out = new Uint8Array(byteCount);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const s of symbols) {
    acc = (acc << 5) | s;
    bits += 5;
    if (bits >= 8) {
      if (n < byteCount) out[n++] = (acc >> (bits - 8)) & 255;
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  return { bytes: out, rest: acc, restBits: bits };
}

function crc20(symbols) {
  let r = 0;
  for (const s of symbols) {
    for (let b = 4; b >= 0; b--) {
      const top = ((r >> 19) & 1) ^ ((s >> b) & 1);
      r = (r << 1) & 0xfffff;
      if (top) r ^= CRC_POLY;
    }
  }
  return [15, 10, 5, 0].map((shift) => (r >> shift) & 31);
}

export function recoveryCode(seed) {
  checkSeed(seed);
  const symbols = toSymbols(seed, SEED_SYMBOLS);
  const text = symbols.concat(crc20(symbols)).map((s) => ALPHABET[s]).join("");
  return text.match(/.{4}/g).join(" ");
}

// What people write for what they mean: any case, O for 0, I and L for 1; spaces and
// dashes between groups do not count.
function normalise(code) {
  return String(code)
    .toUpperCase()
    .replace(/[\s-]+/g, "")
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1");
}

export function seedFromRecoveryCode(code) {
  const text = normalise(code);
  const bad = [...text].find((ch) => !ALPHABET.includes(ch));
  if (bad !== undefined) throw new RecoveryCodeError("character", bad);
  if (text.length !== CODE_SYMBOLS) throw new RecoveryCodeError("length", String(text.length));
  const symbols = [...text].map((ch) => ALPHABET.indexOf(ch));
  const data = symbols.slice(0, SEED_SYMBOLS);
  const check = symbols.slice(SEED_SYMBOLS);
  const { bytes, rest } = fromSymbols(data, 32);
  const expected = crc20(data);
  if (rest !== 0 || expected.some((s, i) => s !== check[i])) {
    throw new RecoveryCodeError("checksum");
  }
  return bytes;
}

export function walletIdFor(publicKey) {
  const symbols = toSymbols(hexToBytes(publicKey), 10);
  return "w-" + symbols.map((s) => ALPHABET[s]).join("").toLowerCase();
}

// -- this device's wallet ----------------------------------------------------------------

export async function saveWallet(city, wallet, seed) {
  checkSeed(seed);
  const key = await publicKeyHex(seed);
  const entry = { city, wallet, key, seed: bytesToHex(seed) };
  localStorage.setItem(STORE_PREFIX + city, JSON.stringify(entry));
  // Ask the browser not to evict the key under storage pressure (best effort).
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  return { city, wallet, key, seed };
}

export async function loadWallet(city) {
  const raw = localStorage.getItem(STORE_PREFIX + city);
  if (!raw) return null;
  try {
    const entry = JSON.parse(raw);
    return { city, wallet: entry.wallet, key: entry.key, seed: hexToBytes(entry.seed) };
  } catch {
    return null; // an unreadable entry is no wallet
  }
}

export async function forgetWallet(city) {
  localStorage.removeItem(STORE_PREFIX + city);
}
