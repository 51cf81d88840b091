package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class PredictionSmootherTest {
    @Test
    fun softmaxOfTheMeanLogitsOverTheWindow() {
        val smoother = PredictionSmoother(numClasses = 2, window = 2)
        // Frame 1 alone: softmax(0, ln 3) = (1/4, 3/4).
        assertArrayEquals(floatArrayOf(0.25f, 0.75f), smoother.update(floatArrayOf(0f, Math.log(3.0).toFloat())), 1e-6f)
        // Frames 1-2: mean (1, ln 3) -> softmax = (e / (e + 3), 3 / (e + 3)).
        val e = Math.E.toFloat()
        assertArrayEquals(
            floatArrayOf(e / (e + 3), 3 / (e + 3)),
            smoother.update(floatArrayOf(2f, Math.log(3.0).toFloat())), 1e-6f
        )
        // Frames 2-3 (frame 1 left the window): mean (2, 0).
        val expected = softmax(floatArrayOf(2f, 0f))
        assertArrayEquals(expected, smoother.update(floatArrayOf(2f, -Math.log(3.0).toFloat())), 1e-6f)
    }

    @Test
    fun resetForgetsTheHistory() {
        val smoother = PredictionSmoother(numClasses = 3)
        smoother.update(floatArrayOf(10f, 0f, 0f))
        smoother.reset()
        val scores = smoother.update(floatArrayOf(0f, 0f, 5f))
        assertArrayEquals(softmax(floatArrayOf(0f, 0f, 5f)), scores, 0f)
        assertEquals(2, topK(scores, listOf("a", "b", "c"), 1).single().index)
    }

    @Test
    fun topKIsBestFirstWithStableTies() {
        val top = topK(floatArrayOf(0.2f, 0.5f, 0.2f, 0.1f), listOf("a", "b", "c", "d"), 3)
        assertEquals(listOf("b", "a", "c"), top.map { it.label })
    }
}
