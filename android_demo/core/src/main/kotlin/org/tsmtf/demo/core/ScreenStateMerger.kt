package org.tsmtf.demo.core

/**
 * Builds each [ScreenState] from the last one it built, on the one thread that calls it (the
 * app's analysis thread), never from what the main thread last received: that lags behind
 * and skips the states LiveData collapsed. Each method returns the complete new state to post.
 */
class ScreenStateMerger {
    /** The state built last. */
    var current: ScreenState = ScreenState.EMPTY
        private set

    /** A model is loaded: no predictions or statistics yet; [gpuNote] says why not on the GPU. */
    fun modelLoaded(gpuNote: String?, preprocessing: Preprocessing): ScreenState =
        replace(predictions = "", stats = "", note = gpuNote, frameSize = null, preprocessing = preprocessing)

    /** No model could be loaded: [message] takes the predictions' place. */
    fun modelFailed(message: String): ScreenState =
        replace(predictions = message, stats = "", note = null, frameSize = null, preprocessing = null)

    /** A frame was classified; the note (a GPU fallback, earlier failures) stays. */
    fun framePredicted(predictions: String, stats: String, frameWidth: Int, frameHeight: Int): ScreenState =
        replace(predictions = predictions, stats = stats, frameSize = intArrayOf(frameWidth, frameHeight))

    /** A frame's inference failed: [note] says so; the last predictions stay. */
    fun inferenceFailed(note: String): ScreenState = replace(note = note)

    /** The camera cannot stream ([problem]), or streams again (null). */
    fun cameraProblem(problem: String?): ScreenState = replace(cameraProblem = problem)

    private fun replace(
        predictions: String = current.predictions,
        stats: String = current.stats,
        note: String? = current.note,
        cameraProblem: String? = current.cameraProblem,
        frameSize: IntArray? = current.frameSize,
        preprocessing: Preprocessing? = current.preprocessing
    ): ScreenState {
        current = ScreenState(predictions, stats, note, cameraProblem, frameSize, preprocessing)
        return current
    }
}
