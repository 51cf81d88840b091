package org.tsmtf.demo.core

import java.nio.ByteBuffer

/**
 * Streams frames through the exported streaming model: preprocessing by the metadata's rule,
 * the shift states carried by name, and smoothed top-k predictions. Everything here is plain
 * Kotlin; the interpreter is behind [SignatureModel].
 *
 * Frames from a camera go through [offer]: [pacer] keeps those the model's `frame_rate` asks
 * for, by timestamp, and the crop-only YUV conversion ([YuvCropPreprocessor]) prepares them.
 *
 * A failed step (the model's `run` throws) is dropped whole: the states and the smoothing
 * history stay as the last good frame left them, so the next frame continues the stream.
 *
 * Not thread-safe: call [offer], [step] and [reset] from one thread (the app's analysis executor).
 *
 * @param metadata the parsed model.json; must describe a streaming model.
 * @param model the interpreter's signature named by `metadata.signatureKey`.
 * @param smoother the prediction smoother (default: the Python `StreamingClassifier` rule).
 * @throws MetadataException if the model is not a streaming model or its signature differs
 *     from the metadata (a missing state, a different shape).
 */
class StreamingRecognizer(
    val metadata: ModelMetadata,
    private val model: SignatureModel,
    private val smoother: PredictionSmoother = PredictionSmoother(metadata.numClasses)
) {
    private val preprocessor = FramePreprocessor(metadata.preprocessing)
    private val yuvPreprocessor = YuvCropPreprocessor(metadata.preprocessing)

    /** Picks camera frames at the model's frame rate (every frame when model.json has none). */
    val pacer = FramePacer(metadata.frameRate)
    private val pixels = FloatArray(metadata.input.size)
    private val frameBuffer = TensorBuffers.allocate(metadata.input)
    private val logitsBuffer = TensorBuffers.allocate(metadata.output)
    private val states = StateBook(metadata.states)
    private val inputs: Map<String, ByteBuffer>
    private val outputs: Map<String, ByteBuffer>

    init {
        if (metadata.mode != "streaming" || metadata.states.isEmpty()) {
            throw MetadataException(
                "model.json describes a '${metadata.mode}' model with ${metadata.states.size} states; " +
                    "the live demo needs a streaming model. Export with mode=\"streaming\"."
            )
        }
        metadata.checkSignature(model.inputShapes, model.outputShapes)
        inputs = LinkedHashMap<String, ByteBuffer>().apply {
            put(metadata.input.name, frameBuffer)
            putAll(states.inputs)
        }
        outputs = LinkedHashMap<String, ByteBuffer>().apply {
            put(metadata.output.name, logitsBuffer)
            putAll(states.outputs)
        }
    }

    /**
     * Runs the camera [image] captured at [timestampNanos] if [pacer] takes it, turned upright
     * by [rotationDegrees]; returns the smoothed top [k], or null for a frame skipped to keep
     * the model's frame rate.
     */
    fun offer(image: YuvImage, rotationDegrees: Int, timestampNanos: Long, k: Int = 3): Prediction? {
        if (!pacer.accept(timestampNanos)) return null
        return step(image, rotationDegrees, k)
    }

    /** Runs one camera image (YUV_420_888, turned upright by [rotationDegrees]); the smoothed top [k]. */
    fun step(image: YuvImage, rotationDegrees: Int, k: Int = 3): Prediction {
        yuvPreprocessor.apply(image, rotationDegrees, pixels)
        return runModel(k)
    }

    /** Runs one camera frame (upright RGB, any size) and returns the smoothed top [k]. */
    fun step(frame: RgbFrame, k: Int = 3): Prediction {
        preprocessor.apply(frame, pixels)
        return runModel(k)
    }

    private fun runModel(k: Int): Prediction {
        TensorBuffers.write(pixels, frameBuffer, metadata.input)
        for (buffer in inputs.values) TensorBuffers.rewind(buffer)
        for (buffer in outputs.values) TensorBuffers.rewind(buffer)
        model.run(inputs, outputs)
        states.advance()
        val logits = TensorBuffers.read(logitsBuffer, metadata.output)
        val smoothed = smoother.update(logits)
        return Prediction(topK(smoothed, metadata.labels, k), smoothed, logits)
    }

    /** Starts a new stream: zero states, an empty smoothing history, the pacer restarted. */
    fun reset() {
        states.reset()
        smoother.reset()
        pacer.reset()
    }
}
