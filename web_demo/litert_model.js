// The runtime behind the core's model interface: one signature of a .tflite on LiteRT.js (wasm/XNNPACK).
//
// LiteRT.js 2.5.3's public Tensor and CompiledModel accept only float32, int32 and uint8 tensors
// (DATATYPES in node_modules/@litertjs/core/dist/index.js: any other element type throws "Element
// type INT8 is not supported", even while compiling), although its wasm runs int8 models. So the
// model is loaded, compiled, fed and read through the wasm bindings the package declares
// (`LiteRt.liteRtWasm`, interface LiteRtWasm in dist/index.d.ts), the same calls its own
// loadAndCompile and Tensor make, with the element types mapped here: float32, int8 and uint8 exports
// alike take this one path.

import { loadLiteRt } from "@litertjs/core";

// litert::ElementType values (ElementType in @litertjs/core's dist/index.d.ts) of the dtypes the core feeds.
const ELEMENT_TYPES = {
  1: { dtype: "float32", arrayType: Float32Array },
  3: { dtype: "uint8", arrayType: Uint8Array },
  9: { dtype: "int8", arrayType: Int8Array },
};
const HOST_MEMORY = 1;

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

/** {name, shape, dtype, elementType, bytes} of a LiteRtRankedTensorType (deleted here). */
function describeTensor(name, tensorType) {
  const layout = tensorType.layout();
  const dimensions = layout.dimensions();
  const shape = Array.from({ length: dimensions.size() }, (_, index) => dimensions.get(index));
  dimensions.delete();
  layout.delete();
  const elementType = tensorType.elementType().value;
  const bytes = tensorType.bytes();
  tensorType.delete();
  const known = ELEMENT_TYPES[elementType];
  return { name, shape, dtype: known?.dtype ?? `element type ${elementType}`, elementType, bytes };
}

function names(vector) {
  const values = Array.from({ length: vector.size() }, (_, index) => vector.get(index));
  vector.delete();
  return values;
}

/**
 * Compiles `modelUrl` and returns the core's model: {signature, run(inputs), delete()} for `signatureKey`.
 * Inputs are fed by name (the signature's positional order is not the metadata's).
 */
export async function loadSignatureModel(modelUrl, signatureKey, threads) {
  const liteRt = await loadRuntime(threads);
  const wasm = liteRt.liteRtWasm;
  const environment = liteRt.getDefaultEnvironment();
  const response = await fetch(modelUrl);
  if (!response.ok) throw new Error(`Could not fetch the model ${modelUrl}: HTTP ${response.status}. Serve the page with tsm-web --model=PATH.tflite.`);
  const modelBytes = new Uint8Array(await response.arrayBuffer());

  // The model's bytes stay in wasm memory as long as the model: LiteRT reads its weights from them.
  const modelPointer = wasm._malloc(modelBytes.byteLength);
  wasm.HEAPU8.set(modelBytes, modelPointer);
  let model, compiled;
  try {
    model = wasm.loadModel(environment.liteRtEnvironment, modelPointer, modelBytes.byteLength);
    compiled = await wasm.compileModel(environment.liteRtEnvironment, model, {
      environment,
      accelerator: "wasm",
      cpuOptions: { numThreads: threads },
      gpuOptions: {},
      webNNOptions: {},
    });
  } catch (error) {
    model?.delete();
    wasm._free(modelPointer);
    throw new Error(`LiteRT.js could not load ${modelUrl}: ${error.message ?? error}`);
  }

  const keys = Array.from({ length: model.getNumSignatures() }, (_, index) => {
    const signature = model.getSignature(index);
    const key = signature.key();
    signature.delete();
    return key;
  });
  const signatureIndex = keys.indexOf(signatureKey);
  if (signatureIndex < 0) {
    compiled.delete();
    model.delete();
    wasm._free(modelPointer);
    throw new Error(`The model has no signature '${signatureKey}' (it has ${keys.join(", ") || "none"}). Export model.tflite and model.json together.`);
  }
  const liteRtSignature = model.getSignature(signatureIndex);
  const inputs = names(liteRtSignature.inputNames()).map((name, index) => describeTensor(name, model.getInputTensorType(signatureIndex, index)));
  const outputs = names(liteRtSignature.outputNames()).map((name, index) => describeTensor(name, model.getOutputTensorType(signatureIndex, index)));
  liteRtSignature.delete();
  const describe = (tensors) => Object.fromEntries(tensors.map((tensor) => [tensor.name, { shape: tensor.shape, dtype: tensor.dtype }]));

  function inputBuffer(tensor, values) {
    const arrayType = ELEMENT_TYPES[tensor.elementType]?.arrayType;
    if (!arrayType || !(values instanceof arrayType) || values.byteLength !== tensor.bytes) {
      throw new Error(
        `Input '${tensor.name}' takes ${tensor.bytes} bytes of ${tensor.dtype} [${tensor.shape}]; received ` +
          `${values.byteLength} bytes of ${values.constructor.name}.`,
      );
    }
    const tensorType = model.getInputTensorType(signatureIndex, tensor.index);
    const buffer = wasm.LiteRtTensorBuffer.createManaged(environment.liteRtEnvironment, wasm.LiteRtTensorBufferType.HOST_MEMORY, tensorType, tensor.bytes);
    tensorType.delete();
    const pointer = buffer.lock(wasm.LiteRtTensorBufferLockMode.WRITE);
    try {
      wasm.HEAPU8.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), pointer);
    } finally {
      buffer.unlock();
    }
    return buffer;
  }

  function readOutput(tensor, buffer) {
    if (buffer.bufferType().value !== HOST_MEMORY || buffer.packedSize() !== tensor.bytes || buffer.offset() !== 0) {
      throw new Error(`Output '${tensor.name}' is not a packed host-memory buffer of ${tensor.bytes} bytes.`);
    }
    const pointer = buffer.lock(wasm.LiteRtTensorBufferLockMode.READ);
    try {
      // A copy: the wasm heap may move when it grows, and the buffer is reused by the next run.
      const bytes = wasm.HEAPU8.slice(pointer, pointer + tensor.bytes);
      return new ELEMENT_TYPES[tensor.elementType].arrayType(bytes.buffer);
    } finally {
      buffer.unlock();
    }
  }

  inputs.forEach((tensor, index) => (tensor.index = index));
  return {
    signature: { inputs: describe(inputs), outputs: describe(outputs) },
    async run(values) {
      const buffers = [];
      try {
        for (const tensor of inputs) {
          if (!(tensor.name in values)) throw new Error(`No value for input '${tensor.name}'.`);
          buffers.push(inputBuffer(tensor, values[tensor.name]));
        }
        const results = await compiled.run(signatureIndex, buffers);
        try {
          return Object.fromEntries(outputs.map((tensor, index) => [tensor.name, readOutput(tensor, results[index])]));
        } finally {
          for (const buffer of results) buffer.delete();
        }
      } finally {
        for (const buffer of buffers) buffer.delete();
      }
    },
    delete() {
      compiled.delete();
      model.delete();
      wasm._free(modelPointer);
    },
  };
}
