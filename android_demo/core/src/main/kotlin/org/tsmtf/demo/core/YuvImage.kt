package org.tsmtf.demo.core

import java.nio.ByteBuffer

/**
 * A YUV_420_888 camera image as `ImageProxy.planes` gives it: the three planes with their
 * strides (I420, NV12 and NV21 layouts differ only in the strides). Chroma is half
 * resolution; U and V share [uvRowStride] and [uvPixelStride].
 */
class YuvImage(
    val width: Int,
    val height: Int,
    val yPlane: ByteBuffer,
    val yRowStride: Int,
    val uPlane: ByteBuffer,
    val vPlane: ByteBuffer,
    val uvRowStride: Int,
    val uvPixelStride: Int
) {
    init {
        require(width > 0 && height > 0) { "A YuvImage needs a positive size, received ${width}x$height." }
        require(yRowStride >= width) { "yRowStride=$yRowStride is smaller than width=$width." }
        require(uvPixelStride >= 1) { "uvPixelStride must be at least 1, received $uvPixelStride." }
    }
}
