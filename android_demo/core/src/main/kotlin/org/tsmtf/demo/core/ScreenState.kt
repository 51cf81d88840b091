package org.tsmtf.demo.core

/**
 * Everything the screen shows, whole: each state replaces the last, so states that arrive
 * collapsed (LiveData's `postValue` keeps only the latest) lose nothing.
 */
class ScreenState(
    val predictions: String,
    val stats: String,
    /** A GPU fallback or an inference failure; null when all is well. */
    val note: String?,
    /** Why the camera does not stream (permission denied, failed to open), or null. */
    val cameraProblem: String?,
    /** The last analysed frame's size as the camera delivered it (before any turn), or null. */
    val frameSize: IntArray?,
    /** The model's resize and crop rule, for drawing where it looks, or null before a model. */
    val preprocessing: Preprocessing?
) {
    companion object {
        @JvmField
        val EMPTY = ScreenState("", "", null, null, null, null)
    }
}
