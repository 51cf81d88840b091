// Replays golden vectors written by Python (`python -m tsm_tf.cli.golden --output_dir DIR`) for a real
// exported streaming model: the raw frames, the exact inputs the TFLite signature was fed at each
// step, what the interpreter returned, and the Python client's smoothed scores. Every golden*.json
// in DIR is replayed, each against the model.json of the model it names; states are paired by name.
//
// DIR comes from the environment variable TSM_GOLDEN (tests/test_web_demo.py sets it, with a float32
// and a full-int8 set joined by the path delimiter):
//   TSM_GOLDEN=/tmp/golden/float32:/tmp/golden/int8 node --test web_demo/test/

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

import {
  DEFAULT_SMOOTHING_WINDOW,
  MetadataError,
  StreamingRecognizer,
  parseMetadata,
  resizeAndCenterCrop,
} from "../core/index.js";

// Several directories (one golden set each, e.g. float32 and int8) are joined by the path delimiter.
const directories = (process.env.TSM_GOLDEN ?? "").split(path.delimiter).filter(Boolean);
if (directories.length === 0 || !directories.every((directory) => fs.existsSync(path.join(directory, "golden.json")))) {
  throw new Error(
    `No golden vectors in TSM_GOLDEN=${process.env.TSM_GOLDEN ?? ""}: set it to DIR (or DIR1${path.delimiter}DIR2), directories written by ` +
      "`python -m tsm_tf.cli.golden --output_dir DIR [--precision int8]` (tests/test_web_demo.py does this).",
  );
}

const TYPED = { float32: Float32Array, int8: Int8Array, uint8: Uint8Array };

function maxGap(expected, actual) {
  assert.equal(actual.length, expected.length);
  let gap = 0;
  for (let index = 0; index < expected.length; index++) gap = Math.max(gap, Math.abs(expected[index] - actual[index]));
  return gap;
}

function loadSet(directory, file) {
  const golden = JSON.parse(fs.readFileSync(path.join(directory, file), "utf8"));
  const metadataFile = path.join(directory, golden.model.replace(/\.tflite$/, ".json"));
  const metadataText = fs.readFileSync(metadataFile, "utf8");
  const metadata = parseMetadata(metadataText);
  const frames = golden.frames.map((frame) => ({ height: frame.height, width: frame.width, rgb: Uint8Array.from(frame.rgb) }));
  return { golden, metadata, metadataText, frames };
}

/** The interpreter as recorded: checks what it is fed by name, answers what TFLite answered. */
class ReplayModel {
  constructor(golden, metadata) {
    this.golden = golden;
    this.metadata = metadata;
    const dtypes = new Map();
    for (const spec of [metadata.input, metadata.output, ...metadata.states.flatMap((state) => [state.input, state.output])]) dtypes.set(spec.name, spec.dtype);
    const describeTensors = (shapes) =>
      Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, { shape, dtype: dtypes.get(name) ?? "unknown" }]));
    this.signature = { inputs: describeTensors(golden.signature.inputs), outputs: describeTensors(golden.signature.outputs) };
    this.stepsRun = 0;
    this.frameGaps = [];
  }

  async run(inputs) {
    const step = this.golden.steps[this.stepsRun];
    assert.deepEqual(Object.keys(inputs).sort(), Object.keys(step.inputs).sort(), `step ${this.stepsRun} input names`);
    for (const [name, values] of Object.entries(step.inputs)) {
      const gap = maxGap(values, inputs[name]);
      if (name === this.metadata.input.name) {
        this.frameGaps.push(gap);
        // The frame may differ by one quantization step (or float rounding); states must be fed back exactly.
        assert.ok(gap <= (this.metadata.input.dtype === "float32" ? 0 : 1), `step ${this.stepsRun}: frame '${name}' is ${gap} away from what Python fed`);
      } else {
        assert.equal(gap, 0, `step ${this.stepsRun}: state '${name}' is ${gap} away from what Python fed`);
      }
    }
    const outputs = {};
    for (const [name, values] of Object.entries(step.outputs)) {
      outputs[name] = TYPED[this.signature.outputs[name].dtype].from(values);
    }
    this.stepsRun += 1;
    return outputs;
  }
}

const sets = directories.flatMap((directory) =>
  fs.readdirSync(directory).filter((name) => /^golden.*\.json$/.test(name)).sort().map((file) => [directory, file]),
);

for (const [directory, file] of sets) {
  describe(`golden vectors ${path.join(directory, file)}`, () => {
    const { golden, metadata, metadataText, frames } = loadSet(directory, file);

    test("preprocessing gives Python's model input", () => {
      const gaps = frames.map((frame, index) => {
        const actual = resizeAndCenterCrop(frame.rgb, frame.height, frame.width, 3, metadata.preprocessing);
        const expected = golden.steps[index].inputs[metadata.input.name];
        if (metadata.input.dtype !== "float32") return 0; // quantized frames are checked in the replay
        return maxGap(expected, actual);
      });
      assert.equal(Math.max(...gaps), 0, `largest gap to Python's model input: ${Math.max(...gaps)}`);
      // Sensitivity: consecutive frames' inputs differ far beyond that tolerance.
      const first = golden.steps[0].inputs[metadata.input.name];
      const second = golden.steps[1].inputs[metadata.input.name];
      assert.ok(maxGap(first, second) > 10, "the golden frames are too alike to test anything");
    });

    test("replay feeds the recorded inputs by name and smooths like Python", async () => {
      const model = new ReplayModel(golden, metadata);
      const recognizer = new StreamingRecognizer(metadata, model, { smoothingWindow: golden.smoothing_window });
      let top1Changes = 0;
      for (const [index, frame] of frames.entries()) {
        if (golden.reset_before !== null && index === golden.reset_before) recognizer.reset();
        const prediction = await recognizer.step(frame.rgb, frame.height, frame.width, 3, 3);
        const expected = golden.smoothed[index];
        const gap = maxGap(expected.scores, prediction.scores);
        assert.ok(gap <= 1e-5, `step ${index}: smoothed scores ${Array.from(prediction.scores)} vs Python ${expected.scores}`);
        assert.equal(prediction.top[0].index, expected.top1, `step ${index}: smoothed top-1`);
        if (index > 0 && expected.top1 !== golden.smoothed[index - 1].top1) top1Changes += 1;
        // int8 sets store the int8 logits: dequantize them here, by the metadata's scale and zero point.
        const { scale, zeroPoint } = metadata.output.quantization ?? { scale: 1, zeroPoint: 0 };
        const logits = golden.steps[index].outputs[metadata.output.name].map((value) => (golden.precision === "int8" ? (value - zeroPoint) * scale : value));
        assert.ok(maxGap(logits, prediction.logits) <= 1e-6 * Math.max(1, ...logits.map(Math.abs)), `step ${index}: logits`);
      }
      assert.equal(model.stepsRun, frames.length);
      // States must be non-trivial after the first step, or the name check above proves nothing.
      const state = metadata.states[0].input.name;
      const zero = metadata.states[0].input.quantization?.zeroPoint ?? 0;
      assert.ok(golden.steps[1].inputs[state].some((value) => value !== zero), `state '${state}' stays zero`);
      if (golden.top1_changes !== undefined) assert.equal(top1Changes, golden.top1_changes);
    });

    test("states fed by position instead of by name are caught", async () => {
      // Plant the bug the replay exists for: pair each state output with the next state's input.
      const model = new ReplayModel(golden, metadata);
      const recognizer = new StreamingRecognizer(metadata, model, { smoothingWindow: golden.smoothing_window });
      const names = metadata.states.map((state) => state.output.name);
      const shapes = metadata.states.map((state) => state.input.shape.join());
      const swap = names.findIndex((_, index) => index > 0 && shapes[index] === shapes[index - 1]);
      assert.ok(swap > 0, "the model has no two states of one shape to swap");
      const advance = recognizer.states.advance.bind(recognizer.states);
      recognizer.states.advance = (outputs) => {
        const swapped = { ...outputs, [names[swap]]: outputs[names[swap - 1]], [names[swap - 1]]: outputs[names[swap]] };
        advance(swapped);
      };
      await recognizer.step(frames[0].rgb, frames[0].height, frames[0].width);
      await assert.rejects(recognizer.step(frames[1].rgb, frames[1].height, frames[1].width), /state '.*' is .* away/);
    });

    test("the default smoothing window is Python's", () => {
      assert.equal(DEFAULT_SMOOTHING_WINDOW, golden.default_smoothing_window);
    });

    test("the real model with a state dropped from its metadata is refused", () => {
      const root = JSON.parse(metadataText);
      const dropped = root.states.pop().input;
      assert.throws(
        () => new StreamingRecognizer(parseMetadata(root), new ReplayModel(golden, metadata)),
        (error) => error instanceof MetadataError && error.message.includes(dropped) && error.message.includes("missing state"),
      );
    });
  });
}
