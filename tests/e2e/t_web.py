"""The export's page (web/) in a real browser, served by a real nginx.

A chain made with the tool (keygen/append/rotate, metadata of every kind, two
rotations, more than one entry bundle) is exported, with `attestchain export`
and `prove` when the tool has them (and then compared byte for byte with the
independent reference tests/e2e/tlogref.py), else with the reference alone.
nginx (a config written here, bound to 127.0.0.1 on a free port, stopped at the
end) serves it; Debian's chromium, headless, is driven over the DevTools
protocol (python3-websocket). Checked:

- the checks in web/tlog.js against published facts: the RFC 6962 roots of the
  standard 8 leaves, C2SP signed-note's example note and vkey, a record that is
  not deterministic CBOR (vector invalid-noncanonical-int) refused;
- the page lists exactly what `attestchain log --json` lists, newest first,
  paged (time, type, content hash, signer, metadata), every record checked,
  and the signers over time are the chain's rotations;
- it read only the checkpoint, export.json, the newest bundle and the partial
  tiles at first (a 70,000-record chain: three tile levels), and refuses a
  directory whose bundle was changed after its checkpoint;
- search by content hash and by a file hashed in the page;
- proofs: valid; invalid with the right reason for a tampered proof, a tampered
  content file, a checkpoint under an untrusted key, an older record whose key
  is not named (then valid once it is), a cosignature that does not verify; a
  witness's cosignature counted; and all of it from file:// too.

Screenshots go to build/web-shots/ (docs/web.png is one of them, committed).
The reference itself is held to RFC 6962 roots, tlog-tiles' 70,000-entry example and
signed-note's example vkey. Skipped (exit 77) without chromium, nginx or python3-websocket.
"""
from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from nginxutil import NGINX, Nginx  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    acutil.skip_file("chromium is not installed (AC_DEPS_EXTRA=1 scripts/deps.sh installs it)")
if not os.access(NGINX, os.X_OK):
    acutil.skip_file("nginx is not installed (AC_DEPS_EXTRA=1 scripts/deps.sh installs it)")
try:
    import websocket  # python3-websocket
    import tlogref
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError as e:
    acutil.skip_file(f"python3-websocket or python3-cryptography is missing ({e})")

WEB = os.path.join(acutil.REPO, "web")
WEB_FILES = sorted(os.listdir(WEB))
BUILD = os.environ.get("AC_BUILD") or os.path.join(acutil.REPO, "build")
SHOTS = os.path.join(BUILD, "web-shots")
WAIT = 60          # seconds for the page to reach a state; generous, never a measure
BIG = 70000        # records: tiles at three levels (tlog-tiles' own example size)


def tool_has(command: str) -> bool:
    return acutil.run(command, "--help").returncode == 0


# ------------------------------------------------------------------ chromium


class Browser:
    """Headless chromium with one page, driven over the DevTools protocol."""

    def __init__(self, work: str):
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             "--window-size=1100,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.connect()
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        self.next_id = 0
        self.errors = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def connect(self):
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + WAIT
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start")
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=WAIT) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=WAIT,
                                              suppress_origin=True)

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Runtime.exceptionThrown":
                self.errors.append(msg["params"]["exceptionDetails"])
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def eval(self, expr: str):
        r = self.send("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:80]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr: str, what: str):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            v = self.eval(expr)
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what} ({expr})")

    def open(self, url: str, state_in=("ready", "error", "empty")):
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && document.body && "
                  f"{json.dumps(list(state_in))}.includes(document.body.dataset.state)", "the page")
        return self.eval("document.body.dataset.state")

    def set_files(self, selector: str, paths: list[str]):
        obj = self.send("Runtime.evaluate", expression=f"document.querySelector({json.dumps(selector)})")
        self.send("DOM.setFileInputFiles", files=paths, objectId=obj["result"]["objectId"])

    def screenshot(self, path: str, full: bool = True, selector: str | None = None,
                   height: int | None = None):
        """The page (whole, or the viewport, or its top `height` pixels), or
        the element `selector` alone."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        params = {"format": "png", "captureBeyondViewport": full or bool(selector or height)}
        if height:
            params["clip"] = {"x": 0, "y": 0, "width": self.eval("innerWidth"), "height": height,
                              "scale": 1}
        if selector:
            params["clip"] = self.eval(f"""(() => {{
                const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
                return {{x: r.x + scrollX - 8, y: r.y + scrollY - 8, width: r.width + 16,
                         height: r.height + 16, scale: 1}}; }})()""")
        r = self.send("Page.captureScreenshot", **params)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def viewport(self, width: int, height: int, mobile: bool):
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=2 if mobile else 1, mobile=mobile)

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.ws.close()


# ------------------------------------------------------------------ the chains


def make_chain(case, d: str) -> dict:
    """A chain with metadata of many kinds, two rotations (k1 -> k2 -> k3) and
    300 records, so two entry bundles; returns facts the tests use."""
    k1, k2, k3 = case.key("k1"), case.key("k2"), case.key("k3")
    photo = case.write("photo.jpg", os.urandom(5000) + b"an attested photo")
    old = case.write("old.txt", b"attested before the rotations\n")
    hashes = case.write("hashes.txt", "".join(f"{i:064x}\n" for i in range(1, 121)))
    case.ok("append", "-C", d, "-k", k1, "-t", "text/plain", "-m", "place=Kyiv",
            "-m", "note=caf\u00e9 \u2713 <b>not html</b>", old)
    case.ok("append", "-C", d, "-k", k1, "--hash-list", hashes, "--meta-json",
            json.dumps({"n": 7, "neg": -3, "big": {"$int": "18446744073709551615"},
                        "raw": {"$bytes": "00ff"}, "ok": True, "no": None,
                        "arr": [1, "x", [2]], "m": {"$map": {"$int": "literal"}}}))
    case.ok("rotate", "-C", d, "-k", k1, "--new-key", k2)
    case.ok("append", "-C", d, "-k", k2, "-t", "application/octet-stream", "--hash-list", hashes)
    case.ok("rotate", "-C", d, "-k", k2, "--new-key", k3)
    more = case.write("more.txt", "".join(f"{i:064x}\n" for i in range(500, 557)))
    case.ok("append", "-C", d, "-k", k3, "--hash-list", more)
    p = case.ok("append", "-C", d, "-k", k3, "-t", "image/jpeg", "-m", "place=Odesa", photo)
    photo_index = case.appended(p)[0][0]
    return {"photo": photo, "photo_index": photo_index, "old": old, "old_index": 0,
            "keys": (k1, k2, k3)}


def export(case, chain: str, out: str, key: str, witness=None) -> dict:
    """Exports `chain` into `out`: with the tool when it can (and then checks
    it against the reference), else with the reference. Returns the reference's
    description (checkpoint, bodies...)."""
    ref_dir = out + ".ref"
    ref = tlogref.export(chain, ref_dir, tlogref.load_key(key))
    if tool_has("export"):
        case.ok("export", "-C", chain, out, "-k", key)
        compare_dirs(case, ref_dir, out)
        for f in WEB_FILES:
            case.assertTrue(os.path.exists(os.path.join(out, f)),
                            f"attestchain export wrote no {f} (the page, web/{f})")
            case.assertEqual(acutil.read_bytes(os.path.join(out, f)),
                             acutil.read_bytes(os.path.join(WEB, f)), f"export's {f} is not web/{f}")
    else:
        shutil.copytree(ref_dir, out, dirs_exist_ok=True)
        for f in WEB_FILES:
            shutil.copy(os.path.join(WEB, f), os.path.join(out, f))
    shutil.rmtree(ref_dir)
    return ref


def compare_dirs(case, ref_dir: str, out: str):
    """The tool's export and the reference's: the same tiles, bundles and
    checkpoint byte for byte, the same export.json as JSON."""
    def listing(d):
        return sorted(os.path.relpath(p, d) for p in glob.glob(os.path.join(d, "**"), recursive=True)
                      if os.path.isfile(p))
    ref_files = listing(ref_dir)
    tool_files = [f for f in listing(out) if f not in WEB_FILES]
    case.assertEqual(tool_files, ref_files, "export wrote other files than the reference")
    for f in ref_files:
        a, b = acutil.read_bytes(os.path.join(ref_dir, f)), acutil.read_bytes(os.path.join(out, f))
        if f == "export.json":
            case.assertEqual(json.loads(b), json.loads(a), "export.json differs from the reference")
        else:
            case.assertEqual(b, a, f"{f} differs from the reference")


def prove(case, chain: str, ref: dict, index: int, out: str) -> str:
    """A .tlog-proof of record `index`: the tool's when it has `prove` (equal
    to the reference's), else the reference's."""
    text = tlogref.prove(ref["bodies"], index, ref["checkpoint"])
    if tool_has("prove"):
        case.ok("prove", "-C", chain, str(index), "-o", out)
        with open(out) as f:
            case.assertEqual(f.read(), text, "attestchain prove differs from the reference")
    else:
        with open(out, "w") as f:
            f.write(text)
    return out


# ------------------------------------------------------------------ the tests


class WebPage(acutil.ToolCase):
    @classmethod
    def setUpClass(cls):
        acutil.require_tool()
        cls.case = cls("test_checks_in_the_page")
        acutil.ToolCase.setUp(cls.case)
        t = cls.case
        cls.root = t.path("www")
        cls.chain = t.path("chain")
        cls.facts = make_chain(t, cls.chain)
        cls.ref = export(t, cls.chain, os.path.join(cls.root, "good"), cls.facts["keys"][2])
        with open(os.path.join(cls.root, "good", "export.json")) as f:
            cls.vkey = json.load(f)["vkeys"][0]
        # The same export with the newest bundle changed after its checkpoint.
        shutil.copytree(os.path.join(cls.root, "good"), os.path.join(cls.root, "tampered"))
        newest = sorted(glob.glob(os.path.join(cls.root, "tampered", "tile", "entries", "*.p", "*")))[-1]
        data = bytearray(acutil.read_bytes(newest))
        data[-5] ^= 1
        with open(newest, "wb") as f:
            f.write(data)
        # The chain as it was at 250 records, and one whose record 10 was
        # replaced (by record 11) and the whole re-signed: a rewritten log.
        bodies, k3 = cls.ref["bodies"], tlogref.load_key(cls.facts["keys"][2])
        for name, view in (("old", bodies[:250]), ("forked", bodies[:10] + bodies[11:12] + bodies[11:])):
            tlogref.export(cls.chain, os.path.join(cls.root, name), k3, bodies=view)
            for f in WEB_FILES:
                shutil.copy(os.path.join(WEB, f), os.path.join(cls.root, name, f))
        cls.nginx = Nginx(cls.root, t.path())
        try:
            cls.browser = Browser(t.path())
        except BaseException:
            cls.tearDownClass()     # not called by unittest when setUpClass fails
            raise

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "browser"):
            cls.browser.close()
        if hasattr(cls, "nginx"):
            cls.nginx.stop()
        acutil.ToolCase.tearDown(cls.case)

    def setUp(self):
        self.t = type(self).case
        self.b = type(self).browser

    def tearDown(self):
        pass           # the class's temporary directory goes in tearDownClass

    # -------------------------------------------------------------- pure checks

    def test_checks_in_the_page(self):
        b = self.b
        b.open(self.nginx.url("good/"))
        leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                  "606162636465666768696a6b6c6d6e6f"]
        roots = b.eval(f"""(async () => {{
            const ls = await Promise.all({json.dumps(leaves)}.map((h) => AC.leafHash(AC.fromHex(h))));
            const out = [];
            for (let n = 0; n <= 8; n++) out.push(AC.hex(await AC.mth(ls.slice(0, n))));
            return out; }})()""")
        self.assertEqual(roots[8], "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        self.assertEqual(roots[3], "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77")
        self.assertEqual(roots[0], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        # C2SP signed-note's own example: its note verifies under its vkey.
        note = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnag"
                "v1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
        vk = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        ok = b.eval(f"""(async () => {{
            const k = await AC.parseVkey({json.dumps(vk)});
            const n = AC.parseNote({json.dumps(note)});
            return AC.ed25519Verify(k.pub, n.sigs[0].sig, new TextEncoder().encode(n.body)); }})()""")
        self.assertTrue(ok)
        # A record that is not deterministic CBOR (chain_index spelled 18 01).
        frames, _ = acutil.frames(os.path.join(acutil.VECTORS, "invalid-noncanonical-int", "chain.bin"))
        bad = base64.b64encode(frames[1][1]).decode()
        good = base64.b64encode(frames[0][1]).decode()
        r = b.eval(f"""(() => {{ const out = [];
            for (const s of [{json.dumps(good)}, {json.dumps(bad)}]) {{
                try {{ out.push(String(AC.decodeRecord(AC.b64decode(s)).index)); }}
                catch (e) {{ out.push(e.reason); }} }}
            return out; }})()""")
        self.assertEqual(r, ["0", "decode"])
        # The CBOR subset, item by item: what the format allows, and what it does not.
        cases = {"01": True, "1801": False, "1817": False, "1818": True, "190018": False,
                 "3818": True, "20": True, "f4": True, "f5": True, "f6": True, "f7": False,
                 "f93c00": False, "c001": False, "9fff": False, "5f41": False,
                 "6161": True, "62c328": False, "a261610162616201": True,
                 "a262616201616101": False, "a2616101616101": False, "a10101": False,
                 "81" * 15 + "80": True, "81" * 16 + "80": False, "1c": False}
        got = b.eval(f"""(() => {{ const out = {{}};
            for (const h of {json.dumps(list(cases))}) {{
                try {{ const r = AC.cborItem(AC.fromHex(h), 0, 1); out[h] = r.end === h.length / 2; }}
                catch (e) {{ if (e.reason !== 'decode') throw e; out[h] = false; }} }}
            return out; }})()""")
        self.assertEqual(got, cases)

    def test_embedded_page(self):
        """build/web_assets.h (scripts/embed.sh, for export) holds web/ exactly."""
        header = os.path.join(BUILD, "web_assets.h")
        self.assertTrue(os.path.exists(header), f"{header} is missing (make builds it)")
        src = self.t.write("unpack.c", """#include <stdio.h>
#include "web_assets.h"
int main(int argc, char **argv)
{
    for (size_t i = 0; i < AC_WEB_FILE_COUNT; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[argc - 1], ac_web_files[i].name);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(ac_web_files[i].data, 1, ac_web_files[i].size, f) != ac_web_files[i].size ||
            fclose(f) != 0)
            return 1;
    }
    return 0;
}
""")
        exe, out = self.t.path("unpack"), self.t.path("unpacked")
        os.makedirs(out)
        cc = subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror",
                             "-I", BUILD, "-o", exe, src], capture_output=True, text=True)
        self.assertEqual(cc.returncode, 0, cc.stderr)
        self.assertEqual(subprocess.run([exe, out]).returncode, 0)
        self.assertEqual(sorted(os.listdir(out)), WEB_FILES)
        for f in WEB_FILES:
            self.assertEqual(acutil.read_bytes(os.path.join(out, f)),
                             acutil.read_bytes(os.path.join(WEB, f)), f)

    # -------------------------------------------------------------- browsing

    def rendered_records(self) -> list[dict]:
        return self.b.eval("""[...document.querySelectorAll('#record-list li.rec')].map((li) => ({
            index: +li.dataset.index, bad: li.classList.contains('bad'),
            check: li.querySelector('.r-check').textContent,
            time: li.querySelector('.r-time').textContent,
            type: li.querySelector('.r-type').textContent,
            hash: li.querySelector('.r-hash').textContent,
            signer: li.querySelector('.r-signer').textContent,
            rhash: li.querySelector('.r-rhash').textContent,
            meta: li.querySelector('.r-meta').textContent }))""")

    def test_record_list_equals_the_tool_log(self):
        b = self.b
        self.assertEqual(b.open(self.nginx.url("good/")), "ready")
        b.wait("document.querySelectorAll('#timeline li').length > 0", "the signers")
        b.wait("document.getElementById('signers-status').className === 'good'", "the timeline check")
        self.assertEqual(b.eval("document.getElementById('size').textContent"),
                         f"{len(self.ref['bodies']):,}")
        self.assertEqual(b.eval("document.getElementById('origin').textContent"), self.ref["origin"])
        self.assertEqual(b.eval("document.getElementById('cp-key').textContent"), self.vkey)
        want = list(reversed(self.t.json_of("log", "-C", self.chain, "--json")))
        seen = []
        b.screenshot(os.path.join(SHOTS, "chain.png"))
        b.screenshot(os.path.join(SHOTS, "top.png"), height=1350)
        while True:
            page = self.rendered_records()
            self.assertTrue(page)
            seen += page
            if b.eval("document.getElementById('older').disabled"):
                break
            first = page[0]["index"]
            b.eval("document.getElementById('older').click()")
            b.wait(f"document.querySelector('#record-list li.rec') && "
                   f"+document.querySelector('#record-list li.rec').dataset.index < {first}", "the next page")
        self.assertEqual(len(seen), len(want))
        for got, rec in zip(seen, want):
            self.assertFalse(got["bad"], got)
            self.assertEqual(got["check"], "\u2713")
            self.assertEqual(got["index"], rec["chain_index"])
            self.assertEqual(got["time"], rec["claimed_ts_utc"])
            self.assertEqual(got["type"], rec["content_type"])
            self.assertEqual(got["hash"], rec["content_hash"])
            self.assertEqual(got["signer"], rec["signer_pubkey"])
            self.assertEqual(got["rhash"], rec["hash"])
            self.assertEqual(json.loads(got["meta"]), rec["metadata"])
        # Signers over time: k1 from 0, then each rotation's new key.
        rotations = [r for r in reversed(want) if r["content_type"] == tlogref.ROTATION_TYPE]
        timeline = b.eval("[...document.querySelectorAll('#timeline .t-key')].map((e) => e.textContent)")
        self.assertEqual(timeline, [want[-1]["signer_pubkey"]] +
                         [r["metadata"]["new_pubkey"] for r in rotations])
        self.assertEqual(len(rotations), 2)
        # Back to the newest page with the keyboard's own control: the button.
        b.eval("document.getElementById('newer').focus()")
        self.assertEqual(b.eval("document.activeElement.id"), "newer")

    def test_since_the_last_visit(self):
        """The browser remembers the checkpoint it verified; the next visit
        checks that the log still begins with that tree."""
        b = self.b
        self.assertEqual(b.open(self.nginx.url("old/")), "ready")
        b.eval("localStorage.clear()")
        seen = "document.getElementById('cp-seen').dataset.seen"
        for where, want in (("old", "first"), ("good", "consistent"), ("forked", "rewritten"),
                            ("good", "consistent"), ("old", "shrunk")):
            self.assertEqual(b.open(self.nginx.url(where + "/")), "ready")
            self.assertEqual(b.eval(seen), want, where)
            if want == "rewritten":
                text = b.eval("document.getElementById('cp-seen').textContent")
                self.assertIn("the first 301 records are not those this browser saw", text)
                self.assertIn(self.ref["checkpoint"], text)
                self.assertIn("not the log this browser saw here before",
                              b.eval("document.getElementById('chain-status').textContent"))
                b.screenshot(os.path.join(SHOTS, "rewritten.png"), selector="#chain")

    def test_phone_screenshot(self):
        b = self.b
        b.viewport(390, 844, True)
        try:
            self.assertEqual(b.open(self.nginx.url("good/")), "ready")
            b.wait("document.querySelectorAll('#timeline li').length > 0", "the signers")
            b.screenshot(os.path.join(SHOTS, "phone.png"), full=False)
            # Nothing wider than the phone's screen.
            wide = b.eval("[...document.querySelectorAll('body *')].filter((e) => "
                          "e.getBoundingClientRect().right > 390).map((e) => e.tagName + '#' + "
                          "e.id + '.' + e.className).slice(0, 10)")
            self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 390, wide)
        finally:
            b.send("Emulation.clearDeviceMetricsOverride")

    def test_tampered_directory_refused(self):
        b = self.b
        self.assertEqual(b.open(self.nginx.url("tampered/")), "error")
        self.assertEqual(b.eval("document.body.dataset.reason"), "tile")
        self.assertIn("does not match its checkpoint",
                      b.eval("document.getElementById('chain-status').textContent"))

    def test_own_key(self):
        """A reader's own key replaces the exported one: the chain is checked again."""
        b = self.b
        self.assertEqual(b.open(self.nginx.url("good/")), "ready")
        other = tlogref.vkey(self.ref["origin"], tlogref.public_raw(Ed25519PrivateKey.generate()))
        for key, state in ((other, "error"), (self.vkey, "ready")):
            b.eval(f"{{ const k = document.getElementById('trusted-vkeys'); k.value = {json.dumps(key)};"
                   "document.body.dataset.state = 'loading'; k.dispatchEvent(new Event('change')); }")
            b.wait(f"document.body.dataset.state === '{state}'", state)
            if state == "error":
                self.assertEqual(b.eval("document.body.dataset.reason"), "untrusted")
        self.assertEqual(b.eval("document.getElementById('cp-key').textContent"), self.vkey)

    def test_search(self):
        b = self.b
        self.assertEqual(b.open(self.nginx.url("good/")), "ready")
        want = acutil.sha256_file(self.facts["old"])
        b.eval(f"document.getElementById('search-hash').value = '{want.upper()}';"
               "document.querySelector('#search button[type=submit]').click()")
        b.wait("/attest/.test(document.getElementById('search-status').textContent)", "the search")
        self.assertEqual(b.eval("[...document.querySelectorAll('#search-list li.rec')]"
                                ".map((li) => +li.dataset.index)"), [self.facts["old_index"]])
        b.set_files("#search-file", [self.facts["photo"]])
        b.wait(f"document.getElementById('search-hash').value === '{acutil.sha256_file(self.facts['photo'])}'"
               " && /attest/.test(document.getElementById('search-status').textContent)", "the file search")
        self.assertEqual(b.eval("[...document.querySelectorAll('#search-list li.rec')]"
                                ".map((li) => +li.dataset.index)"), [self.facts["photo_index"]])
        b.eval(f"document.getElementById('search-hash').value = '{'ab' * 32}';"
               "document.querySelector('#search button[type=submit]').click()")
        b.wait("/No record attests/.test(document.getElementById('search-status').textContent)",
               "a search that finds nothing")

    # -------------------------------------------------------------- proofs

    def check_proof(self, proof: str, content: str | None, vkeys: str | None = None,
                    signers: str = "", witnesses: str = "", shot: str | None = None) -> dict:
        b = self.b
        b.eval("document.getElementById('proof-result').hidden = true;"
               "document.getElementById('proof-result').removeAttribute('data-valid')")
        b.set_files("#proof-file", [proof])
        b.set_files("#content-file", [content] if content else [])
        for field, value in (("trusted-vkeys", self.vkey if vkeys is None else vkeys),
                             ("signer-keys", signers), ("witness-vkeys", witnesses)):
            b.eval(f"document.getElementById('{field}').value = {json.dumps(value)}")
        b.eval("document.getElementById('proof-check').click()")
        b.wait("document.getElementById('proof-result').dataset.valid !== undefined", "the verdict")
        r = b.eval("""(() => { const box = document.getElementById('proof-result');
            return { valid: box.dataset.valid, reason: box.dataset.reason,
                     verdict: document.getElementById('proof-verdict').textContent,
                     why: document.getElementById('proof-why').textContent,
                     steps: [...document.querySelectorAll('#proof-steps li')].map((l) => l.textContent),
                     focused: document.activeElement === box }; })()""")
        if shot:
            b.screenshot(os.path.join(SHOTS, shot), selector="#proof")
        return r

    def proof_cases(self, where: str):
        t, f = self.t, self.facts
        proofs = t.path("proofs-" + where)
        os.makedirs(proofs, exist_ok=True)
        good = prove(t, self.chain, self.ref, f["photo_index"], os.path.join(proofs, "photo.tlog-proof"))
        shot = "proof-valid.png" if where == "served" else None
        r = self.check_proof(good, f["photo"], shot=shot)
        self.assertEqual((r["valid"], r["verdict"]), ("true", "\u2713 Valid"), r)
        self.assertTrue(r["focused"])
        # Tampered proof: one inclusion hash changed.
        text = open(good).read().split("\n")
        i = next(k for k, line in enumerate(text) if line.startswith("index ")) + 1
        h = bytearray(base64.b64decode(text[i]))
        h[0] ^= 1
        text[i] = base64.b64encode(bytes(h)).decode()
        tampered = t.write(f"tampered-{where}.tlog-proof", "\n".join(text))
        r = self.check_proof(tampered, f["photo"], shot="proof-invalid.png" if shot else None)
        self.assertEqual((r["valid"], r["reason"]), ("false", "inclusion"), r)
        self.assertIn("does not lead to the checkpoint's root", r["why"])
        self.assertIn("not to be trusted", self.b.eval("document.getElementById('proof-record-h').textContent"))
        # Tampered content: one byte of the photo changed.
        data = bytearray(acutil.read_bytes(f["photo"]))
        data[100] ^= 0x20
        changed = t.write(f"changed-{where}.jpg", bytes(data))
        r = self.check_proof(good, changed)
        self.assertEqual((r["valid"], r["reason"]), ("false", "content"), r)
        # A proof whose checkpoint is signed by a key the user does not trust.
        evil = Ed25519PrivateKey.generate()
        note = tlogref.sign_note(tlogref.checkpoint_body(self.ref["origin"], len(self.ref["bodies"]),
                                                         self.ref["root"]), self.ref["origin"], evil)
        untrusted = t.write(f"untrusted-{where}.tlog-proof",
                            tlogref.prove(self.ref["bodies"], f["photo_index"], note))
        r = self.check_proof(untrusted, f["photo"])
        self.assertEqual((r["valid"], r["reason"]), ("false", "untrusted"), r)
        # ... which is valid for whoever trusts that key and the record's signer.
        k3 = tlogref.public_raw(tlogref.load_key(f["keys"][2])).hex()
        r = self.check_proof(untrusted, f["photo"], signers=k3,
                             vkeys=tlogref.vkey(self.ref["origin"], tlogref.public_raw(evil)))
        self.assertEqual(r["valid"], "true", r)
        # A record from before the rotations: valid once its key (k1) is named.
        old = prove(t, self.chain, self.ref, f["old_index"], os.path.join(proofs, "old.tlog-proof"))
        r = self.check_proof(old, f["old"])
        self.assertEqual((r["valid"], r["reason"]), ("false", "signer"), r)
        k1 = tlogref.public_raw(tlogref.load_key(f["keys"][0])).hex()
        r = self.check_proof(old, f["old"], signers=k1)
        self.assertEqual(r["valid"], "true", r)
        # A witness's cosignature: counted when the witness is known; one that
        # does not verify makes the proof invalid.
        wkey = Ed25519PrivateKey.generate()
        wvkey = tlogref.vkey("witness.example/w1", tlogref.public_raw(wkey), tlogref.SIG_COSIGNATURE)
        note = tlogref.cosign(self.ref["checkpoint"], "witness.example/w1", wkey, 1796000000)
        cosigned = t.write(f"cosigned-{where}.tlog-proof",
                           tlogref.prove(self.ref["bodies"], f["photo_index"], note))
        r = self.check_proof(cosigned, f["photo"], witnesses=wvkey)
        self.assertEqual(r["valid"], "true", r)
        self.assertTrue(any(s.startswith("\u2713 witnesses: 1 of 1") for s in r["steps"]), r)
        lines = open(cosigned).read().split("\n")
        blob = bytearray(base64.b64decode(lines[-2].split(" ")[2]))
        blob[20] ^= 1
        lines[-2] = " ".join(lines[-2].split(" ")[:2] + [base64.b64encode(bytes(blob)).decode()])
        badw = t.write(f"badwitness-{where}.tlog-proof", "\n".join(lines))
        r = self.check_proof(badw, f["photo"], witnesses=wvkey)
        self.assertEqual((r["valid"], r["reason"]), ("false", "witness"), r)
        # Not a proof at all.
        r = self.check_proof(f["photo"], None)
        self.assertEqual((r["valid"], r["reason"]), ("false", "malformed"), r)

    def test_proofs_served(self):
        self.assertEqual(self.b.open(self.nginx.url("good/")), "ready")
        self.proof_cases("served")

    def test_proofs_from_file(self):
        """Opened from disk: no server, the key pasted by hand."""
        state = self.b.open("file://" + os.path.join(self.root, "good", "index.html"))
        self.assertEqual(state, "empty")
        self.assertEqual(self.b.eval("document.getElementById('trusted-vkeys').value"), "")
        self.proof_cases("file")
        self.assertEqual(self.b.errors, [])

    def test_folder_from_file(self):
        """Opened from disk, the export folder chosen: the same records."""
        b = self.b
        self.assertEqual(b.open("file://" + os.path.join(self.root, "good", "index.html")), "empty")
        b.set_files("#folder", [os.path.join(self.root, "good")])
        got = b.wait("['ready', 'error'].includes(document.body.dataset.state) && document.body.dataset.state",
                     "the chosen folder")
        self.assertEqual(got, "ready", b.eval("document.getElementById('chain-status').textContent"))
        want = list(reversed(self.t.json_of("log", "-C", self.chain, "--json")))[:50]
        self.assertEqual([(r["index"], r["rhash"], r["bad"]) for r in self.rendered_records()],
                         [(r["chain_index"], r["hash"], False) for r in want])


class Reference(acutil.ToolCase):
    """tests/e2e/tlogref.py against published facts, so that agreeing with it means something."""

    def test_rfc6962_and_tile_layout(self):
        leaves = [tlogref.leaf_hash(bytes.fromhex(h)) for h in
                  ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                   "606162636465666768696a6b6c6d6e6f")]
        self.assertEqual(tlogref.mth(leaves).hex(),
                         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        self.assertEqual(tlogref.mth(leaves[:7]).hex(),
                         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c")
        for n in range(1, 9):
            for i in range(n):
                self.assertEqual(tlogref.root_from_inclusion(
                    i, n, leaves[i], tlogref.inclusion_proof(i, leaves[:n])), tlogref.mth(leaves[:n]))
        # tlog-tiles' own example: 70,000 entries.
        files = tlogref.tiles([bytes([i % 251]) for i in range(70000)])
        self.assertEqual(sorted(p for p in files if ".p/" in p or not p.startswith("tile/0/")
                                and not p.startswith("tile/entries/")),
                         ["tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1",
                          "tile/entries/273.p/112"])
        self.assertEqual(len([p for p in files if p.startswith("tile/0/")]), 274)
        self.assertEqual(tlogref.tile_index_path(1234067), "x001/x234/067")
        # signed-note's example vkey: the same key id from the same name and key.
        pub = base64.b64decode("AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")[1:]
        self.assertEqual(tlogref.vkey("example.com/foo", pub),
                         "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")


class BigChain(acutil.ToolCase):
    """70,000 records: the page reads the checkpoint, the newest bundle and the
    partial tiles first, and older bundles only when asked."""

    def test_reads_only_what_it_shows(self):
        acutil.require_tool()
        k = self.key("k1")
        chain = self.path("big")
        hashes = self.write("h.txt", "".join(f"{i:064x}\n" for i in range(1, BIG + 1)))
        self.ok("append", "-C", chain, "-k", k, "-t", "application/x-test", "--hash-list", hashes)
        root = self.path("www")
        export(self, chain, os.path.join(root, "big"), k)
        nginx = Nginx(root, self.tmp)
        browser = Browser(self.tmp)
        try:
            t0 = time.monotonic()
            self.assertEqual(browser.open(nginx.url("big/")), "ready")
            opened = time.monotonic() - t0
            browser.wait("document.getElementById('signers-status').className === 'good'", "the signers")
            got = nginx.requests()
            tiles = sorted(p for p in got if "/tile/" in p)
            # newest bundle 273.p/112; its parents 1/001.p/17 and 2/000.p/1; record 0's bundle
            # (the first signer) with its parent tile 1/000.
            self.assertEqual(tiles, ["/big/tile/1/000", "/big/tile/1/001.p/17", "/big/tile/2/000.p/1",
                                     "/big/tile/entries/000", "/big/tile/entries/273.p/112"], got)
            shown = browser.eval("[...document.querySelectorAll('#record-list li.rec')]"
                                 ".map((li) => +li.dataset.index)")
            self.assertEqual(shown, list(range(BIG - 1, BIG - 51, -1)))
            print(f"opened a {BIG}-record chain in {opened:.2f} s ({len(got)} requests)")
        finally:
            browser.close()
            nginx.stop()


if __name__ == "__main__":
    acutil.main("t_web")
