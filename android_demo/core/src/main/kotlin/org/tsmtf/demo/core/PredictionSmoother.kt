package org.tsmtf.demo.core

import java.util.ArrayDeque

/**
 * Smooths per-frame predictions over the last [historySize] frames (PLACEHOLDER rule until
 * mirrored from Python's StreamingClassifier).
 */
class PredictionSmoother(private val numClasses: Int, val historySize: Int = 12) {
    private val history = ArrayDeque<FloatArray>()

    init {
        require(historySize >= 1) { "historySize must be at least 1, received $historySize." }
    }

    /** Adds one frame's [logits] and returns the smoothed class scores. */
    fun update(logits: FloatArray): FloatArray {
        require(logits.size == numClasses) { "Expected $numClasses logits, received ${logits.size}." }
        history.addLast(logits.copyOf())
        while (history.size > historySize) history.removeFirst()
        val mean = FloatArray(numClasses)
        for (entry in history) for (index in mean.indices) mean[index] += entry[index] / history.size
        return softmax(mean)
    }

    /** Forgets the history. */
    fun reset() = history.clear()
}

/** Numerically stable softmax. */
fun softmax(logits: FloatArray): FloatArray {
    var maximum = Float.NEGATIVE_INFINITY
    for (value in logits) if (value > maximum) maximum = value
    val out = FloatArray(logits.size)
    var total = 0.0
    for (index in logits.indices) {
        val exponent = Math.exp((logits[index] - maximum).toDouble())
        out[index] = exponent.toFloat()
        total += exponent
    }
    for (index in out.indices) out[index] = (out[index] / total).toFloat()
    return out
}
