package org.tsmtf.demo.core

import java.nio.ByteBuffer

/**
 * YUV_420_888 (Android's camera format) to [RgbFrame], full-range BT.601 (JFIF), which is
 * what Android cameras deliver for YUV_420_888.
 *
 * Planes are passed as `ByteBuffer`s with their strides, exactly as `ImageProxy.planes`
 * gives them, so this works for I420, NV12 and NV21 layouts alike (only the strides differ).
 */
object YuvConverter {
    /**
     * Converts one image.
     *
     * @param width image width in pixels.
     * @param height image height in pixels.
     * @param yPlane luma plane; [yRowStride] bytes per row, 1 byte per pixel.
     * @param uPlane chroma U plane, half resolution; [uvRowStride] and [uvPixelStride].
     * @param vPlane chroma V plane, with the same strides as U.
     */
    fun toRgb(
        width: Int,
        height: Int,
        yPlane: ByteBuffer,
        yRowStride: Int,
        uPlane: ByteBuffer,
        vPlane: ByteBuffer,
        uvRowStride: Int,
        uvPixelStride: Int
    ): RgbFrame {
        require(yRowStride >= width) { "yRowStride=$yRowStride is smaller than width=$width." }
        require(uvPixelStride >= 1) { "uvPixelStride must be at least 1, received $uvPixelStride." }
        val out = ByteArray(width * height * 3)
        for (y in 0 until height) {
            val uvRow = (y / 2) * uvRowStride
            for (x in 0 until width) {
                convertPixel(yPlane, y * yRowStride + x, uPlane, vPlane, uvRow + (x / 2) * uvPixelStride, out, (y * width + x) * 3)
            }
        }
        return RgbFrame(width, height, out)
    }

    /** Converts [image] whole (see the other overload). */
    fun toRgb(image: YuvImage): RgbFrame = toRgb(
        image.width, image.height, image.yPlane, image.yRowStride, image.uPlane, image.vPlane,
        image.uvRowStride, image.uvPixelStride
    )

    /** Writes the RGB of the pixel whose luma is at [yIndex] and chroma at [uvIndex] to out[offset..offset+2]. */
    internal fun convertPixel(
        yPlane: ByteBuffer,
        yIndex: Int,
        uPlane: ByteBuffer,
        vPlane: ByteBuffer,
        uvIndex: Int,
        out: ByteArray,
        offset: Int
    ) {
        val luma = (yPlane.get(yIndex).toInt() and 0xFF).toFloat()
        val u = (uPlane.get(uvIndex).toInt() and 0xFF) - 128f
        val v = (vPlane.get(uvIndex).toInt() and 0xFF) - 128f
        out[offset] = clampToByte(luma + 1.402f * v)
        out[offset + 1] = clampToByte(luma - 0.344136f * u - 0.714136f * v)
        out[offset + 2] = clampToByte(luma + 1.772f * u)
    }

    private fun clampToByte(value: Float): Byte {
        val rounded = Math.round(value)
        return (if (rounded < 0) 0 else if (rounded > 255) 255 else rounded).toByte()
    }
}
