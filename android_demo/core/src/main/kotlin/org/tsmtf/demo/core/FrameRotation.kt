package org.tsmtf.demo.core

/**
 * The clockwise turn a camera frame needs to stand upright for a device (or its display) turned
 * from its natural orientation, the rule CameraX applies (`CameraOrientationUtil.
 * getRelativeImageRotation`, which `ImageInfo.rotationDegrees` and
 * `CameraInfo.getSensorRotationDegrees(rotation)` report).
 */
object FrameRotation {
    /** `Surface.ROTATION_0` to `ROTATION_270` (0 to 3) in degrees, as CameraX converts them. */
    @JvmStatic
    fun surfaceRotationDegrees(surfaceRotation: Int): Int {
        require(surfaceRotation in 0..3) {
            "A Surface rotation is 0 to 3 (ROTATION_0 to ROTATION_270), received $surfaceRotation."
        }
        return surfaceRotation * 90
    }

    /**
     * Degrees to turn a frame clockwise so that it is upright for a device turned
     * [rotationDegrees] counter-clockwise from its natural orientation (`Display.getRotation()`
     * or `RotationProvider`, in degrees), from a sensor mounted at [sensorOrientationDegrees]
     * (`CameraInfo.getSensorRotationDegrees()`). A back camera faces away from the screen, so
     * the device's turn is subtracted; a front camera's mirror adds it.
     */
    @JvmStatic
    fun clockwiseTurn(sensorOrientationDegrees: Int, rotationDegrees: Int, backCamera: Boolean): Int {
        for ((name, value) in listOf("sensorOrientationDegrees" to sensorOrientationDegrees, "rotationDegrees" to rotationDegrees)) {
            require(value in 0..270 && value % 90 == 0) { "$name must be 0, 90, 180 or 270, received $value." }
        }
        return if (backCamera) {
            (sensorOrientationDegrees - rotationDegrees + 360) % 360
        } else {
            (sensorOrientationDegrees + rotationDegrees) % 360
        }
    }

    /** `[width, height]` of a [width] x [height] frame turned clockwise by [clockwiseDegrees]. */
    @JvmStatic
    fun turnedSize(width: Int, height: Int, clockwiseDegrees: Int): IntArray =
        if (clockwiseDegrees % 180 == 0) intArrayOf(width, height) else intArrayOf(height, width)

    /**
     * The size a [frameWidth] x [frameHeight] camera frame has as the preview shows it on a
     * display turned [displayRotationDegrees]: PreviewView keeps the picture upright for the
     * display, which is not the frame's turn for the model when the device is held otherwise
     * (auto-rotate off, or a locked orientation).
     */
    @JvmStatic
    fun shownSize(
        frameWidth: Int,
        frameHeight: Int,
        sensorOrientationDegrees: Int,
        displayRotationDegrees: Int,
        backCamera: Boolean
    ): IntArray = turnedSize(
        frameWidth, frameHeight, clockwiseTurn(sensorOrientationDegrees, displayRotationDegrees, backCamera)
    )
}
