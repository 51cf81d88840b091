// Page wiring: sources (camera or file), the frame loop, the display. Everything that decides a
// number lives in core/ (tested in Node); the runtime in litert_model.js.
//
// URL parameters: model (a .tflite URL, its .json beside it; default models/model.tflite),
// threads (1 by default), smoothing (frames, default 12), source=camera (start the camera at once),
// facing (user or environment: which camera first; default environment, a phone's rear one),
// record (expose the first N classified frames and logits on window.tsmDemo, for tests).

import { FramePacer, MetadataError, StreamingRecognizer, checkStreaming, cropRegion, parseMetadata } from "./core/index.js";
import { loadSignatureModel } from "./litert_model.js";

const parameters = new URLSearchParams(location.search);
const modelUrl = parameters.get("model") ?? "models/model.tflite";
const threads = Number(parameters.get("threads") ?? 1);
const smoothingWindow = parameters.has("smoothing") ? Number(parameters.get("smoothing")) : undefined;
const recordLimit = Number(parameters.get("record") ?? 0);
let facing = parameters.get("facing") === "user" ? "user" : "environment";

const elements = Object.fromEntries(
  ["model-info", "camera", "flip", "video-file", "reset", "message", "video", "overlay", "top3", "latency", "capture"].map((id) => [id, document.getElementById(id)]),
);
const capture = elements.capture.getContext("2d", { willReadFrequently: true });

// What tests read: the state of the page, and the frames and logits it classified.
const demo = { status: "loading", error: null, framesClassified: 0, latenciesMs: [], records: [], metadata: null, threads, wakeLock: null, offline: null };
window.tsmDemo = demo;
demo.recordedFrames = () =>
  demo.records.map((record) => ({ height: record.height, width: record.width, rgb: toBase64(record.rgb), logits: Array.from(record.logits) }));

// In slices: spreading a whole camera frame into String.fromCharCode overflows the call stack.
function toBase64(bytes) {
  const slices = [];
  for (let start = 0; start < bytes.length; start += 0x8000) slices.push(String.fromCharCode(...bytes.subarray(start, start + 0x8000)));
  return btoa(slices.join(""));
}

let recognizer = null;
let pacer = null;
let sourceId = 0;
let busy = false;
let latencies = [];
let activeSource = null; // "camera" or "file" while one plays
let hiddenSource = null; // the source paused while the page is hidden
let wakeLock = null;

function showError(error) {
  demo.status = "error";
  demo.error = error.message;
  elements.message.textContent = error.message;
  elements.message.hidden = false;
  console.error(error);
}

function clearError() {
  elements.message.hidden = true;
  demo.error = null;
}

async function fetchText(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Could not fetch ${what} ${url}: HTTP ${response.status}. Serve the page with tsm-web --model=PATH.tflite.`);
  return response.text();
}

async function loadModel() {
  const metadataUrl = modelUrl.replace(/\.tflite$/, ".json");
  const metadata = parseMetadata(await fetchText(metadataUrl, "the metadata"));
  checkStreaming(metadata);
  const model = await loadSignatureModel(modelUrl, metadata.signatureKey, threads);
  recognizer = new StreamingRecognizer(metadata, model, { smoothingWindow });
  pacer = new FramePacer(metadata.frameRate);
  demo.metadata = { precision: metadata.precision, labels: metadata.labels, frameRate: metadata.frameRate };
  const rate = metadata.frameRate === null ? "every frame" : `${metadata.frameRate} frames/s`;
  elements["model-info"].textContent =
    `${modelUrl.split("/").pop()}: ${metadata.precision}, ${metadata.labels.length} classes, ` +
    `${metadata.preprocessing.cropSize} px crop, ${metadata.states.length} states, ${rate}, ${threads} thread${threads > 1 ? "s" : ""}` +
    (self.crossOriginIsolated ? "." : " (this host does not send the cross-origin isolation headers that more threads need).");
}

// Installed and offline: a service worker keeps what this page loaded (see service_worker.js).
async function keepForOffline() {
  if (!("serviceWorker" in navigator)) {
    demo.offline = "unsupported (a service worker needs https:// or localhost)";
    return;
  }
  try {
    await navigator.serviceWorker.register("service_worker.js");
    const worker = (await navigator.serviceWorker.ready).active;
    const origin = location.origin;
    const used = performance.getEntriesByType("resource").map((entry) => entry.name);
    const keep = [...new Set([location.href, new URL("./", location.href).href, ...used])].filter((url) => url.startsWith(origin));
    const reply = new Promise((resolve) => navigator.serviceWorker.addEventListener("message", (event) => resolve(event.data), { once: true }));
    worker.postMessage({ keep });
    const answer = await reply;
    demo.offline = answer.kept ? "ready" : `not kept: ${answer.keepError}`;
  } catch (error) {
    demo.offline = `unavailable: ${error.message}`;
  }
}

function resetStream() {
  recognizer?.reset();
  pacer?.reset();
  latencies = [];
  demo.records = [];
  demo.framesClassified = 0;
  demo.latenciesMs = [];
  elements.top3.replaceChildren();
  elements.latency.textContent = "–";
}

function stopSource() {
  sourceId += 1;
  activeSource = null;
  hiddenSource = null;
  releaseWakeLock();
  const video = elements.video;
  video.srcObject?.getTracks().forEach((track) => track.stop());
  video.pause();
  video.srcObject = null;
  video.removeAttribute("src");
  resetStream();
}

// The screen stays on while a source streams, where the browser allows it (Wake Lock API).
async function keepScreenAwake() {
  if (!("wakeLock" in navigator)) {
    demo.wakeLock = "unsupported";
    return;
  }
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    demo.wakeLock = "held";
  } catch (error) {
    demo.wakeLock = `refused (${error.name})`;
  }
}

function releaseWakeLock() {
  wakeLock?.release().catch(() => {});
  wakeLock = null;
  if (demo.wakeLock === "held") demo.wakeLock = "released";
}

// A hidden page stops: the camera is released and nothing is classified. Shown again, it starts a new stream.
function pauseWhileHidden() {
  if (activeSource === null) return;
  hiddenSource = activeSource;
  sourceId += 1;
  releaseWakeLock();
  const video = elements.video;
  video.srcObject?.getTracks().forEach((track) => track.stop());
  if (video.srcObject) video.srcObject = null;
  video.pause();
  demo.status = "paused";
}

async function resumeWhenShown() {
  const source = hiddenSource;
  hiddenSource = null;
  if (source === "camera") await startCamera();
  else if (source === "file") {
    resetStream();
    await play(true);
  }
}

function showFacing() {
  elements.flip.textContent = facing === "environment" ? "Front camera" : "Rear camera";
}

async function startCamera() {
  stopSource();
  clearError();
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new Error(
      `No camera here: ${location.origin} is plain HTTP, and browsers give the camera only to https:// pages and localhost. ` +
        "Start the server with tsm-web --https (add --host=0.0.0.0 for a phone) and open the https:// address it prints, " +
        "accepting the certificate warning once; or choose a video file.",
    );
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: facing }, width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (error) {
    const reasons = {
      NotAllowedError: "Camera permission was denied. Allow the camera for this site (the camera icon in the address bar) and press Camera again, or choose a video file.",
      NotFoundError: "No camera was found. Connect one and press Camera again, or choose a video file.",
      NotReadableError: "The camera is busy in another application. Close it and press Camera again, or choose a video file.",
    };
    throw new Error(reasons[error.name] ?? `The camera could not be opened (${error.name}: ${error.message}). Choose a video file instead.`);
  }
  elements.video.srcObject = stream;
  await play(false);
  activeSource = "camera";
}

async function startFile(file) {
  stopSource();
  clearError();
  elements.video.src = URL.createObjectURL(file);
  elements.video.loop = true;
  await play(true);
  activeSource = "file";
}

async function play(isFile) {
  const id = sourceId;
  await elements.video.play();
  demo.status = "streaming";
  keepScreenAwake();
  const onFrame = (now, frameMetadata) => {
    if (id !== sourceId) return;
    // A file's clock is its media time (it loops back to 0: a new stream); a camera's is the wall clock.
    const timestamp = isFile ? frameMetadata.mediaTime : now / 1000;
    if (isFile && pacer.nextDue !== null && timestamp + 1 < pacer.nextDue) resetStream();
    if (!busy && pacer.shouldTake(timestamp)) classify(id).catch(showError);
    elements.video.requestVideoFrameCallback(onFrame);
  };
  elements.video.requestVideoFrameCallback(onFrame);
}

async function classify(id) {
  busy = true;
  try {
    const video = elements.video;
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return;
    if (elements.capture.width !== width || elements.capture.height !== height) Object.assign(elements.capture, { width, height });
    capture.drawImage(video, 0, 0, width, height);
    const rgba = capture.getImageData(0, 0, width, height).data;
    const prediction = await recognizer.step(rgba, height, width, 4, 3);
    if (id !== sourceId) return;
    if (demo.records.length < recordLimit) demo.records.push({ height, width, rgb: toRgb(rgba), logits: prediction.logits });
    demo.framesClassified += 1;
    demo.latenciesMs.push(prediction.latencyMs);
    show(prediction, height, width);
  } finally {
    busy = false;
  }
}

function toRgb(rgba) {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let pixel = 0, index = 0; pixel < rgba.length; pixel += 4) {
    rgb[index++] = rgba[pixel];
    rgb[index++] = rgba[pixel + 1];
    rgb[index++] = rgba[pixel + 2];
  }
  return rgb;
}

function show(prediction, height, width) {
  elements.top3.replaceChildren(
    ...prediction.top.map(({ label, score }) => {
      const item = document.createElement("li");
      item.textContent = `${label} ${(100 * score).toFixed(1)}%`;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = `${(100 * score).toFixed(1)}%`;
      item.append(bar);
      return item;
    }),
  );
  latencies.push(prediction.latencyMs);
  if (latencies.length > 100) latencies.shift();
  const mean = latencies.reduce((sum, value) => sum + value, 0) / latencies.length;
  elements.latency.textContent = `frame ${prediction.frameIndex}: ${prediction.latencyMs.toFixed(1)} ms (mean of last ${latencies.length}: ${mean.toFixed(1)} ms)`;
  const overlay = elements.overlay;
  if (overlay.width !== width || overlay.height !== height) Object.assign(overlay, { width, height });
  const context = overlay.getContext("2d");
  context.clearRect(0, 0, width, height);
  const region = cropRegion(height, width, recognizer.metadata.preprocessing);
  context.strokeStyle = "#3c9";
  context.lineWidth = Math.max(2, width / 160);
  context.strokeRect(region.left, region.top, region.width, region.height);
}

elements.camera.addEventListener("click", () => startCamera().catch(showError));
elements["video-file"].addEventListener("change", (event) => {
  const [file] = event.target.files;
  if (file) startFile(file).catch(showError);
});
elements.reset.addEventListener("click", resetStream);
elements.flip.addEventListener("click", () => {
  facing = facing === "environment" ? "user" : "environment";
  showFacing();
  if (activeSource === "camera") startCamera().catch(showError);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") pauseWhileHidden();
  else resumeWhenShown().catch(showError);
});
showFacing();

loadModel()
  .then(() => {
    demo.status = "ready";
    keepForOffline();
    if (parameters.get("source") === "camera") return startCamera();
  })
  .catch((error) => {
    elements.camera.disabled = true;
    showError(error instanceof MetadataError ? error : error);
  });
