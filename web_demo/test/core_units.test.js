// Unit tests of the core's parts that the golden vectors do not reach: frame pacing and int8 quantization.

import assert from "node:assert/strict";
import { test } from "node:test";

import { FramePacer, dequantize, quantize } from "../core/index.js";

test("without a frame rate every frame is taken", () => {
  const pacer = new FramePacer(null);
  assert.deepEqual([0, 0.01, 0.02].map((time) => pacer.shouldTake(time)), [true, true, true]);
});

test("a 10 fps model takes every third frame of a 30 fps camera, and a reset restarts the schedule", () => {
  const pacer = new FramePacer(10);
  const taken = Array.from({ length: 12 }, (_, index) => pacer.shouldTake(index / 30));
  assert.deepEqual(taken, [true, false, false, true, false, false, true, false, false, true, false, false]);
  pacer.reset();
  assert.equal(pacer.shouldTake(0), true);
});

test("a source that stalls restarts the schedule from the late frame", () => {
  const pacer = new FramePacer(10);
  assert.equal(pacer.shouldTake(0), true);
  assert.equal(pacer.shouldTake(1.0), true);
  assert.equal(pacer.shouldTake(1.05), false);
  assert.equal(pacer.shouldTake(1.1), true);
});

test("int8 quantization rounds half up, clamps, and dequantizes by the metadata", () => {
  const spec = { name: "frame", dtype: "int8", size: 5, quantization: { scale: 0.5, zeroPoint: -3 } };
  const stored = quantize(Float32Array.from([0, 0.25, -0.25, 100, -100]), spec);
  // floor(x / 0.5 + 0.5) - 3: 0 -> -3, 0.25 -> -2, -0.25 -> -3, clamped at 127 and -128.
  assert.deepEqual(Array.from(stored), [-3, -2, -3, 127, -128]);
  assert.deepEqual(Array.from(dequantize(stored, spec)), [0, 0.5, 0, 65, -62.5]);
});
