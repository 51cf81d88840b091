// Streams frames through an exported streaming model: the metadata's resize and crop, the frame
// quantized when the model is, every state carried by name, and smoothed top-k predictions.
// Plain JavaScript: the runtime (LiteRT.js in the page, recorded vectors in the tests) sits
// behind a small model interface.

import { checkSignature, checkStreaming } from "./metadata.js";
import { PredictionSmoother, topK } from "./prediction_smoother.js";
import { resizeAndCenterCrop } from "./preprocessing.js";
import { dequantize, quantize } from "./quantization.js";
import { StateBook } from "./state_book.js";

/**
 * @param metadata parsed model.json (parseMetadata); must describe a streaming model.
 * @param model {signature: {inputs, outputs} (name -> {shape, dtype}),
 *     run(inputs) -> Promise of outputs}: inputs and outputs are typed arrays by tensor name.
 * @param options {smoothingWindow} (default: Python's 12).
 * Throws a MetadataError if the model is not streaming or its signature differs from the metadata.
 */
export class StreamingRecognizer {
  constructor(metadata, model, { smoothingWindow } = {}) {
    checkStreaming(metadata);
    checkSignature(metadata, model.signature);
    this.metadata = metadata;
    this.model = model;
    this.states = new StateBook(metadata.states);
    this.smoother = new PredictionSmoother(metadata.numClasses, smoothingWindow);
    this.pixels = new Float32Array(metadata.input.size);
    this.frameIndex = 0;
  }

  /**
   * Classifies the next frame (row-major RGB or RGBA values, any size) and returns
   * {frameIndex, logits, scores, top, modelInput, latencyMs}.
   */
  async step(pixels, height, width, channels = 3, k = 3) {
    const start = performance.now();
    resizeAndCenterCrop(pixels, height, width, channels, this.metadata.preprocessing, this.pixels);
    const frame = quantize(this.pixels, this.metadata.input);
    const outputs = await this.model.run({ [this.metadata.input.name]: frame, ...this.states.inputs() });
    this.states.advance(outputs);
    const logits = dequantize(outputs[this.metadata.output.name], this.metadata.output);
    const scores = this.smoother.update(logits);
    const prediction = {
      frameIndex: this.frameIndex,
      logits,
      scores,
      top: topK(scores, this.metadata.labels, k),
      modelInput: frame,
      latencyMs: performance.now() - start,
    };
    this.frameIndex += 1;
    return prediction;
  }

  /** Starts a new stream: zero states, an empty smoothing history. */
  reset() {
    this.states.reset();
    this.smoother.reset();
    this.frameIndex = 0;
  }
}
