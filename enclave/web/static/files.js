// The file browser's uploads (enclave/web/files.py): straight from the browser to the store through URLs the
// gateway signs (POST /api/v1/storage/urls with the session cookie and its CSRF token, so every batch is
// audited and a revoked grant signs nothing). Small files go up in one PUT; larger ones in parts of 8 MiB
// (S3: CreateMultipartUpload / UploadPart / Complete; Azure: Put Block / Put Block List; the local store: as
// S3, with JSON). A part that fails on the network or with a 5xx is retried with backoff, each time with a
// fresh URL; the upload id and the parts already stored are kept in localStorage, so choosing the same file
// again (after a reload, or after the network came back) continues where it stopped. Part URLs are signed
// ahead in batches of up to 32 (one audit record each); a retried part gets a URL of its own.
"use strict";

(() => {
  const PART_SIZE = 8 * 1024 * 1024;
  const CONCURRENCY = 3;
  const SIGN_AHEAD = 32; // part URLs signed in one audited batch (256 MiB), not one batch per part
  const FRESH_FOR_MS = 60 * 1000; // a URL signed ahead is used only while it has a minute left
  const ATTEMPTS = 5; // per request: waits of 0.5, 1, 2, 4 s between them
  const FIRST_WAIT_MS = 500;

  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-file");
  const button = document.getElementById("upload-button");
  const progressBox = document.getElementById("upload-progress-box");
  const progress = document.getElementById("upload-progress");
  const statusLine = document.getElementById("upload-status");
  const errorLine = document.getElementById("upload-error");
  const { grant, prefix, backend, api } = form.dataset;
  const multipart = form.dataset.multipart === "yes";
  const csrf = form.elements.namedItem("csrf_token").value;

  /** Refused by the gateway or the store: trying again will not help (revoked grant, role, bad name). */
  class Refused extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function say(text) {
    statusLine.textContent = text;
  }

  function showProgress(done, total) {
    const percent = total ? Math.floor((done / total) * 100) : 100;
    progress.value = percent;
    progress.textContent = `${percent}%`;
  }

  async function reason(response) {
    const text = await response.text().catch(() => "");
    try {
      const problem = JSON.parse(text);
      return problem.detail || problem.title || `HTTP ${response.status}`;
    } catch {
      const message = /<Message>([^<]*)<\/Message>/.exec(text); // S3 and Azure errors
      return message ? message[1] : `HTTP ${response.status}`;
    }
  }

  /** Network errors, timeouts, throttling and 5xx are worth another try; any other refusal is final. */
  async function check(response, who) {
    if (response.ok) return response;
    const why = await reason(response);
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      throw new Error(`${who} answered HTTP ${response.status}: ${why}`);
    }
    throw new Refused(`${who} refused: ${why}`, response.status);
  }

  async function retrying(what, attempt) {
    let wait = FIRST_WAIT_MS;
    for (let tries = 1; ; tries += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof Refused || tries >= ATTEMPTS) throw error;
        say(`${what} failed (${error.message}); trying again in ${wait / 1000} s…`);
        await sleep(wait);
        wait *= 2;
      }
    }
  }

  /** fetch, with a network failure said in words (browsers only say "Failed to fetch"). */
  async function request(url, options, who) {
    try {
      return await fetch(url, options);
    } catch {
      throw new Error(`the connection to ${who} was lost`);
    }
  }

  async function sign(items) {
    const response = await request(api, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ grant, items }),
    }, "Enclave");
    await check(response, "Enclave");
    return (await response.json()).urls;
  }

  async function send(url, body, extraHeaders = {}) {
    const options = { method: url.method, headers: { ...url.headers, ...extraHeaders }, body, credentials: "omit" };
    const response = await request(url.url, options, "the store");
    return check(response, "The store");
  }

  // -- one PUT ---------------------------------------------------------------------------------------------
  async function uploadWhole(file, key) {
    await retrying("The upload", async () => {
      const [url] = await sign([{ operation: "put", key }]);
      await send(url, file);
    });
    showProgress(file.size, file.size);
  }

  // -- in parts --------------------------------------------------------------------------------------------
  function stateKey(file, key) {
    return `enclave-upload:${grant}:${key}:${file.size}:${file.lastModified}`;
  }

  function loadState(name) {
    try {
      const state = JSON.parse(localStorage.getItem(name) || "null");
      return state && state.partSize === PART_SIZE && state.backend === backend ? state : null;
    } catch {
      return null;
    }
  }

  const saveState = (name, state) => localStorage.setItem(name, JSON.stringify(state));

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function createUpload(key) {
    if (backend === "azure") return randomId(); // Azure has no create: blocks wait uncommitted under the blob
    return retrying("Starting the upload", async () => {
      const [url] = await sign([{ operation: "multipart-create", key }]);
      const response = await send(url, null);
      const text = await response.text();
      if (backend === "s3") {
        const found = /<UploadId>([^<]+)<\/UploadId>/.exec(text);
        if (!found) throw new Refused("the store did not say which upload it started");
        return found[1];
      }
      return JSON.parse(text).upload_id;
    });
  }

  const blockId = (n) => btoa(String(n).padStart(5, "0")); // storage_connector/azure.py block_id

  function completion(state, count) {
    const numbers = Array.from({ length: count }, (_, i) => i + 1);
    if (backend === "azure") {
      const blocks = numbers.map((n) => `<Latest>${blockId(n)}</Latest>`).join("");
      return [`<?xml version="1.0" encoding="utf-8"?><BlockList>${blocks}</BlockList>`, {}];
    }
    if (backend === "s3") {
      const parts = numbers
        .map((n) => `<Part><PartNumber>${n}</PartNumber><ETag>${state.parts[n]}</ETag></Part>`)
        .join("");
      return [`<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`, {}];
    }
    return [JSON.stringify({ parts: numbers }), { "Content-Type": "application/json" }];
  }

  async function uploadParts(file, key) {
    const name = stateKey(file, key);
    const count = Math.max(1, Math.ceil(file.size / PART_SIZE));
    let state = loadState(name);
    if (state) {
      say(`Resuming: ${Object.keys(state.parts).length} of ${count} parts were already uploaded.`);
    } else {
      state = { uploadId: await createUpload(key), parts: {}, partSize: PART_SIZE, backend };
      saveState(name, state);
    }
    const size = (n) => Math.min(PART_SIZE, file.size - (n - 1) * PART_SIZE);
    const pending = [];
    let done = 0;
    for (let n = 1; n <= count; n += 1) {
      if (state.parts[n]) done += size(n);
      else pending.push(n);
    }
    showProgress(done, file.size);
    const signedAhead = new Map(); // part number -> its URL, signed in a batch with the part before it
    let unsigned = [...pending]; // the parts no URL was signed for yet, in order
    let signing = Promise.resolve(); // one batch at a time, so two workers never sign the same parts
    const partUrl = (n, retry) => {
      const next = signing.then(async () => {
        const early = signedAhead.get(n);
        signedAhead.delete(n);
        if (!retry && early && Date.parse(early.expires_at) - Date.now() > FRESH_FOR_MS) return early;
        const ahead = retry ? [] : unsigned.filter((m) => m !== n && !signedAhead.has(m));
        const numbers = [n, ...ahead.slice(0, SIGN_AHEAD - 1)];
        unsigned = unsigned.filter((m) => !numbers.includes(m));
        const urls = await sign(
          numbers.map((m) => ({ operation: "multipart-part", key, upload_id: state.uploadId, part_number: m })),
        );
        numbers.forEach((m, i) => {
          if (m !== n) signedAhead.set(m, urls[i]);
        });
        return urls[0];
      });
      signing = next.catch(() => undefined);
      return next;
    };
    let failed = null;
    const worker = async () => {
      while (pending.length && !failed) {
        const n = pending.shift();
        const blob = file.slice((n - 1) * PART_SIZE, n * PART_SIZE);
        try {
          let tries = 0;
          const etag = await retrying(`Part ${n} of ${count}`, async () => {
            const url = await partUrl(n, (tries += 1) > 1);
            const response = await send(url, blob);
            return response.headers.get("ETag") || "stored";
          });
          state.parts[n] = etag;
          saveState(name, state);
          done += blob.size;
          showProgress(done, file.size);
          say(`Uploaded ${Object.keys(state.parts).length} of ${count} parts.`);
        } catch (error) {
          failed = failed || error;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pending.length) }, worker));
      if (failed) throw failed;
      await retrying("Finishing the upload", async () => {
        const [url] = await sign([{ operation: "multipart-complete", key, upload_id: state.uploadId }]);
        const [body, headers] = completion(state, count);
        await send(url, body, headers);
      });
    } catch (error) {
      // The store no longer knows the upload (completed meanwhile, aborted, expired): start over next time.
      if (error instanceof Refused && error.status === 404) localStorage.removeItem(name);
      throw error;
    }
    localStorage.removeItem(name);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return;
    const key = prefix + file.name;
    errorLine.hidden = true;
    errorLine.textContent = "";
    button.disabled = true;
    progressBox.hidden = false;
    showProgress(0, file.size);
    say(`Uploading ${file.name}…`);
    try {
      if (multipart && file.size > PART_SIZE) await uploadParts(file, key);
      else await uploadWhole(file, key);
      const notice = `Uploaded ${file.name}.`;
      window.location.assign(`/files?${new URLSearchParams({ grant, prefix, notice })}`);
    } catch (error) {
      const resumable = multipart && file.size > PART_SIZE && !(error instanceof Refused);
      const gone = error instanceof Refused && error.status === 404;
      const next = resumable
        ? " Choose the same file again to resume where it stopped."
        : gone
          ? " Choose the file again to upload it from the start."
          : "";
      say("");
      errorLine.textContent = `Upload of ${file.name} failed: ${error.message}.${next}`;
      errorLine.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
