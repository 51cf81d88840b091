package org.tsmtf.demo.core

import java.util.ArrayDeque

/**
 * Prediction smoothing as Python's `tsm_tf.StreamingClassifier` (and the TSM paper's online
 * demo): the displayed scores are the softmax of the mean logits of the last [window] frames,
 * which steadies the label while an action unfolds. `window = 1` shows each frame's own scores.
 *
 * @param numClasses logits per frame.
 * @param window how many recent frames' logits to average (Python's `smoothing_window`).
 */
class PredictionSmoother(private val numClasses: Int, val window: Int = DEFAULT_WINDOW) {
    private val history = ArrayDeque<FloatArray>()

    init {
        require(window >= 1) { "window must be at least 1 (1 turns smoothing off), received $window." }
    }

    /** Adds one frame's [logits] and returns the smoothed class probabilities. */
    fun update(logits: FloatArray): FloatArray {
        require(logits.size == numClasses) { "Expected $numClasses logits, received ${logits.size}." }
        history.addLast(logits.copyOf())
        while (history.size > window) history.removeFirst()
        // float32 sum then one division, in the order NumPy's mean over axis 0 uses.
        val mean = FloatArray(numClasses)
        for (entry in history) for (index in mean.indices) mean[index] += entry[index]
        for (index in mean.indices) mean[index] /= history.size.toFloat()
        return softmax(mean)
    }

    /** Forgets the history: the start of a new stream. */
    fun reset() = history.clear()

    companion object {
        /** The TSM online demo's window, and Python's default. */
        const val DEFAULT_WINDOW = 12
    }
}

/** Numerically stable softmax. */
fun softmax(logits: FloatArray): FloatArray {
    var maximum = Float.NEGATIVE_INFINITY
    for (value in logits) if (value > maximum) maximum = value
    val out = FloatArray(logits.size)
    var total = 0f
    for (index in logits.indices) {
        out[index] = Math.exp((logits[index] - maximum).toDouble()).toFloat()
        total += out[index]
    }
    for (index in out.indices) out[index] /= total
    return out
}
