package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.nio.ByteBuffer

/** A model whose `run` throws leaves the recognizer usable: the failed frame is dropped whole. */
class RecognizerErrorTest {
    /**
     * A stand-in interpreter with a visible state: logits are (frame mean, state_00[0], 0), each
     * step adds 1 to state_00 and the frame mean to state_01. When [failNext] is set, it
     * scribbles over every output (as a run that dies half way may) and throws.
     */
    private class FlakyModel : SignatureModel {
        override val inputShapes = TestMetadata.signatureInputs()
        override val outputShapes = TestMetadata.signatureOutputs()
        var failNext = false

        override fun run(inputs: Map<String, ByteBuffer>, outputs: Map<String, ByteBuffer>) {
            if (failNext) {
                failNext = false
                for (buffer in outputs.values) while (buffer.remaining() >= 4) buffer.putFloat(-999f)
                throw IllegalStateException("delegate lost")
            }
            val frame = inputs.getValue("frame")
            var sum = 0f
            for (index in 0 until 16 * 16 * 3) sum += frame.getFloat(index * 4)
            val mean = sum / (16 * 16 * 3)
            val stateIn = inputs.getValue("state_00")
            val stateOut = outputs.getValue("state_00")
            for (index in 0 until 8 * 8 * 2) stateOut.putFloat(index * 4, stateIn.getFloat(index * 4) + 1f)
            val otherIn = inputs.getValue("state_01")
            val otherOut = outputs.getValue("state_01")
            for (index in 0 until 4 * 4 * 3) otherOut.putFloat(index * 4, otherIn.getFloat(index * 4) + mean)
            val logits = outputs.getValue("logits")
            logits.putFloat(0, mean / 255f).putFloat(4, stateIn.getFloat(0)).putFloat(8, otherIn.getFloat(0) / 255f)
        }
    }

    @Test
    fun aFailedRunLeavesStatesAndHistoryAsTheLastGoodFrameLeftThem() {
        val metadata = ModelMetadata.parse(TestMetadata.json())
        val frames = (0 until 4).map { FramePreprocessorTest.randomFrame(20, 24, it.toLong()) }
        val flaky = FlakyModel()
        val recognizer = StreamingRecognizer(metadata, flaky, PredictionSmoother(3, 2))
        val clean = StreamingRecognizer(metadata, FlakyModel(), PredictionSmoother(3, 2))

        val results = ArrayList<Prediction>()
        results.add(recognizer.step(frames[0]))
        flaky.failNext = true
        try {
            recognizer.step(frames[1])
            fail("the model's exception was swallowed")
        } catch (error: IllegalStateException) {
            assertEquals("delegate lost", error.message)
        }
        for (frame in frames.subList(1, 4)) results.add(recognizer.step(frame))

        val expected = frames.map { clean.step(it) }
        for (index in expected.indices) {
            assertEquals("step $index logits", expected[index].logits.toList(), results[index].logits.toList())
            assertEquals("step $index scores", expected[index].smoothedScores.toList(), results[index].smoothedScores.toList())
        }
        // Sensitive: had the failed step advanced the states, state_00 would read one more.
        assertEquals(3f, results[3].logits[1])
        assertTrue(results.none { prediction -> prediction.logits.any { it == -999f } })
    }
}
