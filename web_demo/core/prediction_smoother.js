// Prediction smoothing as Python's tsm_tf.StreamingClassifier (and the TSM paper's online demo):
// the displayed scores are the softmax of the mean logits of the last `window` frames.

const f32 = Math.fround;

/** The TSM online demo's window, and Python's DEFAULT_SMOOTHING_WINDOW. */
export const DEFAULT_SMOOTHING_WINDOW = 12;

/** Numerically stable softmax in float32. */
export function softmax(logits) {
  let maximum = -Infinity;
  for (const value of logits) maximum = Math.max(maximum, value);
  const out = new Float32Array(logits.length);
  let total = 0;
  for (let index = 0; index < logits.length; index++) {
    out[index] = f32(Math.exp(f32(logits[index] - maximum)));
    total = f32(total + out[index]);
  }
  for (let index = 0; index < out.length; index++) out[index] = f32(out[index] / total);
  return out;
}

/** Smooths logits over the last `window` frames; `window = 1` shows each frame's own scores. */
export class PredictionSmoother {
  constructor(numClasses, window = DEFAULT_SMOOTHING_WINDOW) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer (1 turns smoothing off), received ${window}.`);
    this.numClasses = numClasses;
    this.window = window;
    this.history = [];
  }

  /** Adds one frame's logits and returns the smoothed class probabilities. */
  update(logits) {
    if (logits.length !== this.numClasses) throw new RangeError(`Expected ${this.numClasses} logits, received ${logits.length}.`);
    this.history.push(Float32Array.from(logits));
    while (this.history.length > this.window) this.history.shift();
    // float32 sum then one division, in the order NumPy's mean over axis 0 uses.
    const mean = new Float32Array(this.numClasses);
    for (const entry of this.history) for (let index = 0; index < mean.length; index++) mean[index] = f32(mean[index] + entry[index]);
    for (let index = 0; index < mean.length; index++) mean[index] = f32(mean[index] / this.history.length);
    return softmax(mean);
  }

  /** Forgets the history: the start of a new stream. */
  reset() {
    this.history = [];
  }
}

/** The `k` best classes as [{index, label, score}], best first (ties: lower index first). */
export function topK(scores, labels, k) {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, label: labels[index], score: scores[index] }));
}
