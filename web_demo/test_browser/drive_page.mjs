// Drives the demo page in headless Chromium (Playwright, the system's Chromium; never
// `playwright install`) and prints what each page did as JSON on stdout.
//
//   node drive_page.mjs CONFIG.json
//
// CONFIG: {executablePath, y4m, hostResolverRules, portFile, timeoutMs, scenarios: [SCENARIO]}, one browser for
// all, the Y4M file played as the webcam. SCENARIO: {name, url, until: "records" | "frames" | "error",
// records, frames, camera: "granted" (default) | "denied", device (a Playwright device name, such as
// "Pixel 7"), screenshot, installability, steps}; each gets its own browser context. `steps` run after `until`, each
// waiting for `until` again and recording the page's state: "hide" / "show" (the page hidden and shown
// again), "flip" (the camera switch pressed), "offline_reload" (the network cut, then the page reloaded).
// A URL with PORT_FROM_FILE waits for portFile to hold the port of a server still starting ("failed": none).

import fs from "node:fs";
import { chromium, devices } from "playwright-core";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

// The page's state and what it recorded, as the tests read them.
function pageState() {
  const demo = window.tsmDemo;
  const box = (element) => {
    const rectangle = element.getBoundingClientRect();
    return { id: element.id || element.textContent.trim(), left: rectangle.left, right: rectangle.right, top: rectangle.top, bottom: rectangle.bottom, width: rectangle.width, height: rectangle.height };
  };
  return {
    status: demo?.status,
    error: demo?.error,
    message: document.getElementById("message").hidden ? null : document.getElementById("message").textContent,
    crossOriginIsolated: self.crossOriginIsolated,
    metadata: demo?.metadata,
    modelInfo: document.getElementById("model-info").textContent,
    framesClassified: demo?.framesClassified ?? 0,
    records: demo ? demo.recordedFrames() : [],
    top3: Array.from(document.querySelectorAll("#top3 li")).map((item) => item.textContent),
    latency: document.getElementById("latency").textContent,
    latenciesMs: demo?.latenciesMs ?? [],
    cameraRequests: window.cameraRequests ?? [],
    wakeLock: demo?.wakeLock ?? null,
    wakeLocksReleased: (window.wakeLocks ?? []).map((sentinel) => sentinel.released),
    offline: demo?.offline ?? null,
    serviceWorkerControlled: Boolean(navigator.serviceWorker?.controller),
    layout: {
      innerWidth: window.innerWidth,
      innerHeight: window.innerHeight,
      scrollWidth: document.documentElement.scrollWidth,
      controls: Array.from(document.querySelectorAll("#controls button, #controls label")).filter((element) => element.offsetParent !== null).map(box),
      video: box(document.getElementById("video")),
      top3: box(document.getElementById("top3")),
      latency: box(document.getElementById("latency")),
    },
  };
}

// Hides or shows the page as a switch to another tab does. Playwright keeps its pages visible (a second
// tab brought to the front, a minimized window and a background CDP target all left visibilityState
// "visible"), so the document's visibility is overridden and its event dispatched as the browser would.
async function setVisible(page, visible) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  }, !visible);
}

async function waitFor(page, scenario) {
  const conditions = {
    records: `window.tsmDemo.records.length >= ${scenario.records}`,
    frames: `window.tsmDemo.framesClassified >= ${scenario.frames}`,
    error: "false",
  };
  const condition = `window.tsmDemo && (${conditions[scenario.until]} || window.tsmDemo.status === "error")`;
  try {
    await page.waitForFunction(condition, null, { timeout: config.timeoutMs, polling: 50 });
    return false;
  } catch {
    return true;
  }
}

async function portFromFile() {
  const deadline = Date.now() + config.timeoutMs;
  while (!fs.existsSync(config.portFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return fs.existsSync(config.portFile) ? fs.readFileSync(config.portFile, "utf8").trim() : "failed";
}

async function runScenario(browser, scenario) {
  if (scenario.url.includes("PORT_FROM_FILE")) {
    const port = await portFromFile();
    if (port === "failed") return { name: scenario.name, status: "server not started", timedOut: true, steps: [] };
    scenario = { ...scenario, url: scenario.url.replace("PORT_FROM_FILE", port) };
  }
  const context = await browser.newContext({
    ...(scenario.device ? devices[scenario.device] : { viewport: { width: 960, height: 620 } }),
    ignoreHTTPSErrors: true,
  });
  // Which cameras the page asks for (a phone's rear one?) and the wake locks it takes, seen from outside the page.
  await context.addInitScript(() => {
    window.cameraRequests = [];
    window.wakeLocks = [];
    const getUserMedia = navigator.mediaDevices?.getUserMedia?.bind(navigator.mediaDevices);
    if (getUserMedia)
      navigator.mediaDevices.getUserMedia = (constraints) => {
        window.cameraRequests.push(constraints);
        return getUserMedia(constraints);
      };
    const requestWakeLock = navigator.wakeLock?.request?.bind(navigator.wakeLock);
    if (requestWakeLock)
      navigator.wakeLock.request = async (type) => {
        const sentinel = await requestWakeLock(type);
        window.wakeLocks.push(sentinel);
        return sentinel;
      };
  });
  const page = await context.newPage();
  // Through the DevTools protocol: Playwright's permissions leave out Wake Lock, which a phone's
  // browser grants a visible page. Replaces the context's permissions, so the camera is listed too.
  const { targetInfo } = await (await context.newCDPSession(page)).send("Target.getTargetInfo");
  await (await browser.newBrowserCDPSession()).send("Browser.grantPermissions", {
    permissions: scenario.camera === "denied" ? ["wakeLockScreen"] : ["videoCapture", "wakeLockScreen"],
    browserContextId: targetInfo.browserContextId,
  });
  const console_ = [];
  page.on("console", (message) => console_.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => console_.push(`pageerror: ${error.message}`));
  await page.goto(scenario.url);
  const timedOut = await waitFor(page, scenario);
  const result = { name: scenario.name, timedOut, console: console_, ...(await page.evaluate(pageState)), steps: [] };
  if (scenario.screenshot) await page.screenshot({ path: scenario.screenshot, scale: "css" });
  if (scenario.installability) {
    // What keeps Chromium from offering to install the page (add to home screen): none expected.
    const session = await context.newCDPSession(page);
    result.installabilityErrors = (await session.send("Page.getInstallabilityErrors")).installabilityErrors;
  }
  for (const step of scenario.steps ?? []) {
    if (step === "hide") {
      const before = await page.evaluate(() => window.tsmDemo.framesClassified);
      await setVisible(page, false);
      await page.waitForTimeout(500);
      const { records, ...state } = await page.evaluate(pageState);
      const cameraLive = await page.evaluate(() => Boolean(document.getElementById("video").srcObject?.getVideoTracks().some((track) => track.readyState === "live")));
      result.steps.push({ step, framesBefore: before, cameraLive, ...state });
      continue;
    }
    if (step === "show") await setVisible(page, true);
    if (step === "flip") await page.tap("#flip");
    const extra = {};
    if (step === "offline_reload") {
      await page.waitForFunction("window.tsmDemo.offline !== null", null, { timeout: config.timeoutMs });
      extra.offlineBefore = await page.evaluate(() => window.tsmDemo.offline);
      await context.setOffline(true);
      try {
        await page.reload();
      } catch (error) {
        extra.reloadError = error.message;
      }
    }
    const stepTimedOut = extra.reloadError ? true : await waitFor(page, scenario);
    const state = extra.reloadError ? {} : await page.evaluate(pageState);
    if (step === "offline_reload" && !extra.reloadError)
      // Proof that the network is cut for the service worker too: a URL it never kept fails.
      extra.uncachedFetch = await page.evaluate(() => fetch("models/model.json?never-kept").then(() => "succeeded", () => "failed"));
    result.steps.push({ step, timedOut: stepTimedOut, ...extra, ...state });
  }
  await context.close();
  return result;
}

const browser = await chromium.launch({
  executablePath: config.executablePath,
  headless: true,
  args: [
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${config.y4m}`,
    "--autoplay-policy=no-user-gesture-required",
    ...(config.hostResolverRules ? [`--host-resolver-rules=${config.hostResolverRules}`] : []),
  ],
});
const results = [];
try {
  for (const scenario of config.scenarios) results.push(await runScenario(browser, scenario));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));
