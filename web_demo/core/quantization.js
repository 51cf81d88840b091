// Tensor values by dtype and quantization (docs/metadata.md): real = scale * (q - zero_point),
// q = clamp(floor(real / scale + 0.5) + zero_point), in float32 as NumPy computes it.

import { arrayTypeOf } from "./metadata.js";

const f32 = Math.fround;
const LIMITS = { int8: [-128, 127], uint8: [0, 255] };

/** A typed array holding the tensor's zero: 0, or its zero point when quantized. */
export function zeroTensor(spec) {
  const values = new (arrayTypeOf(spec.dtype, spec.name))(spec.size);
  if (spec.dtype !== "float32" && spec.quantization) values.fill(spec.quantization.zeroPoint);
  return values;
}

/** Real values (a Float32Array) stored as the tensor's dtype, quantized when it is quantized. */
export function quantize(values, spec, out) {
  if (values.length !== spec.size) throw new RangeError(`Tensor '${spec.name}' holds ${spec.size} values, received ${values.length}.`);
  out = out ?? new (arrayTypeOf(spec.dtype, spec.name))(spec.size);
  if (spec.dtype === "float32") {
    out.set(values);
    return out;
  }
  const { scale, zeroPoint } = spec.quantization ?? { scale: 1, zeroPoint: 0 };
  const scale32 = f32(scale);
  const [low, high] = LIMITS[spec.dtype];
  for (let index = 0; index < values.length; index++) {
    const stored = Math.floor(f32(f32(values[index] / scale32) + 0.5)) + zeroPoint;
    out[index] = Math.min(Math.max(stored, low), high);
  }
  return out;
}

/** The tensor's stored values as real float32 values, dequantized when quantized. */
export function dequantize(values, spec) {
  if (spec.dtype === "float32") return Float32Array.from(values);
  const { scale, zeroPoint } = spec.quantization ?? { scale: 1, zeroPoint: 0 };
  const scale32 = f32(scale);
  const out = new Float32Array(values.length);
  for (let index = 0; index < values.length; index++) out[index] = f32(f32(values[index] - zeroPoint) * scale32);
  return out;
}
