package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File
import java.nio.ByteBuffer

/**
 * Replays golden vectors written by Python (`python -m tsm_tf.cli.golden --output_dir DIR`) for a
 * real exported streaming model: raw frames, the exact inputs fed to the TFLite signature at
 * each step, what the interpreter returned, and the Python client's smoothed scores.
 *
 * The directory comes from the system property `tsm.golden` (tests/test_android_core.py sets it).
 */
class GoldenReplayTest {
    private val directory = goldenDirectory()
    private val golden = asMap(Json.parse(File(directory, "golden.json").readText()))
    private val metadataText = File(directory, "model.json").readText()
    private val metadata = ModelMetadata.parse(metadataText)
    private val frames = (golden["frames"] as List<*>).map { item ->
        val frame = asMap(item)
        val rgb = frame["rgb"] as List<*>
        RgbFrame(number(frame["width"]), number(frame["height"]), ByteArray(rgb.size) { number(rgb[it]).toByte() })
    }
    private val steps = (golden["steps"] as List<*>).map { asMap(it) }

    @Test
    fun preprocessingMatchesPythonWithinOneUnit() {
        val preprocessor = FramePreprocessor(metadata.preprocessing)
        for ((index, frame) in frames.withIndex()) {
            val expected = floats(asMap(steps[index]["inputs"])[metadata.input.name])
            val actual = preprocessor.apply(frame)
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
                val actual = FloatArray(expected.size) { buffer.getFloat(it * 4) }
                // The frame may differ by rounding (within 1 unit); states must be fed back exactly.
                val limit = if (name == metadata.input.name) 1f else 0f
                val gap = maxGap(expected, actual)
                assertTrue("step $stepsRun: input '$name' is $gap away from what Python fed", gap <= limit)
            }
            for ((name, values) in asMap(step["outputs"])) {
                val buffer = outputs[name] ?: throw AssertionError("step $stepsRun: no buffer for output '$name'")
                for ((index, value) in floats(values).withIndex()) buffer.putFloat(index * 4, value)
            }
            stepsRun++
        }
    }

    companion object {
        fun goldenDirectory(): File {
            val path = System.getProperty("tsm.golden")
                ?: throw AssertionError(
                    "No golden vectors: set -Dtsm.golden=DIR, a directory written by " +
                        "`python -m tsm_tf.cli.golden --output_dir DIR` (tests/test_android_core.py does this)."
                )
            val directory = File(path)
            if (!File(directory, "golden.json").isFile || !File(directory, "model.json").isFile) {
                throw AssertionError("$directory must hold golden.json and model.json from python -m tsm_tf.cli.golden.")
            }
            return directory
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
