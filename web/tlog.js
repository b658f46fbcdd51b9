/* attestchain in the browser: the checks, without the page.
 *
 * Everything here works on bytes alone and trusts none of them: deterministic
 * CBOR and records (docs/format.md sections 3-4), signed notes and checkpoints,
 * RFC 6962 trees, tlog-tiles directories and .tlog-proof files (section 10),
 * cosignatures (section 11).  The only cryptography is the browser's own
 * WebCrypto (SHA-256 and Ed25519), so what the page says can be checked by
 * reading this file and nothing else.  A classic script (not a module) so that
 * it also runs from file://, where modules are refused.
 */
"use strict";
(function (root) {

const ROTATION_TYPE = "soosef/key-rotation-v1";
const MAX_RECORD = 1048576;        /* largest frame body */
const MAX_DEPTH = 16;              /* nested maps and arrays, the record map is 1 */
const MAX_NOTE_SIGS = 100;         /* signature lines read in one note */
const TILE_WIDTH = 256;
const PROOF_HEADER = "c2sp.org/tlog-proof@v1";
const SIG_ED25519 = 0x01, SIG_COSIGNATURE = 0x04;
const INT64_MAX = (1n << 63n) - 1n;
/* The Ed25519 group order: a signature's S must be below it (RFC 8032 5.1.7). */
const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;

/* A failed check: `reason` is a short stable word the page and tests key on. */
class CheckError extends Error {
  constructor(reason, message) { super(message); this.reason = reason; }
}
function fail(reason, message) { throw new CheckError(reason, message); }

/* ------------------------------------------------------------ bytes */

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function hex(bytes) {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

function fromHex(s) {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

function b64encode(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/* Standard base64 with padding, in its one canonical spelling, or null. */
function b64decode(s) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  let bin;
  try { bin = atob(s); } catch (e) { return null; }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return b64encode(out) === s ? out : null;
}

function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/* Decimal without leading zeros (0 itself allowed), as a BigInt, or null. */
function parseDecimal(s) {
  return /^(0|[1-9][0-9]*)$/.test(s) ? BigInt(s) : null;
}

/* ------------------------------------------------------------ WebCrypto */

function subtle() {
  const c = root.crypto;
  if (!c || !c.subtle)
    fail("crypto", "this browser gives the page no WebCrypto (open it over https, " +
         "from localhost or from a file)");
  return c.subtle;
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

/* Pure Ed25519 (RFC 8032).  The strict rule of the format (an S at or above
 * the group order is a second signature for the same message) is checked
 * here, whatever the browser's own verifier does. */
async function ed25519Verify(pub, sig, msg) {
  if (pub.length !== 32 || sig.length !== 64) return false;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  if (s >= ED25519_L) return false;
  let key;
  try {
    key = await subtle().importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    if (e && e.name === "NotSupportedError")
      fail("crypto", "this browser's WebCrypto has no Ed25519 (use a current Chrome, " +
           "Firefox or Safari)");
    return false;          /* not a valid point */
  }
  return subtle().verify({ name: "Ed25519" }, key, sig, msg);
}

/* ------------------------------------------------------------ deterministic CBOR */

/* Decodes one item of the format's CBOR subset (docs/format.md section 3),
 * rejecting every byte string that is not exactly the deterministic encoding
 * of what it decodes to.  Integers are BigInt, byte strings Uint8Array, text
 * strings string, arrays Array, maps Map (in their encoded order).
 * Returns {value, end}; throws CheckError("decode") otherwise. */
function cborItem(buf, pos, level) {
  const bad = (what) => fail("decode", `CBOR at byte ${pos}: ${what}`);
  if (pos >= buf.length) bad("truncated");
  const start = pos, ib = buf[pos++], major = ib >> 5, info = ib & 31;
  if (major === 7) {
    if (info === 20) return { value: false, end: pos };
    if (info === 21) return { value: true, end: pos };
    if (info === 22) return { value: null, end: pos };
    bad("only false, true and null are allowed among the simple values and floats");
  }
  if (major === 6) bad("tags are not allowed");
  let val;
  if (info < 24) val = BigInt(info);
  else if (info <= 27) {
    const n = 1 << (info - 24);
    if (pos + n > buf.length) bad("truncated head");
    val = 0n;
    for (let i = 0; i < n; i++) val = (val << 8n) | BigInt(buf[pos + i]);
    pos += n;
    const least = [24n, 256n, 65536n, 4294967296n][info - 24];
    if (val < least) bad("an integer or length not in its shortest form");
  } else bad(info === 31 ? "indefinite lengths are not allowed" : "reserved head");
  if (major === 0) return { value: val, end: pos };
  if (major === 1) return { value: -1n - val, end: pos };
  if (major === 2 || major === 3) {
    if (val > BigInt(buf.length - pos)) bad("string runs past the end");
    const n = Number(val), bytes = buf.subarray(pos, pos + n);
    if (major === 2) return { value: bytes.slice(), end: pos + n };
    let s;
    try { s = utf8Strict.decode(bytes); } catch (e) { bad("text is not valid UTF-8"); }
    return { value: s, end: pos + n };
  }
  /* arrays and maps */
  if (level > MAX_DEPTH) bad(`more than ${MAX_DEPTH} levels of nesting`);
  if (val > BigInt(buf.length - pos)) bad("more items than bytes");
  const n = Number(val);
  if (major === 4) {
    const arr = [];
    for (let i = 0; i < n; i++) {
      const it = cborItem(buf, pos, level + 1);
      arr.push(it.value);
      pos = it.end;
    }
    return { value: arr, end: pos };
  }
  const map = new Map();
  const spans = [];        /* [key start, value end] of each entry, for canonical bytes */
  let prevKey = null;
  for (let i = 0; i < n; i++) {
    const keyStart = pos;
    if (pos >= buf.length || buf[pos] >> 5 !== 3) bad("a map key that is not a text string");
    const k = cborItem(buf, pos, level + 1);
    const keyBytes = buf.subarray(keyStart, k.end);
    if (prevKey !== null && keyCompare(prevKey, keyBytes) >= 0)
      bad(`map keys not unique and sorted ("${k.value}")`);
    prevKey = keyBytes;
    const v = cborItem(buf, k.end, level + 1);
    map.set(k.value, v.value);
    spans.push([keyStart, v.end]);
    pos = v.end;
  }
  return { value: map, end: pos, spans, start };
}

/* Deterministic order of encoded keys: shorter first, then bytewise. */
function keyCompare(a, b) {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/* ------------------------------------------------------------ records */

const RECORD_KEYS = ["version", "metadata", "prev_hash", "record_id", "signature",
                     "claimed_ts", "chain_index", "content_hash", "content_type",
                     "signer_pubkey", "entropy_witnesses"];

/* Decodes a frame body into a record (docs/format.md section 4), strictly.
 * Adds `canonical` (the signed bytes) and `body`.  Throws CheckError("decode"). */
function decodeRecord(body) {
  if (body.length < 1 || body.length > MAX_RECORD)
    fail("decode", `a record of ${body.length} bytes (1 to ${MAX_RECORD})`);
  const top = cborItem(body, 0, 1);
  if (!(top.value instanceof Map)) fail("decode", "a record is a CBOR map");
  if (top.end !== body.length) fail("decode", "bytes after the record's map");
  const m = top.value, keys = [...m.keys()];
  if (keys.length !== RECORD_KEYS.length || keys.some((k, i) => k !== RECORD_KEYS[i]))
    fail("decode", "a record has exactly the eleven keys of the format");
  const bytesOf = (k, n) => {
    const v = m.get(k);
    if (!(v instanceof Uint8Array) || v.length !== n) fail("decode", `${k} must be ${n} bytes`);
    return v;
  };
  const uintOf = (k) => {
    const v = m.get(k);
    if (typeof v !== "bigint" || v < 0n) fail("decode", `${k} must be an unsigned integer`);
    return v;
  };
  const mapOf = (k) => {
    const v = m.get(k);
    if (!(v instanceof Map)) fail("decode", `${k} must be a map`);
    return v;
  };
  if (uintOf("version") !== 1n) fail("decode", "version must be 1");
  const index = uintOf("chain_index");
  if (index > INT64_MAX) fail("decode", "chain_index beyond 2^63-1");
  const type = m.get("content_type");
  if (typeof type !== "string" || utf8.encode(type).length < 1 || utf8.encode(type).length > 255)
    fail("decode", "content_type must be 1 to 255 bytes of text");
  /* The signature entry is the fifth: cut it out and turn the head 0xab
   * (eleven entries) into 0xaa (ten) to get the signed bytes. */
  const [sigStart, sigEnd] = top.spans[4];
  const canonical = concat(Uint8Array.of(0xaa), body.subarray(1, sigStart), body.subarray(sigEnd));
  return {
    index, metadata: mapOf("metadata"), prev_hash: bytesOf("prev_hash", 32),
    record_id: bytesOf("record_id", 16), signature: bytesOf("signature", 64),
    claimed_ts: uintOf("claimed_ts"), content_hash: bytesOf("content_hash", 32),
    content_type: type, signer_pubkey: bytesOf("signer_pubkey", 32),
    entropy_witnesses: mapOf("entropy_witnesses"), canonical, body,
  };
}

async function recordSignatureValid(rec) {
  return ed25519Verify(rec.signer_pubkey, rec.signature, rec.canonical);
}

/* The new key of a well-formed rotation record (docs/format.md 4.3), or null. */
async function rotationTarget(rec) {
  if (rec.content_type !== ROTATION_TYPE) return null;
  const nk = rec.metadata.get("new_pubkey");
  if (typeof nk !== "string" || !/^[0-9a-f]{64}$/.test(nk)) return null;
  const pub = fromHex(nk);
  if (equal(pub, rec.signer_pubkey) || !equal(await sha256(pub), rec.content_hash)) return null;
  return pub;
}

/* Unix time in microseconds as ISO-8601 UTC with six decimals, like the tool. */
function isoMicros(us) {
  const sec = us / 1000000n, frac = us % 1000000n;
  const d = new Date(Number(sec) * 1000);
  if (isNaN(d.getTime())) return `${us} µs`;
  return d.toISOString().replace(/\.\d{3}Z$/, "." + frac.toString().padStart(6, "0") + "Z");
}

/* Metadata as JSON text, with the tool's escapes (docs/format.md, metadata):
 * {"$bytes": hex}, {"$int": "dec"} outside int64, {"$map": {...}} for a map
 * whose one key is one of these names (the top level is never escaped). */
function metadataJSON(value, top = true) {
  if (typeof value === "bigint") {
    if (value > INT64_MAX || value < -INT64_MAX - 1n) return `{"$int":"${value}"}`;
    return value.toString();
  }
  if (value instanceof Uint8Array) return `{"$bytes":"${hex(value)}"}`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value === true || value === false || value === null) return String(value);
  if (Array.isArray(value)) return "[" + value.map((v) => metadataJSON(v, false)).join(",") + "]";
  const body = "{" + [...value].map(([k, v]) => JSON.stringify(k) + ":" + metadataJSON(v, false))
    .join(",") + "}";
  const escaped = value.size === 1 && ["$bytes", "$int", "$map"].includes([...value.keys()][0]);
  return !top && escaped ? `{"$map":${body}}` : body;
}

/* ------------------------------------------------------------ RFC 6962 */

async function leafHash(data) { return sha256(concat(Uint8Array.of(0), data)); }
async function nodeHash(l, r) { return sha256(concat(Uint8Array.of(1), l, r)); }

/* Merkle Tree Hash over leaf hashes. */
async function mth(hashes) {
  if (hashes.length === 0) return sha256(new Uint8Array(0));
  if (hashes.length === 1) return hashes[0];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(await mth(hashes.slice(0, k)), await mth(hashes.slice(k)));
}

/* The root an inclusion proof gives (RFC 9162 2.1.3.2); CheckError("inclusion")
 * when the proof cannot belong to that index and size. */
async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) fail("inclusion", `index ${index} is not below the tree size ${size}`);
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of proof) {
    if (sn === 0n) fail("inclusion", "the inclusion proof has too many hashes");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) fail("inclusion", "the inclusion proof has too few hashes");
  return r;
}

/* ------------------------------------------------------------ keys and notes */

/* A verifier key "<name>+<8 hex key id>+<base64(type || public key)>". */
async function parseVkey(text) {
  /* The name and the key id hold no "+"; the base64 after them may. */
  const s = text.trim(), m = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(s), parts = m ? m.slice(1) : [];
  if (!m || !validKeyName(parts[0]) || !/^[0-9a-f]{8}$/.test(parts[1]))
    fail("vkey", `not a verifier key: "${short(s)}"`);
  const raw = b64decode(parts[2]);
  if (raw === null || raw.length !== 33 || (raw[0] !== SIG_ED25519 && raw[0] !== SIG_COSIGNATURE))
    fail("vkey", `not an Ed25519 verifier key: "${short(s)}"`);
  const key = { name: parts[0], type: raw[0], pub: raw.slice(1), text: s };
  key.id = await keyId(key.name, key.type, key.pub);
  if (hex(key.id) !== parts[1]) fail("vkey", `the key id of "${short(s)}" does not match its key`);
  return key;
}

async function keyId(name, type, pub) {
  return (await sha256(concat(utf8.encode(name + "\n"), Uint8Array.of(type), pub))).slice(0, 4);
}

async function makeVkey(name, pub, type = SIG_ED25519) {
  return `${name}+${hex(await keyId(name, type, pub))}+${b64encode(concat(Uint8Array.of(type), pub))}`;
}

function validKeyName(n) { return n.length > 0 && !/[\s+]/u.test(n); }

function short(s) { return s.length > 60 ? s.slice(0, 57) + "..." : s; }

/* Splits a signed note (C2SP signed-note) into its text and signature lines. */
function parseNote(text) {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text))
    fail("note", "the checkpoint holds control characters");
  const cut = text.lastIndexOf("\n\n");
  if (cut < 0 || !text.endsWith("\n")) fail("note", "the checkpoint has no signature lines");
  const body = text.slice(0, cut + 1);
  const lines = text.slice(cut + 2, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGS)
    fail("note", `the checkpoint has more than ${MAX_NOTE_SIGS} signature lines`);
  const sigs = lines.map((line) => {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    const blob = m && b64decode(m[2]);
    if (!m || !validKeyName(m[1]) || blob === null || blob.length < 5)
      fail("note", `not a signature line: "${short(line)}"`);
    return { name: m[1], id: blob.slice(0, 4), sig: blob.slice(4), line };
  });
  return { body, sigs };
}

/* A checkpoint body: origin, size, root, then any extension lines. */
function parseCheckpointBody(body) {
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) fail("checkpoint", "a checkpoint has an origin, a size and a root hash");
  const size = parseDecimal(lines[1]), root = b64decode(lines[2]);
  if (!lines[0] || size === null || root === null || root.length !== 32)
    fail("checkpoint", "the checkpoint's size or root hash is malformed");
  return { origin: lines[0], size, root, extensions: lines.slice(3) };
}

/* Checks a signed checkpoint (C2SP tlog-checkpoint, signed-note) against
 * trusted log keys (type 0x01) and witness keys (type 0x04).  Signatures by
 * unknown keys are ignored; one that fails from a known key rejects the note.
 * Returns {origin, size, root, body, signedBy, cosigned: [{name, time}],
 * unknown: n}; throws CheckError("untrusted" | "checkpoint_signature" | ...). */
async function verifyCheckpoint(text, logKeys, witnessKeys = []) {
  const note = parseNote(text);
  const cp = parseCheckpointBody(note.body);
  const bodyBytes = utf8.encode(note.body);
  const result = { ...cp, body: note.body, signedBy: null, cosigned: [], unknown: 0 };
  for (const s of note.sigs) {
    const match = (k) => k.name === s.name && equal(k.id, s.id);
    const lk = logKeys.find((k) => k.type === SIG_ED25519 && match(k));
    const wk = witnessKeys.find((k) => k.type === SIG_COSIGNATURE && match(k));
    if (lk) {
      if (lk.name !== cp.origin)
        fail("untrusted", `the key ${lk.name} is not a key for the origin ${cp.origin}`);
      if (!(await ed25519Verify(lk.pub, s.sig, bodyBytes)))
        fail("checkpoint_signature", `the checkpoint's signature by ${lk.text} does not verify`);
      result.signedBy = result.signedBy || lk;
    } else if (wk) {
      if (s.sig.length !== 72) fail("witness", `a malformed cosignature by ${wk.name}`);
      let t = 0n;
      for (let i = 0; i < 8; i++) t = (t << 8n) | BigInt(s.sig[i]);
      const msg = concat(utf8.encode(`cosignature/v1\ntime ${t}\n`), bodyBytes);
      if (!(await ed25519Verify(wk.pub, s.sig.slice(8), msg)))
        fail("witness", `the cosignature by ${wk.name} does not verify`);
      result.cosigned.push({ name: wk.name, time: t, key: wk });
    } else {
      result.unknown++;
    }
  }
  if (!result.signedBy) {
    const names = note.sigs.map((s) => s.name + " " + hex(s.id)).join(", ");
    fail("untrusted", `the checkpoint is not signed by a trusted key (signed by: ${names})`);
  }
  return result;
}

/* ------------------------------------------------------------ proofs */

/* Reads a .tlog-proof (C2SP tlog-proof, with the record in `extra`). */
function parseProof(text) {
  const bad = (what) => fail("malformed", `not a .tlog-proof: ${what}`);
  const cut = text.indexOf("\n\n");
  if (cut < 0) bad("no empty line before the checkpoint");
  const lines = text.slice(0, cut).split("\n");
  if (lines[0] !== PROOF_HEADER) bad(`the first line must be ${PROOF_HEADER}`);
  let i = 1, extra = null;
  if (lines[i] && lines[i].startsWith("extra ")) {
    extra = b64decode(lines[i].slice(6));
    if (extra === null) bad("the extra line is not base64");
    i++;
  }
  if (extra === null) bad("an attestchain proof carries the record in an extra line");
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i] || "");
  if (!m) bad("no index line (decimal, no leading zeros)");
  const proof = lines.slice(i + 1).map((l, j) => {
    const h = b64decode(l);
    if (h === null || h.length !== 32) bad(`proof line ${j + 1} is not a base64 SHA-256 hash`);
    return h;
  });
  return { extra, index: BigInt(m[1]), proof, checkpoint: text.slice(cut + 2) };
}

/* The whole offline check of a proof (docs/format.md section 10).
 * opts: {logKeys, witnessKeys, signerKeys: [Uint8Array], content: Uint8Array | null}.
 * Returns {valid, reason, message, steps: [{name, ok, detail}], record, checkpoint}. */
async function checkProof(proofText, opts) {
  const steps = [];
  const out = { valid: false, reason: null, message: "", steps, record: null, checkpoint: null };
  const step = (name, ok, detail) => steps.push({ name, ok, detail });
  try {
    const p = parseProof(proofText);
    step("proof", true, `index ${p.index}, ${p.proof.length} proof hashes`);
    const leaf = await leafHash(p.extra);
    const rec = decodeRecord(p.extra);
    out.record = rec;
    step("record", true, `decoded, ${rec.content_type}, signed by ${hex(rec.signer_pubkey)}`);
    if (rec.index !== p.index)
      fail("index", `the record is number ${rec.index}, the proof is for index ${p.index}`);
    const cp = await verifyCheckpoint(p.checkpoint, opts.logKeys, opts.witnessKeys || []);
    out.checkpoint = cp;
    step("checkpoint", true, `${cp.origin}, ${cp.size} records, signed by ${cp.signedBy.text}`);
    const r = await rootFromInclusion(p.index, cp.size, leaf, p.proof);
    if (!equal(r, cp.root))
      fail("inclusion", "the inclusion proof does not lead to the checkpoint's root: " +
           "the record or the proof was changed");
    step("inclusion", true, `record ${p.index} is in the tree of ${cp.size} records`);
    if (!(await recordSignatureValid(rec)))
      fail("signature", "the record's signature does not verify");
    step("signature", true, "the record's Ed25519 signature verifies");
    const trusted = opts.logKeys.map((k) => k.pub).concat(opts.signerKeys || []);
    if (!trusted.some((k) => equal(k, rec.signer_pubkey)))
      fail("signer", `the record's signer ${hex(rec.signer_pubkey)} is not a trusted key ` +
           "(after a rotation, name the older key too)");
    step("signer", true, "signed by a trusted key");
    if (opts.content) {
      const h = await sha256(opts.content);
      if (!equal(h, rec.content_hash))
        fail("content", `the file's SHA-256 is ${hex(h)}, the record attests ${hex(rec.content_hash)}`);
      step("content", true, `the file's SHA-256 is the record's content hash`);
    } else {
      step("content", null, "no content file given: its hash was not checked");
    }
    const w = cp.cosigned.length, wn = (opts.witnessKeys || []).length;
    step("witnesses", w > 0 ? true : null,
         `${w} of ${wn} known witnesses cosigned` + (cp.unknown ? `, ${cp.unknown} unknown signatures ignored` : ""));
    out.valid = true;
  } catch (e) {
    if (!(e instanceof CheckError)) throw e;
    out.reason = e.reason;
    out.message = e.message;
    step(e.reason, false, e.message);
  }
  return out;
}

/* ------------------------------------------------------------ tiles */

function tileIndexPath(n) {
  let s = String(n % 1000).padStart(3, "0");
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000))
    s = "x" + String(n % 1000).padStart(3, "0") + "/" + s;
  return s;
}

function tilePath(level, n, width) {
  const p = `tile/${level}/${tileIndexPath(n)}`;
  return width === TILE_WIDTH ? p : `${p}.p/${width}`;
}

/* Entries of an entry bundle: 2-byte big-endian length, then the bytes. */
function splitBundle(bytes, count) {
  const out = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 2 > bytes.length) fail("bundle", "an entry bundle ends inside a length");
    const n = (bytes[pos] << 8) | bytes[pos + 1];
    if (pos + 2 + n > bytes.length) fail("bundle", "an entry bundle ends inside an entry");
    out.push(bytes.subarray(pos + 2, pos + 2 + n));
    pos += 2 + n;
  }
  if (out.length !== count) fail("bundle", `an entry bundle of ${out.length} entries, expected ${count}`);
  return out;
}

/* A tlog-tiles directory read through `get(path) -> Promise<Uint8Array|null>`,
 * for a checkpoint already verified (size, root).  Every bundle it returns is
 * authenticated against that root: the partial tiles of each level together
 * give the root; a full tile's hash is an entry of its parent tile. */
class TileLog {
  constructor(get, size, root) {
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail("checkpoint", `a tree of ${size} records is too large to browse`);
    this.get = get;
    this.size = Number(size);
    this.root = root;
    this.cache = new Map();      /* "L/N" -> Promise of authenticated hashes */
    this.rootChecked = null;
  }
  bundles() { return Math.ceil(this.size / TILE_WIDTH); }
  /* Width of tile n at level l (0 when there is none). */
  width(l, n) {
    const full = Math.floor(this.size / TILE_WIDTH ** (l + 1));
    if (n < full) return TILE_WIDTH;
    return n === full ? Math.floor(this.size / TILE_WIDTH ** l) % TILE_WIDTH : 0;
  }
  async fetchTile(l, n) {
    const w = this.width(l, n);
    if (l === 0) {
      const entries = await this.fetchBundle(n);
      return { w, hashes: await Promise.all(entries.map(leafHash)), entries };
    }
    const path = tilePath(l, n, w);
    const bytes = await this.get(path);
    if (bytes === null) fail("missing", `${path} is missing`);
    if (bytes.length !== 32 * w) fail("tile", `${path} is ${bytes.length} bytes, not ${32 * w}`);
    const hashes = [];
    for (let i = 0; i < w; i++) hashes.push(bytes.slice(32 * i, 32 * i + 32));
    return { w, hashes };
  }
  async fetchBundle(n) {
    const w = this.width(0, n);
    const path = tilePath("entries", n, w);
    const bytes = await this.get(path);
    if (bytes === null) fail("missing", `${path} is missing`);
    return splitBundle(bytes, w);
  }
  /* The hashes of tile (l, n), authenticated; level 0 also gives the entries.
   * Hash tiles are kept (8 KiB each, a few per level); bundles are not, so a
   * search through a million records does not keep them all. */
  tile(l, n) {
    const key = `${l}/${n}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const p = this.authenticate(l, n);
    if (l > 0) {
      p.catch(() => this.cache.delete(key));
      this.cache.set(key, p);
    }
    return p;
  }
  async authenticate(l, n) {
    const t = await this.fetchTile(l, n);
    if (t.w === TILE_WIDTH) {
      const parent = await this.tile(l + 1, Math.floor(n / TILE_WIDTH));
      if (!equal(await mth(t.hashes), parent.hashes[n % TILE_WIDTH]))
        fail("tile", `tile ${l}/${n} does not hash to its parent: the directory was changed`);
    } else {
      await this.checkRoot(l, n, t);
    }
    return t;
  }
  /* The partial tiles of every level give the checkpoint's root. */
  checkRoot(l, n, t) {
    if (!this.rootChecked) this.rootChecked = this.computeRoot(`${l}/${n}`, t);
    return this.rootChecked;
  }
  /* `known`: the tile (key "L/N") whose fetch started the check, not fetched again. */
  async computeRoot(knownKey, known) {
    const seen = [];
    const r = await this.rootFrom(this.size, async (l, n) => {
      const t = `${l}/${n}` === knownKey ? known : await this.fetchTile(l, n);
      seen.push([`${l}/${n}`, t]);
      return t;
    });
    if (!equal(r, this.root)) {
      this.rootChecked = null;
      fail("tile", "the newest tiles do not give the checkpoint's root: the directory " +
           "does not match its checkpoint");
    }
    /* The partial tiles are authenticated by this very computation. */
    for (const [key, t] of seen) this.cache.set(key, Promise.resolve(t));
  }
  /* The root of the tree of the first m records from the tiles of this one:
   * at each level, the first floor(m / 256^l) mod 256 hashes of tile
   * floor(m / 256^(l+1)), as perfect subtrees, folded from the right. */
  async rootFrom(m, tileAt) {
    const subtrees = [];
    let top = 0;
    while (Math.floor(m / TILE_WIDTH ** (top + 1)) >= 1) top++;
    for (let l = top; l >= 0 && m > 0; l--) {
      const n = Math.floor(m / TILE_WIDTH ** (l + 1)), w = Math.floor(m / TILE_WIDTH ** l) % TILE_WIDTH;
      if (w === 0) continue;
      const hashes = (await tileAt(l, n)).hashes;
      for (let bit = 7, at = 0; bit >= 0; bit--) {
        if (w & (1 << bit)) {
          subtrees.push(await mth(hashes.slice(at, at + (1 << bit))));
          at += 1 << bit;
        }
      }
    }
    let r = subtrees.length ? subtrees[subtrees.length - 1] : await sha256(new Uint8Array(0));
    for (let i = subtrees.length - 2; i >= 0; i--) r = await nodeHash(subtrees[i], r);
    return r;
  }
  /* The root of the first m records, from tiles authenticated against this
   * tree: it equals an older checkpoint's root exactly when that checkpoint
   * is consistent with this one (the tiles serve as the consistency proof). */
  async rootAt(m) {
    if (m < 1 || m > this.size) fail("consistency", `no tree of ${m} records within ${this.size}`);
    return this.rootFrom(m, (l, n) => this.tile(l, n));
  }
  /* The records of bundle n: entries authenticated against the checkpoint. */
  async bundle(n) {
    if (this.size === 0) return [];
    const t = await this.tile(0, n);
    return t.entries;
  }
}

/* ------------------------------------------------------------ export */

const api = {
  ROTATION_TYPE, TILE_WIDTH, CheckError, hex, fromHex, b64encode, b64decode, equal, concat,
  sha256, ed25519Verify, cborItem, decodeRecord, recordSignatureValid, rotationTarget,
  isoMicros, metadataJSON, leafHash, nodeHash, mth, rootFromInclusion, parseVkey, makeVkey,
  keyId, parseNote, verifyCheckpoint, parseProof, checkProof, tilePath, splitBundle, TileLog,
};
root.AC = api;
if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
