package org.tsmtf.demo.core

/**
 * Picks camera frames by timestamp at the frame rate the model expects (model.json's
 * `frame_rate`, docs/metadata.md), so the model sees motion at the speed it was trained on
 * whatever rate the camera delivers or the device can run. The same choices as Python's
 * `tsm_tf.FramePacer` for the same timestamps, in the same integer arithmetic (checked
 * against golden sequences written by Python).
 *
 * Not thread-safe: call it from the thread that runs the model.
 *
 * @param frameRate frames per second, or null to take every frame.
 */
class FramePacer(val frameRate: Double?) {
    /** Nanoseconds between frames: `floor(1e9 / frameRate + 0.5)`; 0 when every frame is taken. */
    val periodNanos: Long

    /** How early a frame may come and still count: a quarter period. */
    val toleranceNanos: Long

    private var nextDue = NONE
    private var firstTaken = NONE
    private var lastTaken = NONE
    private var firstOffered = NONE
    private var lastOffered = NONE

    /** Frames offered since the last [reset]. */
    var offered = 0
        private set

    /** Frames taken since the last [reset]. */
    var taken = 0
        private set

    init {
        if (frameRate != null) {
            require(!frameRate.isNaN() && frameRate > 0.0 && frameRate <= 1000.0) {
                "frameRate must be frames per second in (0, 1000] or null, received $frameRate."
            }
        }
        periodNanos = if (frameRate == null) 0L else Math.floor(1e9 / frameRate + 0.5).toLong()
        toleranceNanos = periodNanos / 4
    }

    /**
     * Whether to run the frame the camera captured at [timestampNanos] (for example
     * `ImageProxy.imageInfo.timestamp`). A clock that goes back restarts the schedule.
     */
    fun accept(timestampNanos: Long): Boolean {
        if (lastTaken != NONE && timestampNanos < lastTaken) nextDue = NONE
        val take = frameRate == null || nextDue == NONE || timestampNanos >= nextDue - toleranceNanos
        if (take && frameRate != null) {
            nextDue = if (nextDue == NONE) {
                timestampNanos + periodNanos
            } else {
                Math.max(nextDue, timestampNanos - toleranceNanos) + periodNanos
            }
        }
        offered += 1
        if (firstOffered == NONE) firstOffered = timestampNanos
        lastOffered = timestampNanos
        if (take) {
            taken += 1
            if (firstTaken == NONE) firstTaken = timestampNanos
            lastTaken = timestampNanos
        }
        return take
    }

    /** Frames per second taken since the last [reset], or null before two frames. */
    val takenRate: Double? get() = rate(taken, firstTaken, lastTaken)

    /** Frames per second offered since the last [reset], or null before two frames. */
    val offeredRate: Double? get() = rate(offered, firstOffered, lastOffered)

    /** Whether the camera delivers frames slower than the model's rate (every frame is taken). */
    val sourceIsSlower: Boolean
        get() {
            val offeredNow = offeredRate
            return frameRate != null && offeredNow != null && offeredNow < frameRate
        }

    /** Starts a new stream: the next frame is taken and restarts the schedule. */
    fun reset() {
        nextDue = NONE
        firstTaken = NONE
        lastTaken = NONE
        firstOffered = NONE
        lastOffered = NONE
        offered = 0
        taken = 0
    }

    private fun rate(count: Int, first: Long, last: Long): Double? =
        if (count < 2 || first == NONE || last <= first) null else (count - 1) * 1e9 / (last - first)

    private companion object {
        // Camera clocks (boot-time nanoseconds) never reach it.
        const val NONE = Long.MIN_VALUE
    }
}
