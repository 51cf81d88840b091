// Drives the demo page in headless Chromium (Playwright, the system's Chromium; never
// `playwright install`) and prints what each page did as JSON on stdout.
//
//   node drive_page.mjs CONFIG.json
//
// CONFIG: {executablePath, y4m, timeoutMs, scenarios: [{name, url, until: "records" | "frames" | "error",
// records, frames, camera: "fake" | "denied", screenshot}]}. Each scenario gets its own browser context;
// "fake" plays the Y4M file as the webcam, "denied" refuses the camera permission.

import fs from "node:fs";
import { chromium } from "playwright-core";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

async function launch(camera) {
  const args = ["--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"];
  if (camera === "fake") args.push("--use-fake-ui-for-media-stream", `--use-file-for-fake-video-capture=${config.y4m}`);
  else args.push("--deny-permission-prompts");
  return chromium.launch({ executablePath: config.executablePath, headless: true, args });
}

async function runScenario(browser, scenario) {
  const page = await browser.newPage({ viewport: { width: 960, height: 620 } });
  const console_ = [];
  page.on("console", (message) => console_.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => console_.push(`pageerror: ${error.message}`));
  await page.goto(scenario.url);
  const conditions = {
    records: `window.tsmDemo.records.length >= ${scenario.records}`,
    frames: `window.tsmDemo.framesClassified >= ${scenario.frames}`,
    error: "false",
  };
  const condition = `window.tsmDemo && (${conditions[scenario.until]} || window.tsmDemo.status === "error")`;
  let timedOut = false;
  try {
    await page.waitForFunction(condition, null, { timeout: config.timeoutMs, polling: 50 });
  } catch {
    timedOut = true;
  }
  const result = await page.evaluate(() => ({
    status: window.tsmDemo?.status,
    error: window.tsmDemo?.error,
    message: document.getElementById("message").hidden ? null : document.getElementById("message").textContent,
    crossOriginIsolated: self.crossOriginIsolated,
    metadata: window.tsmDemo?.metadata,
    records: window.tsmDemo ? window.tsmDemo.recordedFrames() : [],
    top3: Array.from(document.querySelectorAll("#top3 li")).map((item) => item.textContent),
    latency: document.getElementById("latency").textContent,
    latenciesMs: window.tsmDemo?.latenciesMs ?? [],
  }));
  if (scenario.screenshot) await page.screenshot({ path: scenario.screenshot });
  await page.close();
  return { name: scenario.name, timedOut, console: console_, ...result };
}

const results = [];
const browsers = {};
try {
  for (const scenario of config.scenarios) {
    const camera = scenario.camera ?? "fake";
    browsers[camera] ??= await launch(camera);
    results.push(await runScenario(browsers[camera], scenario));
  }
} finally {
  for (const browser of Object.values(browsers)) await browser.close();
}
process.stdout.write(JSON.stringify(results));
