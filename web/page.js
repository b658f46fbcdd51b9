/* The page: reads the export it is served from (or a folder the user picks),
 * shows what the checks in tlog.js establish, and checks dropped proofs.
 *
 * It reads only what it shows: the checkpoint, export.json, the newest entry
 * bundle and the few partial tiles that tie it to the checkpoint's root;
 * then the bundles of record 0 and of each rotation for the signers'
 * timeline; older bundles only when the user pages back or searches.  Every
 * text that comes from the log is put in the page with textContent, never
 * parsed as HTML.
 */
"use strict";
(function () {
const AC = window.AC;
const PAGE = 50;                  /* records on a page */
const KEEP_BUNDLES = 16;          /* checked bundles kept for paging back and forth */
const $ = (id) => document.getElementById(id);

const st = {
  get: null,            /* path -> Promise<Uint8Array | null> */
  exported: null,       /* export.json, or null */
  cp: null,             /* the verified checkpoint */
  log: null,            /* AC.TileLog */
  bundles: new Map(),   /* bundle index -> Promise<[record view]> */
  page: 0,
  timeline: null,       /* [{pub, from, rotation}] once known */
  searchRun: 0,
};

/* ------------------------------------------------------------ small helpers */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function say(id, text, kind) {
  const e = $(id);
  e.textContent = text;
  e.className = kind || "";
}

function lines(text) {
  return text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s && !s.startsWith("#"));
}

async function readFile(file) { return new Uint8Array(await file.arrayBuffer()); }

/* ------------------------------------------------------------ sources */

function servedSource() {
  return async (path) => {
    const mutable = path === "checkpoint" || path === "export.json";
    const r = await fetch(path, { cache: mutable ? "no-store" : "default" });
    if (r.status === 404) return null;
    if (!r.ok) throw new AC.CheckError("fetch", `${path}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
}

function folderSource(files) {
  const byPath = new Map();
  for (const f of files) {
    const rel = (f.webkitRelativePath || f.name).split("/").slice(1).join("/");
    byPath.set(rel, f);
  }
  return async (path) => (byPath.has(path) ? readFile(byPath.get(path)) : null);
}

/* ------------------------------------------------------------ the chain */

async function openChain(get) {
  Object.assign(st, { get, exported: null, cp: null, log: null, bundles: new Map(), page: 0,
                     timeline: null });
  document.body.dataset.state = "loading";
  say("chain-status", "Reading the checkpoint…");
  try {
    const cpBytes = await get("checkpoint");
    if (cpBytes === null) {
      say("chain-status", "No published chain here (no checkpoint file next to this page).");
      $("open-folder").hidden = false;
      document.body.dataset.state = "empty";
      return;
    }
    const ex = await get("export.json");
    st.exported = ex === null ? null : JSON.parse(new TextDecoder().decode(ex));
    if (st.exported) prefillKeys(st.exported);
    const text = new TextDecoder("utf-8", { fatal: true }).decode(cpBytes);
    st.cp = await AC.verifyCheckpoint(text, await trustedLogKeys(), await witnessKeys());
    showCheckpoint(st.cp);
    st.log = new AC.TileLog(get, st.cp.size, st.cp.root);
    $("records").hidden = false;
    await showPage(0);
    const seen = await compareWithLastVisit(st.cp, text);
    if (seen === "shrunk" || seen === "rewritten")
      say("chain-status", `Checkpoint verified: ${st.cp.size} records; but this is not the log ` +
          "this browser saw here before (see below).", "bad");
    else
      say("chain-status", `Checkpoint verified: ${st.cp.size} records.`, "good");
    document.body.dataset.state = "ready";
    loadTimeline();
  } catch (e) {
    if (!(e instanceof AC.CheckError) && !(e instanceof SyntaxError)) console.error(e);
    say("chain-status", "This chain cannot be shown as verified: " + e.message, "bad");
    document.body.dataset.state = "error";
    document.body.dataset.reason = e.reason || "error";
  }
}

function prefillKeys(ex) {
  if (!$("trusted-vkeys").value.trim() && Array.isArray(ex.vkeys))
    $("trusted-vkeys").value = ex.vkeys.join("\n");
  if (!$("witness-vkeys").value.trim() && Array.isArray(ex.witnesses))
    $("witness-vkeys").value = ex.witnesses.join("\n");
}

async function parseKeys(text) {
  const out = [];
  for (const l of lines(text)) out.push(await AC.parseVkey(l));
  return out;
}
async function trustedLogKeys() { return parseKeys($("trusted-vkeys").value); }
async function witnessKeys() { return parseKeys($("witness-vkeys").value); }

function showCheckpoint(cp) {
  $("chain-facts").hidden = false;
  $("origin").textContent = cp.origin;
  $("size").textContent = cp.size.toLocaleString("en");
  $("cp-verdict").textContent = "✓ signature verified in this page";
  $("cp-verdict").className = "good";
  $("cp-key").textContent = cp.signedBy.text;
  $("cp-root").textContent = AC.b64encode(cp.root);
  $("cp-witnesses").textContent = cp.cosigned.length
    ? cp.cosigned.map((c) => `${c.name} (${new Date(Number(c.time) * 1000).toISOString()})`).join(", ")
    : "none known cosigned" + (cp.unknown ? ` (${cp.unknown} signatures by keys not listed)` : "");
}

/* ------------------------------------------------------------ since the last visit */

/* The browser remembers the newest checkpoint it verified for each origin;
 * the next visit checks, through the tiles, that the log it now shows still
 * begins with exactly that tree.  A log cut back or rewritten is shown with
 * both signed checkpoints (evidence a third party can check with the key),
 * and the remembered one is kept. */
async function compareWithLastVisit(cp, text) {
  let store = null;
  try { store = window.localStorage; } catch (e) { /* storage refused: nothing to compare */ }
  const out = $("cp-seen");
  if (!store) { out.textContent = "this browser keeps no memory for the page"; return "none"; }
  const key = "attestchain-seen:" + cp.origin;
  let seen = null;
  try { seen = JSON.parse(store.getItem(key)); } catch (e) { seen = null; }
  const size = seen && typeof seen.size === "string" && /^[1-9][0-9]*$/.test(seen.size) ? BigInt(seen.size) : null;
  const root = seen && typeof seen.root === "string" ? AC.b64decode(seen.root) : null;
  let verdict = "first", msg = "first visit from this browser: remembered for the next one";
  if (size !== null && root !== null && root.length === 32) {
    const when = typeof seen.when === "string" ? seen.when : "an earlier visit";
    if (size > cp.size) {
      verdict = "shrunk";
      msg = `✗ on ${when} this browser saw ${size} records here; the log now has ${cp.size}: it was cut back`;
    } else if (!AC.equal(await st.log.rootAt(Number(size)), root)) {
      verdict = "rewritten";
      msg = `✗ the first ${size} records are not those this browser saw on ${when}: the log was rewritten`;
    } else {
      verdict = "consistent";
      msg = `✓ consistent with the ${size} records this browser saw on ${when}`;
    }
  }
  out.textContent = msg;
  out.className = verdict === "consistent" ? "good" : verdict === "first" ? "" : "bad";
  out.dataset.seen = verdict;
  if (verdict === "shrunk" || verdict === "rewritten") {
    out.append(el("details", {}, el("summary", {}, "The two signed checkpoints"),
      el("pre", {}, seen.checkpoint || ""), el("pre", {}, text)));
    return verdict;
  }
  try {
    store.setItem(key, JSON.stringify({ size: String(cp.size), root: AC.b64encode(cp.root),
      when: new Date().toISOString().slice(0, 19) + "Z", checkpoint: text }));
  } catch (e) { /* storage full or refused: compare next time without it */ }
  return verdict;
}

/* ------------------------------------------------------------ records */

/* Decodes and checks the records of bundle n (authenticated by the tiles). */
function bundle(n) {
  let p = st.bundles.get(n);
  if (p) {
    st.bundles.delete(n);          /* most recently used last */
  } else {
    p = (async () => {
      const entries = await st.log.bundle(n);
      return Promise.all(entries.map((body, i) => checkRecord(body, n * AC.TILE_WIDTH + i)));
    })();
    p.catch(() => st.bundles.delete(n));
  }
  st.bundles.set(n, p);
  if (st.bundles.size > KEEP_BUNDLES) st.bundles.delete(st.bundles.keys().next().value);
  return p;
}

async function checkRecord(body, index) {
  const view = { index, rec: null, problems: [], hash: await AC.sha256(body) };
  try {
    view.rec = AC.decodeRecord(body);
  } catch (e) {
    view.problems.push("cannot be decoded: " + e.message);
    return view;
  }
  if (view.rec.index !== BigInt(index))
    view.problems.push(`says it is record ${view.rec.index}, stands at ${index}`);
  if (!(await AC.recordSignatureValid(view.rec))) view.problems.push("signature does not verify");
  return view;
}

/* Cross-record checks on what is loaded: links, and the signer's authority. */
function linkProblems(view, prev) {
  const out = [];
  if (!view.rec) return out;
  if (view.index === 0 && !view.rec.prev_hash.every((b) => b === 0))
    out.push("record 0 must link to 32 zero bytes");
  if (prev && prev.rec && !AC.equal(view.rec.prev_hash, prev.hash))
    out.push(`does not link to record ${prev.index}`);
  const auth = authorizedAt(view.index);
  if (auth && !AC.equal(auth, view.rec.signer_pubkey)) out.push("signer not authorized at this index");
  return out;
}

function authorizedAt(index) {
  if (!st.timeline) return null;
  let key = null;
  for (const t of st.timeline) if (t.from <= index) key = t.pub;
  return key;
}

async function recordsBetween(lo, hi) {   /* inclusive, lo <= hi */
  const out = [];
  for (let b = Math.floor(lo / AC.TILE_WIDTH); b <= Math.floor(hi / AC.TILE_WIDTH); b++)
    out.push(...await bundle(b));
  const first = Math.floor(lo / AC.TILE_WIDTH) * AC.TILE_WIDTH;
  return out.slice(lo - first, hi - first + 1);
}

async function showPage(p) {
  const size = st.log.size, pages = Math.max(1, Math.ceil(size / PAGE));
  st.page = Math.min(Math.max(0, p), pages - 1);
  const hi = size - 1 - st.page * PAGE, lo = Math.max(0, hi - PAGE + 1);
  $("page-info").textContent = size === 0 ? "no records"
    : `records ${hi} to ${lo} (page ${st.page + 1} of ${pages})`;
  $("newer").disabled = st.page === 0;
  $("older").disabled = st.page >= pages - 1;
  if (size === 0) { $("record-list").replaceChildren(); return; }
  const views = await recordsBetween(Math.max(0, lo - 1), hi);
  const prevOf = new Map(views.map((v) => [v.index + 1, v]));
  const items = views.filter((v) => v.index >= lo).reverse()
    .map((v) => recordItem(v, prevOf.get(v.index)));
  $("record-list").replaceChildren(...items);
}

function recordItem(view, prev) {
  const problems = view.problems.concat(linkProblems(view, prev));
  const li = el("li", { class: "rec" + (problems.length ? " bad" : ""), "data-index": String(view.index) });
  li.append(el("div", { class: "r-head" },
    el("span", { class: "r-index" }, `#${view.index}`),
    view.rec ? el("time", { class: "r-time" }, AC.isoMicros(view.rec.claimed_ts)) : null,
    view.rec ? el("span", { class: "r-type" }, view.rec.content_type) : null,
    el("span", { class: "r-check" }, problems.length ? "✗ " + problems.join("; ") : "✓")));
  if (!view.rec) return li;
  const r = view.rec;
  const dl = el("dl", { class: "r-body" },
    el("dt", {}, "Content SHA-256"), el("dd", {}, el("code", { class: "r-hash" }, AC.hex(r.content_hash))),
    el("dt", {}, "Signer"), el("dd", {}, el("code", { class: "r-signer" }, AC.hex(r.signer_pubkey))));
  if (r.content_type === AC.ROTATION_TYPE && typeof r.metadata.get("new_pubkey") === "string")
    dl.append(el("dt", {}, "Hands over to"), el("dd", {}, el("code", {}, r.metadata.get("new_pubkey"))));
  dl.append(el("dt", {}, "Metadata"), el("dd", {}, el("pre", { class: "r-meta" }, AC.metadataJSON(r.metadata))));
  dl.append(el("dt", {}, "Record hash"), el("dd", {}, el("code", { class: "r-rhash" }, AC.hex(view.hash))));
  li.append(dl);
  return li;
}

/* ------------------------------------------------------------ signers */

/* Record 0's signer, then each rotation listed in export.json, each read
 * from its bundle (so authenticated by the checkpoint) and checked. */
async function loadTimeline() {
  $("signers").hidden = false;
  const size = st.log.size;
  if (size === 0) return;
  const listed = st.exported && Array.isArray(st.exported.rotations) ? st.exported.rotations : null;
  if (listed === null) {
    say("signers-status", "export.json lists no rotations: the signers are not known without reading every record.");
    return;
  }
  say("signers-status", "Reading the rotation records…");
  try {
    const at = async (i) => (await bundle(Math.floor(i / AC.TILE_WIDTH)))[i % AC.TILE_WIDTH];
    const first = await at(0);
    if (!first.rec) throw new AC.CheckError("decode", "record 0 cannot be decoded");
    const tl = [{ pub: first.rec.signer_pubkey, from: 0, rotation: null, time: first.rec.claimed_ts }];
    for (const i of listed) {
      if (!Number.isSafeInteger(i) || i < tl[tl.length - 1].from || i >= size)
        throw new AC.CheckError("rotation", `export.json lists a rotation at ${i}`);
      const v = await at(i);
      const next = v.rec && await AC.rotationTarget(v.rec);
      if (!next || !AC.equal(v.rec.signer_pubkey, tl[tl.length - 1].pub))
        throw new AC.CheckError("rotation", `record ${i} is not a valid rotation by the key of its time`);
      tl.push({ pub: next, from: i + 1, rotation: i, time: v.rec.claimed_ts });
    }
    st.timeline = tl;
    const last = tl[tl.length - 1].pub;
    const ok = AC.equal(last, st.cp.signedBy.pub);
    say("signers-status", ok ? `${tl.length} key${tl.length > 1 ? "s" : ""}; the last one signs the checkpoint.`
      : "The last key of this timeline does not sign the checkpoint: a rotation is missing.", ok ? "good" : "bad");
    $("timeline").replaceChildren(...tl.map((t, k) => el("li", { class: "signer" },
      el("code", { class: "t-key" }, AC.hex(t.pub)),
      el("span", {}, ` records ${t.from} to ${k + 1 < tl.length ? tl[k + 1].from - 1 : size - 1}`),
      el("span", { class: "t-when" }, t.rotation === null ? ` since ${AC.isoMicros(t.time)} (first record)`
        : ` since ${AC.isoMicros(t.time)} (rotation, record ${t.rotation})`))));
    await showPage(st.page);           /* now with authorization checked */
  } catch (e) {
    say("signers-status", "The signers cannot be shown: " + e.message, "bad");
  }
}

/* ------------------------------------------------------------ search */

async function search(hashHex) {
  const run = ++st.searchRun;
  const want = AC.fromHex(hashHex.toLowerCase());
  $("search-result").hidden = false;
  $("search-list").replaceChildren();
  if (!want || want.length !== 32) { say("search-status", "A SHA-256 is 64 hex digits.", "bad"); return; }
  if (!st.log) { say("search-status", "No chain is open.", "bad"); return; }
  const found = [];
  const nb = st.log.bundles();
  $("search-stop").hidden = false;
  try {
    for (let b = nb - 1; b >= 0; b--) {
      if (run !== st.searchRun) return;
      say("search-status", `Searching… ${nb - b} of ${nb} bundles read, ${found.length} found.`);
      /* Authenticated entries; only a match is checked in full (its signature). */
      const entries = await st.log.bundle(b);
      for (let i = entries.length - 1; i >= 0; i--) {
        let rec = null;
        try { rec = AC.decodeRecord(entries[i]); } catch (e) { /* an undecodable record matches nothing */ }
        if (rec && AC.equal(rec.content_hash, want))
          found.push(await checkRecord(entries[i], b * AC.TILE_WIDTH + i));
      }
    }
    say("search-status", found.length
      ? `${found.length} record${found.length > 1 ? "s" : ""} attest ${hashHex.toLowerCase()}.`
      : `No record attests ${hashHex.toLowerCase()}.`, found.length ? "good" : "bad");
    $("search-list").replaceChildren(...found.map((v) => recordItem(v, null)));
  } catch (e) {
    say("search-status", "Search stopped: " + e.message, "bad");
  } finally {
    if (run === st.searchRun) $("search-stop").hidden = true;
  }
}

async function searchFile(file) {
  say("search-status", `Hashing ${file.name}…`);
  $("search-result").hidden = false;
  const h = AC.hex(await AC.sha256(await readFile(file)));
  $("search-hash").value = h;
  await search(h);
}

/* ------------------------------------------------------------ proofs */

async function checkProofForm() {
  const box = $("proof-result");
  box.hidden = false;
  $("proof-steps").replaceChildren();
  $("proof-record").replaceChildren();
  const pf = $("proof-file").files[0], cf = $("content-file").files[0];
  let res;
  try {
    if (!pf) throw new AC.CheckError("malformed", "choose a .tlog-proof file");
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await readFile(pf));
    const signerKeys = lines($("signer-keys").value).map((h) => {
      const k = AC.fromHex(h);
      if (!k || k.length !== 32) throw new AC.CheckError("vkey", `not a public key (64 hex digits): ${h}`);
      return k;
    });
    res = await AC.checkProof(text, {
      logKeys: await trustedLogKeys(), witnessKeys: await witnessKeys(), signerKeys,
      content: cf ? await readFile(cf) : null,
    });
  } catch (e) {
    if (!(e instanceof AC.CheckError) && !(e instanceof TypeError)) throw e;
    res = { valid: false, reason: e.reason || "malformed", message: e.message, steps: [], record: null };
  }
  box.dataset.valid = String(res.valid);
  box.dataset.reason = res.reason || "";
  box.className = "verdict " + (res.valid ? "good" : "bad");
  $("proof-verdict").textContent = res.valid ? "✓ Valid" : "✗ Invalid";
  $("proof-why").textContent = res.valid
    ? (cf ? "The file was attested in this record, which is in the signed log."
          : "The record is in the signed log (give the file too to check that it is the one attested).")
    : res.message.charAt(0).toUpperCase() + res.message.slice(1) + ".";
  $("proof-steps").replaceChildren(...res.steps.map((s) => el("li",
    { class: s.ok === true ? "good" : s.ok === false ? "bad" : "", "data-step": s.name },
    `${s.ok === true ? "✓" : s.ok === false ? "✗" : "–"} ${s.name}: ${s.detail}`)));
  const r = res.record;
  $("proof-record-h").hidden = !r;
  $("proof-record-h").textContent = res.valid ? "The record"
    : "The record the proof carries (not to be trusted: the proof is invalid)";
  if (r) {
    const row = (k, v) => [el("dt", {}, k), el("dd", {}, v)];
    $("proof-record").append(
      ...row("Record", `#${r.index}`), ...row("Time", AC.isoMicros(r.claimed_ts)),
      ...row("Content type", r.content_type),
      ...row("Content SHA-256", el("code", {}, AC.hex(r.content_hash))),
      ...row("Signer", el("code", {}, AC.hex(r.signer_pubkey))),
      ...row("Metadata", el("pre", {}, AC.metadataJSON(r.metadata))));
  }
  box.focus();
}

/* ------------------------------------------------------------ wiring */

function onDrop(zone, handle) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("drop"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("drop"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("drop");
    handle([...e.dataTransfer.files]);
  });
}

function wire() {
  $("newer").addEventListener("click", () => showPage(st.page - 1));
  $("older").addEventListener("click", () => showPage(st.page + 1));
  $("search").addEventListener("submit", (e) => { e.preventDefault(); search($("search-hash").value.trim()); });
  $("search-file").addEventListener("change", (e) => e.target.files[0] && searchFile(e.target.files[0]));
  $("search-stop").addEventListener("click", () => {
    st.searchRun++;
    $("search-stop").hidden = true;
    say("search-status", "Search stopped.");
  });
  onDrop($("records"), (files) => files[0] && searchFile(files[0]));
  $("folder").addEventListener("change", (e) => e.target.files.length && openChain(folderSource(e.target.files)));
  /* Keys of one's own: the chain on show is checked again with them. */
  for (const id of ["trusted-vkeys", "witness-vkeys"])
    $(id).addEventListener("change", () => st.get && openChain(st.get));
  $("proof-form").addEventListener("submit", (e) => { e.preventDefault(); checkProofForm(); });
  /* A proof and a file dropped together: the .tlog-proof is the proof. */
  onDrop($("proof"), (files) => {
    const set = (input, f) => { const dt = new DataTransfer(); dt.items.add(f); input.files = dt.files; };
    for (const f of files) set(/\.tlog-proof$/.test(f.name) ? $("proof-file") : $("content-file"), f);
    if ($("proof-file").files.length) checkProofForm();
  });
}

wire();
if (location.protocol === "http:" || location.protocol === "https:") {
  openChain(servedSource());
} else {
  say("chain-status", "Opened from a file: choose the export folder to browse it. Checking a proof needs no folder.");
  $("open-folder").hidden = false;
  document.body.dataset.state = "empty";
}
})();
