package org.tsmtf.demo.core

/**
 * An RGB image, row-major and channels last: pixel (y, x) channel c is
 * `pixels[(y * width + x) * 3 + c]`, an unsigned byte in [0, 255].
 */
class RgbFrame(val width: Int, val height: Int, val pixels: ByteArray) {
    init {
        require(width > 0 && height > 0) { "An RgbFrame needs a positive size, received ${width}x$height." }
        require(pixels.size == width * height * 3) {
            "An RgbFrame of ${width}x$height needs ${width * height * 3} bytes (RGB), received ${pixels.size}."
        }
    }

    /** Channel [channel] of pixel ([y], [x]) as an Int in [0, 255]. */
    fun value(y: Int, x: Int, channel: Int): Int = pixels[(y * width + x) * 3 + channel].toInt() and 0xFF

    /**
     * This frame turned clockwise by [degrees] (0, 90, 180 or 270): CameraX's
     * `ImageInfo.rotationDegrees`, the turn that makes the camera image upright.
     */
    fun rotatedClockwise(degrees: Int): RgbFrame {
        val turn = ((degrees % 360) + 360) % 360
        require(turn % 90 == 0) { "Rotation must be a multiple of 90 degrees, received $degrees." }
        if (turn == 0) return this
        val outWidth = if (turn == 180) width else height
        val outHeight = if (turn == 180) height else width
        val out = ByteArray(pixels.size)
        for (y in 0 until outHeight) {
            for (x in 0 until outWidth) {
                // The source pixel that lands on (y, x) after a clockwise turn.
                val sourceY: Int
                val sourceX: Int
                when (turn) {
                    90 -> { sourceY = height - 1 - x; sourceX = y }
                    180 -> { sourceY = height - 1 - y; sourceX = width - 1 - x }
                    else -> { sourceY = x; sourceX = width - 1 - y }
                }
                System.arraycopy(pixels, (sourceY * width + sourceX) * 3, out, (y * outWidth + x) * 3, 3)
            }
        }
        return RgbFrame(outWidth, outHeight, out)
    }
}
