// The exported model's contract (docs/metadata.md, format_version 1), read and checked as the
// Python (`tsm_tf.TFLiteModel`) and Kotlin (`ModelMetadata`) clients do.

/** The only metadata format this client reads. */
export const FORMAT_VERSION = 1;

/** model.json (or the model it describes) breaks the contract of docs/metadata.md. */
export class MetadataError extends Error {
  constructor(message) {
    super(message);
    this.name = "MetadataError";
  }
}

const DTYPES = { float32: Float32Array, int8: Int8Array, uint8: Uint8Array };

/** The typed array class for a tensor dtype this client can feed, or a MetadataError. */
export function arrayTypeOf(dtype, name) {
  const type = DTYPES[dtype];
  if (!type) {
    throw new MetadataError(
      `Tensor '${name}' has dtype "${dtype}"; this client feeds float32, int8 or uint8 tensors.`,
    );
  }
  return type;
}

/** Number of elements of a shape. */
export function sizeOf(shape) {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

function describe(value) {
  if (value === undefined || value === null) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value);
}

function required(item, key, where) {
  if (item[key] === undefined || item[key] === null) {
    throw new MetadataError(
      `${where} has no '${key}' (keys present: ${Object.keys(item).sort().join(", ")}). ` +
        "Re-export with tsm_tf.export_tflite.",
    );
  }
  return item[key];
}

function string(item, key, where) {
  const value = required(item, key, where);
  if (typeof value !== "string") throw new MetadataError(`${where} '${key}' must be a string, found ${describe(value)}.`);
  return value;
}

function integer(item, key, where) {
  const value = required(item, key, where);
  if (!Number.isInteger(value)) throw new MetadataError(`${where} '${key}' must be an integer, found ${describe(value)}.`);
  return value;
}

function object(value, where) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MetadataError(`${where} must be a JSON object, found ${describe(value)}.`);
  }
  return value;
}

function list(item, key, where) {
  const value = required(item, key, where);
  if (!Array.isArray(value)) throw new MetadataError(`${where} '${key}' must be a list, found ${describe(value)}.`);
  return value;
}

function shape(item, where) {
  const dimensions = list(item, "shape", where);
  if (!dimensions.every((dimension) => Number.isInteger(dimension) && dimension >= 1)) {
    throw new MetadataError(`${where} shape [${dimensions}] must hold positive integers.`);
  }
  return dimensions.slice();
}

function quantization(item, where) {
  if (item.quantization === undefined || item.quantization === null) return null;
  const value = object(item.quantization, `${where} quantization`);
  const scale = required(value, "scale", `${where} quantization`);
  if (typeof scale !== "number" || !(scale > 0)) {
    throw new MetadataError(`${where} quantization scale must be a positive number, found ${describe(scale)}.`);
  }
  return { scale, zeroPoint: integer(value, "zero_point", `${where} quantization`) };
}

function tensor(item, nameKey, where) {
  const spec = {
    name: string(item, nameKey, where),
    shape: shape(item, where),
    dtype: string(item, "dtype", where),
    quantization: quantization(item, where),
  };
  arrayTypeOf(spec.dtype, spec.name);
  spec.size = sizeOf(spec.shape);
  return spec;
}

function parsePreprocessing(item) {
  const where = "model.json 'preprocessing'";
  const expected = { crop: "center", interpolation: "bilinear", half_pixel_centers: true, antialias: false };
  for (const [key, value] of Object.entries(expected)) {
    if (item[key] !== value) {
      throw new MetadataError(
        `${where} has ${key}=${describe(item[key])}, this client implements only ${key}=${JSON.stringify(value)} ` +
          "(the rule of docs/metadata.md).",
      );
    }
  }
  const resizeShorterSide = integer(item, "resize_shorter_side", where);
  const cropSize = integer(item, "crop_size", where);
  if (cropSize <= 0 || resizeShorterSide < cropSize) {
    throw new MetadataError(
      `${where} has resize_shorter_side=${resizeShorterSide} and crop_size=${cropSize}, ` +
        "expected 0 < crop_size <= resize_shorter_side.",
    );
  }
  return { resizeShorterSide, cropSize };
}

function parseFrameRate(root) {
  // Optional: frames per second the model was trained on; absent or null means every frame.
  const value = root.frame_rate;
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new MetadataError(
      `model.json frame_rate must be a positive number of frames per second (or null for every frame), found ${describe(value)}.`,
    );
  }
  return value;
}

/**
 * Parses model.json (its text or the parsed object) into the metadata the client uses, checking
 * everything that can be checked without the model. Throws a MetadataError saying what is wrong.
 */
export function parseMetadata(source) {
  let root = source;
  if (typeof source === "string") {
    try {
      root = JSON.parse(source);
    } catch (error) {
      throw new MetadataError(`model.json is not valid JSON: ${error.message}`);
    }
  }
  object(root, "model.json");
  const version = integer(root, "format_version", "model.json");
  if (version !== FORMAT_VERSION) {
    throw new MetadataError(
      `model.json has format_version ${version}, this client reads format_version ${FORMAT_VERSION}. ` +
        "Re-export the model with a matching tsm_tf version.",
    );
  }
  const numClasses = integer(root, "num_classes", "model.json");
  const labels = list(root, "labels", "model.json");
  labels.forEach((label, index) => {
    if (typeof label !== "string") throw new MetadataError(`model.json labels[${index}] must be a string, found ${describe(label)}.`);
  });
  if (labels.length !== numClasses) {
    throw new MetadataError(`model.json has ${labels.length} labels for num_classes=${numClasses}. Export with one label per class.`);
  }
  const inputObject = object(root.input, "model.json 'input'");
  const input = tensor(inputObject, "name", "model.json 'input'");
  if (inputObject.color !== "RGB") {
    throw new MetadataError(`model.json input color is ${describe(inputObject.color)}, this client feeds "RGB" frames.`);
  }
  const range = inputObject.value_range;
  if (!Array.isArray(range) || range.length !== 2 || range[0] !== 0 || range[1] !== 255) {
    throw new MetadataError(
      `model.json input value_range is ${describe(range)}, this client feeds pixels in [0, 255]. Keep normalization inside the model.`,
    );
  }
  const output = tensor(object(root.output, "model.json 'output'"), "name", "model.json 'output'");
  if (output.shape[output.shape.length - 1] !== numClasses || output.size !== numClasses) {
    throw new MetadataError(
      `model.json output '${output.name}' has shape [${output.shape}], expected num_classes=${numClasses} logits.`,
    );
  }
  const states = list(root, "states", "model.json").map((item, index) => {
    const where = `model.json states[${index}]`;
    object(item, where);
    return {
      input: tensor(item, "input", where),
      output: tensor(item, "output", where),
    };
  });
  for (const [kind, names] of [
    ["input", [input.name, ...states.map((state) => state.input.name)]],
    ["output", [output.name, ...states.map((state) => state.output.name)]],
  ]) {
    const seen = new Set();
    for (const name of names) {
      if (seen.has(name)) throw new MetadataError(`model.json names the ${kind} '${name}' twice; each state needs its own tensors.`);
      seen.add(name);
    }
  }
  const preprocessing = parsePreprocessing(object(root.preprocessing, "model.json 'preprocessing'"));
  const expectedInput = [1, preprocessing.cropSize, preprocessing.cropSize, 3];
  // A clip model's input holds num_segments frames; checkStreaming refuses it with a clearer message.
  if (root.mode === "streaming" && input.shape.join() !== expectedInput.join()) {
    throw new MetadataError(
      `model.json input '${input.name}' has shape [${input.shape}], expected [${expectedInput}] (one RGB frame of crop_size).`,
    );
  }
  return {
    mode: string(root, "mode", "model.json"),
    precision: string(root, "precision", "model.json"),
    numClasses,
    labels: labels.slice(),
    signatureKey: string(root, "signature_key", "model.json"),
    input,
    output,
    states,
    preprocessing,
    frameRate: parseFrameRate(root),
  };
}

/** Throws unless the metadata describes a streaming model (frame in, states carried). */
export function checkStreaming(metadata) {
  if (metadata.mode !== "streaming" || metadata.states.length === 0) {
    throw new MetadataError(
      `model.json describes a '${metadata.mode}' model with ${metadata.states.length} states; the live demo ` +
        'needs a streaming model. Export a uni-directional TSM with tsm_tf.export_tflite(..., mode="streaming").',
    );
  }
}

/**
 * Checks the metadata against the signature the runtime really has: the same input and output
 * names, and for each the same shape and dtype. `signature` is {inputs, outputs}, each a map
 * name -> {shape, dtype}. Throws a MetadataError naming the first tensor that differs.
 */
export function checkSignature(metadata, signature) {
  const expected = {
    input: [metadata.input, ...metadata.states.map((state) => state.input)],
    output: [metadata.output, ...metadata.states.map((state) => state.output)],
  };
  for (const kind of ["input", "output"]) {
    const actual = signature[`${kind}s`];
    const actualNames = Object.keys(actual).sort();
    const expectedNames = expected[kind].map((spec) => spec.name).sort();
    const missing = actualNames.filter((name) => !expectedNames.includes(name));
    const extra = expectedNames.filter((name) => !actualNames.includes(name));
    if (missing.length || extra.length) {
      throw new MetadataError(
        `model.json lists the ${kind}s [${expectedNames.join(", ")}], the model's signature ` +
          `'${metadata.signatureKey}' has [${actualNames.join(", ")}]` +
          (missing.length ? ` (${missing.join(", ")} not in model.json: a missing state?)` : "") +
          ". The metadata does not belong to this model: export model.tflite and model.json together.",
      );
    }
    for (const spec of expected[kind]) {
      const tensorInModel = actual[spec.name];
      if (tensorInModel.shape.join() !== spec.shape.join() || tensorInModel.dtype !== spec.dtype) {
        throw new MetadataError(
          `model.json says ${kind} '${spec.name}' is ${spec.dtype} [${spec.shape}]; the model has ` +
            `${tensorInModel.dtype} [${tensorInModel.shape.join(", ")}]. Export model.tflite and model.json together.`,
        );
      }
    }
  }
}
