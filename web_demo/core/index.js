// The web demo's core: everything but the page wiring and the runtime (see ../README.md).
export { FORMAT_VERSION, MetadataError, checkSignature, checkStreaming, parseMetadata, sizeOf } from "./metadata.js";
export { cropRegion, resizeAndCenterCrop, resizedSize } from "./preprocessing.js";
export { dequantize, quantize, zeroTensor } from "./quantization.js";
export { StateBook } from "./state_book.js";
export { DEFAULT_SMOOTHING_WINDOW, PredictionSmoother, softmax, topK } from "./prediction_smoother.js";
export { FramePacer } from "./frame_pacer.js";
export { StreamingRecognizer } from "./streaming_recognizer.js";
