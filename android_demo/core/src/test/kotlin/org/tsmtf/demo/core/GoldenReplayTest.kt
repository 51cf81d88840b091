package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized
import java.io.File
import java.nio.ByteBuffer

/**
 * Replays golden vectors written by Python (`python -m tsm_tf.cli.golden --output_dir DIR`) for a
 * real exported streaming model: raw frames, the exact inputs fed to the TFLite signature at
 * each step, what the interpreter returned, and the Python client's smoothed scores.
 *
 * The directories come from the system property `tsm.golden`, separated by the path separator
 * (tests/test_android_core.py passes a float32 and an int8 set); each is replayed in full.
 * Tensors are compared as stored: float32 values, or the int8 integers of a quantized model.
 */
@RunWith(Parameterized::class)
class GoldenReplayTest(private val directory: File) {
    private val golden = asMap(Json.parse(File(directory, "golden.json").readText()))
    private val metadataText = File(directory, "model.json").readText()
    private val metadata = ModelMetadata.parse(metadataText)
    private val frames = (golden["frames"] as List<*>).map { item ->
        val frame = asMap(item)
        val rgb = frame["rgb"] as List<*>
        RgbFrame(number(frame["width"]), number(frame["height"]), ByteArray(rgb.size) { number(rgb[it]).toByte() })
    }
    private val steps = (golden["steps"] as List<*>).map { asMap(it) }

    private val tensors = (listOf(metadata.input, metadata.output) + metadata.states.flatMap { listOf(it.input, it.output) })
        .associateBy { it.name }

    @Test
    fun theVectorsPairStatesByNameOnlyAndTheirTop1Changes() {
        assertEquals(golden["precision"], metadata.precision)
        for (state in metadata.states) {
            assertTrue("state ${state.input.name} comes out under its own name", state.input.name != state.output.name)
        }
        val outputOrder = asMap(steps[0]["outputs"]).keys.filter { it != metadata.output.name }
        assertTrue("step outputs are stored in the inputs' order", outputOrder != metadata.states.map { it.output.name })
        val top1 = (golden["smoothed"] as List<*>).map { number(asMap(it)["top1"]) }
        assertTrue("the smoothed top-1 never changes: $top1", top1.toSet().size > 1)
    }

    @Test
    fun preprocessingMatchesPythonWithinOneUnit() {
        val preprocessor = FramePreprocessor(metadata.preprocessing)
        val buffer = TensorBuffers.allocate(metadata.input)
        for ((index, frame) in frames.withIndex()) {
            val expected = floats(asMap(steps[index]["inputs"])[metadata.input.name])
            TensorBuffers.write(preprocessor.apply(frame), buffer, metadata.input)
            val actual = stored(buffer, metadata.input)
            assertEquals(expected.size, actual.size)
            val gap = maxGap(expected, actual)
            assertTrue("frame $index: largest gap to Python's model input is $gap (limit 1)", gap <= 1f)
        }
    }

    @Test
    fun replayFeedsTheRecordedInputsByNameAndSmoothsLikePython() {
        val model = ReplayModel()
        val window = number(golden["smoothing_window"])
        val recognizer = StreamingRecognizer(metadata, model, PredictionSmoother(metadata.numClasses, window))
        val smoothed = (golden["smoothed"] as List<*>).map { asMap(it) }
        val resetBefore = golden["reset_before"] as Double?
        var last: Prediction? = null
        for ((index, frame) in frames.withIndex()) {
            if (resetBefore != null && index == resetBefore.toInt()) recognizer.reset()
            val prediction = recognizer.step(frame, k = 3)
            val expectedScores = floats(smoothed[index]["scores"])
            assertTrue(
                "step $index: smoothed scores ${prediction.smoothedScores.toList()} vs Python ${expectedScores.toList()}",
                maxGap(expectedScores, prediction.smoothedScores) <= 1e-5f
            )
            assertEquals("step $index: smoothed top-1", number(smoothed[index]["top1"]), prediction.top[0].index)
            assertEquals(3, prediction.top.size)
            last = prediction
        }
        assertEquals(frames.size, model.stepsRun)
        assertEquals(metadata.labels[number(smoothed.last()["top1"])], last!!.top[0].label)
    }

    @Test
    fun theDefaultSmoothingWindowIsPythons() {
        assertEquals(number(golden["default_smoothing_window"]), PredictionSmoother.DEFAULT_WINDOW)
    }

    @Test
    fun theRealModelWithAStateDroppedFromItsMetadataIsRefused() {
        val root = LinkedHashMap(asMap(Json.parse(metadataText)))
        val states = (root["states"] as List<*>)
        val dropped = asMap(states.last())["input"] as String
        root["states"] = states.subList(0, states.size - 1)
        try {
            StreamingRecognizer(ModelMetadata.fromJson(root), ReplayModel())
            fail("A metadata file without state '$dropped' was accepted")
        } catch (error: MetadataException) {
            val message = error.message ?: ""
            assertTrue(message, message.contains("'$dropped'"))
            assertTrue(message, message.contains("missing state"))
        }
    }

    /** The interpreter as recorded: checks what it is fed, answers what TFLite answered. */
    private inner class ReplayModel : SignatureModel {
        private val signature = asMap(golden["signature"])
        override val inputShapes = shapes(signature["inputs"])
        override val outputShapes = shapes(signature["outputs"])
        var stepsRun = 0

        override fun run(inputs: Map<String, ByteBuffer>, outputs: Map<String, ByteBuffer>) {
            val step = steps[stepsRun]
            val expectedInputs = asMap(step["inputs"])
            assertEquals("step $stepsRun input names", expectedInputs.keys, inputs.keys)
            for ((name, values) in expectedInputs) {
                val expected = floats(values)
                val buffer = inputs.getValue(name)
                assertEquals("step $stepsRun '$name' position", 0, buffer.position())
                val actual = stored(buffer, tensors.getValue(name))
                // The frame may differ by rounding (within 1 unit); states must be fed back exactly.
                val limit = if (name == metadata.input.name) 1f else 0f
                val gap = maxGap(expected, actual)
                assertTrue("step $stepsRun: input '$name' is $gap away from what Python fed", gap <= limit)
            }
            for ((name, values) in asMap(step["outputs"])) {
                val buffer = outputs[name] ?: throw AssertionError("step $stepsRun: no buffer for output '$name'")
                val quantized = tensors.getValue(name).dtype != "float32"
                for ((index, value) in floats(values).withIndex()) {
                    if (quantized) buffer.put(index, value.toInt().toByte()) else buffer.putFloat(index * 4, value)
                }
            }
            stepsRun++
        }
    }

    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun goldenDirectories(): List<File> {
            val paths = System.getProperty("tsm.golden")
                ?: throw AssertionError(
                    "No golden vectors: set -Dtsm.golden=DIR (or DIR1${File.pathSeparator}DIR2), directories " +
                        "written by `python -m tsm_tf.cli.golden --output_dir DIR` (tests/test_android_core.py does this)."
                )
            return paths.split(File.pathSeparator).map { path ->
                val directory = File(path)
                if (!File(directory, "golden.json").isFile || !File(directory, "model.json").isFile) {
                    throw AssertionError("$directory must hold golden.json and model.json from python -m tsm_tf.cli.golden.")
                }
                directory
            }
        }

        /** The tensor's values as stored in [buffer]: floats, or the quantized integers. */
        fun stored(buffer: ByteBuffer, tensor: TensorSpec): FloatArray = FloatArray(tensor.size) { index ->
            when (tensor.dtype) {
                "float32" -> buffer.getFloat(index * 4)
                "uint8" -> (buffer.get(index).toInt() and 0xFF).toFloat()
                else -> buffer.get(index).toFloat()
            }
        }

        @Suppress("UNCHECKED_CAST")
        fun asMap(value: Any?): Map<String, Any?> = value as Map<String, Any?>

        fun number(value: Any?): Int = (value as Double).toInt()

        fun floats(value: Any?): FloatArray {
            val list = value as List<*>
            return FloatArray(list.size) { (list[it] as Double).toFloat() }
        }

        fun shapes(value: Any?): Map<String, IntArray> =
            asMap(value).mapValues { entry -> (entry.value as List<*>).map { number(it) }.toIntArray() }

        fun maxGap(expected: FloatArray, actual: FloatArray): Float {
            var gap = 0f
            for (index in expected.indices) gap = Math.max(gap, Math.abs(expected[index] - actual[index]))
            return gap
        }
    }
}
