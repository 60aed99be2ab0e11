// The local check of /verify: the PDF (or evidence bundle) is verified in
// this browser by package verify compiled to WebAssembly, and never
// uploaded. Only the SHA-256 of the file and of each signed revision go to
// the server (GET /v1/verify/lookup?sha256=…). The result is rendered by
// the module with the server's own result templates and replaces the
// page's <main>, exactly what the server's result page shows there.
// Without WebAssembly, or when the user picks "upload", the form posts to
// the server as before.
"use strict";
(function () {
  const box = document.getElementById("local-check");
  if (!box) return; // this server offers no local check
  const form = box.closest("form");
  const zh = document.documentElement.lang !== "en";
  const say = (z, e) => (zh ? z + " / " + e : e);
  if (typeof WebAssembly !== "object" || typeof Go !== "function") {
    document.getElementById("local-fallback").hidden = false;
    return;
  }
  box.hidden = false;
  const status = document.getElementById("local-status");
  const errBox = document.getElementById("local-error");
  const logKey = box.dataset.logKey;
  const pinKey = "cunzheng.verify.logKey";

  // The log key is pinned on first use: a page naming another key later
  // is refused here, and the user can still choose the server check.
  function checkPin() {
    let pinned = null;
    try { pinned = localStorage.getItem(pinKey); } catch (e) { /* storage off: no pin */ }
    if (pinned && pinned !== logKey) {
      throw new Error(say("日志公钥与本浏览器上次记住的不同（" + pinned + "），已停止本机验签；请核对 /keys 与公证处公布的公钥",
        "the log key differs from the one this browser remembered (" + pinned + "); the local check stopped: compare /keys with the key the notaries publish"));
    }
    try { if (!pinned) localStorage.setItem(pinKey, logKey); } catch (e) { /* ignore */ }
  }

  let ready = null; // Promise of the trust bundle once the module runs
  function load() {
    if (ready) return ready;
    ready = (async () => {
      checkPin();
      const roots = await fetch("/v1/verify/roots", { cache: "no-cache" });
      if (!roots.ok) throw new Error(say("无法取得信任根清单", "cannot fetch the trust bundle") + " (" + roots.status + ")");
      const trustBundle = await roots.text();
      const started = new Promise((resolve) => { window.cunzhengWasmReady = resolve; });
      const go = new Go();
      const mod = await WebAssembly.instantiateStreaming(fetch(box.dataset.wasm), go.importObject);
      go.run(mod.instance); // resolves only when the module exits; it does not
      await started;
      return trustBundle;
    })();
    ready.catch(() => { ready = null; });
    return ready;
  }

  function lookup(hex) {
    return fetch("/v1/verify/lookup?sha256=" + encodeURIComponent(hex), { credentials: "same-origin" })
      .then(async (r) => ({ status: r.status, body: await r.text() }));
  }

  function fail(msg) {
    errBox.textContent = msg;
    errBox.hidden = false;
    status.textContent = "";
  }

  // Fetch and compile the module while the user picks a file, so that
  // the click finds it ready; a failure here is retried, and said, on
  // the click.
  load().catch(() => {});

  form.addEventListener("submit", async (ev) => {
    const local = document.getElementById("mode-local");
    if (!local || !local.checked) return; // the server check: post the form
    ev.preventDefault();
    errBox.hidden = true;
    const file = document.getElementById("file").files[0];
    if (!file) { fail(say("请选择一个PDF文件。", "Choose a PDF file.")); return; }
    const max = Number(box.dataset.maxSize);
    if (max > 0 && file.size > max) {
      fail(say("文件太大：最大 " + (max >> 20) + " MiB。", "The file is too large: at most " + (max >> 20) + " MiB."));
      return;
    }
    const t0 = performance.now();
    status.textContent = say("正在本机验签……", "Checking on this computer…");
    try {
      const trustBundle = await load();
      const bytes = new Uint8Array(await file.arrayBuffer());
      const request = JSON.stringify({
        trustBundle: trustBundle, logKey: logKey, name: file.name,
        lang: zh ? "zh" : "en", ledgered: box.dataset.ledgered === "true", maxSize: max,
      });
      // A zip (PK\x03\x04) is an evidence bundle; anything else goes to
      // the PDF check, which says so when it is not a PDF.
      const isZip = bytes.length > 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
      const out = JSON.parse(isZip
        ? await window.cunzhengVerifyBundle(bytes, request)
        : await window.cunzhengVerifyPDF(bytes, request, box.dataset.ledgered === "true" ? lookup : undefined));
      if (out.error) { fail(zh ? out.error.zh + " / " + out.error.en : out.error.en); return; }
      window.cunzhengLocalResult = { report: out.report || null, bundle: out.bundle || null, ms: performance.now() - t0 };
      const main = document.querySelector("main");
      main.innerHTML = out.html;
      main.dataset.local = "true";
      const note = document.createElement("p");
      note.className = "note";
      note.id = "local-done";
      note.textContent = say("本结果由本机浏览器计算，文件没有上传。", "Checked in this browser; the file was not uploaded.");
      main.prepend(note);
      window.scrollTo(0, 0);
    } catch (e) {
      fail(say("本机验签失败，可选择“上传到服务器验签”", "the local check failed; you can choose \"Upload to the server\"") + ": " + (e && e.message ? e.message : e));
    }
  });
})();
