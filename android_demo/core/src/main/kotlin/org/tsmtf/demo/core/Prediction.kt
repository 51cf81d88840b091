package org.tsmtf.demo.core

/** One class and its (smoothed) probability. */
data class ScoredLabel(val index: Int, val label: String, val score: Float)

/** The result of one frame: the top classes by smoothed score, and this frame's raw logits. */
class Prediction(val top: List<ScoredLabel>, val smoothedScores: FloatArray, val logits: FloatArray)

/** The [k] highest [scores] with their labels, best first; ties keep the lower index first. */
fun topK(scores: FloatArray, labels: List<String>, k: Int): List<ScoredLabel> {
    val order = scores.indices.sortedWith(Comparator { a, b ->
        if (scores[a] != scores[b]) java.lang.Float.compare(scores[b], scores[a]) else a - b
    })
    return order.take(k).map { ScoredLabel(it, labels[it], scores[it]) }
}
