// The runtime behind the core's model interface: one signature of a .tflite on LiteRT.js (wasm/XNNPACK).

import { Tensor, loadAndCompile, loadLiteRt } from "@litertjs/core";

let liteRtLoading = null;

/** Loads LiteRT.js's wasm once per page; threads need a cross-origin-isolated page. */
export function loadRuntime(threads) {
  if (threads > 1 && !self.crossOriginIsolated) {
    throw new Error(
      `${threads} threads need a cross-origin-isolated page (SharedArrayBuffer), and this one is not: serve it ` +
        "with tsm-web, which sends the Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers, or use threads=1.",
    );
  }
  liteRtLoading ??= loadLiteRt(new URL("./node_modules/@litertjs/core/wasm/", import.meta.url).href, { threads: threads > 1 });
  return liteRtLoading;
}

/**
 * Compiles `modelUrl` and returns the core's model: {signature, run(inputs)} for `signatureKey`.
 * Inputs are fed by name (the signature's positional order is not the metadata's).
 */
export async function loadSignatureModel(modelUrl, signatureKey, threads) {
  await loadRuntime(threads);
  let compiled;
  try {
    compiled = await loadAndCompile(modelUrl, { accelerator: "wasm", cpuOptions: { numThreads: threads } });
  } catch (error) {
    if (/INT8/.test(error.message)) {
      // LiteRT.js 2.5.3's tensors are float32, int32 or uint8: a full-int8 model's int8 frame, states and logits cannot be fed.
      throw new Error(
        `LiteRT.js cannot run ${modelUrl}: it is a full-int8 export (int8 frame, states and logits), and LiteRT.js feeds only ` +
          'float32, int32 and uint8 tensors. Export with precision="float32" or "dynamic_int8" (int8 weights, float32 inputs) for the browser.',
      );
    }
    throw new Error(`LiteRT.js could not load ${modelUrl}: ${error.message}`);
  }
  const runner = compiled.signatures[signatureKey];
  if (!runner) {
    throw new Error(`The model has no signature '${signatureKey}' (it has ${Object.keys(compiled.signatures).join(", ") || "none"}). Export model.tflite and model.json together.`);
  }
  const describe = (details) => Object.fromEntries(details.map((tensor) => [tensor.name, { shape: Array.from(tensor.shape), dtype: tensor.dtype }]));
  const signature = { inputs: describe(runner.getInputDetails()), outputs: describe(runner.getOutputDetails()) };
  return {
    signature,
    async run(inputs) {
      const tensors = {};
      for (const [name, values] of Object.entries(inputs)) tensors[name] = new Tensor(values, signature.inputs[name].shape);
      try {
        const results = await compiled.run(signatureKey, tensors);
        const outputs = {};
        for (const [name, tensor] of Object.entries(results)) {
          outputs[name] = tensor.toTypedArray();
          tensor.delete();
        }
        return outputs;
      } finally {
        for (const tensor of Object.values(tensors)) tensor.delete();
      }
    },
  };
}
