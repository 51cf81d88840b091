// The evaluation resize and centre-crop rule of docs/metadata.md, a port of Python's
// tsm_tf.lite.preprocessing.resize_and_center_crop in the same float32 order of operations
// (every step rounded with Math.fround), so the model sees the same values bit for bit.

const f32 = Math.fround;

/**
 * The size [height, width] after scaling the shorter side to `resizeShorterSide`: each side
 * floor(side * scale + 0.5) in double precision, the shorter side exact.
 */
export function resizedSize(height, width, resizeShorterSide) {
  if (!(height > 0 && width > 0)) throw new RangeError(`A frame needs a positive size, received ${width}x${height}.`);
  const shorter = Math.min(height, width);
  const scale = resizeShorterSide / shorter;
  const newHeight = height === shorter ? resizeShorterSide : Math.floor(height * scale + 0.5);
  const newWidth = width === shorter ? resizeShorterSide : Math.floor(width * scale + 0.5);
  return [newHeight, newWidth];
}

/** Source rows (or columns) of the `count` outputs starting at resized index `start`. */
function samplePositions(inSize, outSize, start, count) {
  const scale = f32(inSize / outSize);
  const low = new Int32Array(count);
  const high = new Int32Array(count);
  const lerp = new Float32Array(count);
  for (let index = 0; index < count; index++) {
    let source = f32(f32(f32(start + index + 0.5) * scale) - 0.5);
    source = Math.min(Math.max(source, 0), inSize - 1);
    const floor = Math.floor(source);
    low[index] = floor;
    high[index] = Math.min(floor + 1, inSize - 1);
    lerp[index] = f32(source - floor);
  }
  return { low, high, lerp };
}

/**
 * The region of the frame the model sees, in frame pixels: {top, left, height, width} of the
 * centre crop mapped back through the resize (for drawing it over the video).
 */
export function cropRegion(height, width, preprocessing) {
  const [resizedHeight, resizedWidth] = resizedSize(height, width, preprocessing.resizeShorterSide);
  const { cropSize } = preprocessing;
  const top = Math.floor((resizedHeight - cropSize) / 2);
  const left = Math.floor((resizedWidth - cropSize) / 2);
  const scaleY = height / resizedHeight;
  const scaleX = width / resizedWidth;
  return { top: top * scaleY, left: left * scaleX, height: cropSize * scaleY, width: cropSize * scaleX };
}

/**
 * Resizes and centre-crops one frame into `out` (cropSize * cropSize * 3 float32 values in
 * [0, 255], row-major, channels last, not rounded) and returns `out`.
 *
 * @param pixels the frame, row-major; RGB (channels = 3) or RGBA as canvas getImageData gives (channels = 4).
 * @param height frame height.
 * @param width frame width.
 * @param channels 3 or 4 values per pixel; the first three are R, G, B.
 * @param preprocessing {resizeShorterSide, cropSize} from the metadata.
 */
export function resizeAndCenterCrop(pixels, height, width, channels, preprocessing, out) {
  const { cropSize, resizeShorterSide } = preprocessing;
  if (pixels.length !== height * width * channels) {
    throw new RangeError(`A ${width}x${height} frame with ${channels} channels holds ${height * width * channels} values, received ${pixels.length}.`);
  }
  out = out ?? new Float32Array(cropSize * cropSize * 3);
  if (out.length !== cropSize * cropSize * 3) throw new RangeError(`The output needs ${cropSize * cropSize * 3} floats, received ${out.length}.`);
  const [resizedHeight, resizedWidth] = resizedSize(height, width, resizeShorterSide);
  const rows = samplePositions(height, resizedHeight, Math.floor((resizedHeight - cropSize) / 2), cropSize);
  const columns = samplePositions(width, resizedWidth, Math.floor((resizedWidth - cropSize) / 2), cropSize);
  for (let y = 0; y < cropSize; y++) {
    const lowRow = rows.low[y] * width;
    const highRow = rows.high[y] * width;
    const yLerp = rows.lerp[y];
    for (let x = 0; x < cropSize; x++) {
      const xLow = columns.low[x];
      const xHigh = columns.high[x];
      const xLerp = columns.lerp[x];
      const offset = (y * cropSize + x) * 3;
      for (let channel = 0; channel < 3; channel++) {
        const topLeft = pixels[(lowRow + xLow) * channels + channel];
        const topRight = pixels[(lowRow + xHigh) * channels + channel];
        const bottomLeft = pixels[(highRow + xLow) * channels + channel];
        const bottomRight = pixels[(highRow + xHigh) * channels + channel];
        const top = f32(topLeft + f32(f32(topRight - topLeft) * xLerp));
        const bottom = f32(bottomLeft + f32(f32(bottomRight - bottomLeft) * xLerp));
        out[offset + channel] = f32(top + f32(f32(bottom - top) * yLerp));
      }
    }
  }
  return out;
}
