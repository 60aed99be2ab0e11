// Checks the inclusion proof shown on /log again, in the browser, with
// RFC 6962 hashing (SubtleCrypto SHA-256). The page already states the
// server's check; this only adds "and your browser agrees".
"use strict";
(function () {
  const el = document.getElementById("inclusion");
  if (!el || !window.crypto || !crypto.subtle) return;
  const out = el.querySelector(".js-check");
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const zh = document.documentElement.lang !== "en";
  async function sha256(prefix, ...parts) {
    let n = 1;
    for (const p of parts) n += p.length;
    const buf = new Uint8Array(n);
    buf[0] = prefix;
    let off = 1;
    for (const p of parts) { buf.set(p, off); off += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }
  // RFC 9162 section 2.1.3.2: verify an inclusion proof.
  async function rootFromProof(index, size, leafHash, proof) {
    if (index >= size) throw new Error("index beyond size");
    let fn = index, sn = size - 1n, r = leafHash;
    for (const p of proof) {
      if (sn === 0n) throw new Error("proof too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(1, p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await sha256(1, r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("proof too short");
    return r;
  }
  const eq = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  (async function () {
    const proof = el.dataset.proof ? el.dataset.proof.split(",").map(b64) : [];
    const leafHash = await sha256(0, b64(el.dataset.leaf));
    const root = await rootFromProof(BigInt(el.dataset.index), BigInt(el.dataset.size), leafHash, proof);
    const ok = eq(root, b64(el.dataset.root));
    out.textContent = ok
      ? (zh ? "✓ 浏览器也已独立校验该包含证明。 Your browser checked the proof too." : "✓ Your browser checked the proof too.")
      : (zh ? "✗ 浏览器校验失败：根哈希不一致。 Your browser's check failed: root mismatch." : "✗ Your browser's check failed: root mismatch.");
    out.className = "js-check " + (ok ? "ok" : "bad");
    out.id = "browser-check";
    out.dataset.result = ok ? "ok" : "failed";
    out.hidden = false;
  })().catch(function (e) {
    out.textContent = (zh ? "浏览器校验出错 · " : "") + "Browser check error: " + e.message;
    out.className = "js-check bad";
    out.id = "browser-check";
    out.dataset.result = "error";
    out.hidden = false;
  });
})();
