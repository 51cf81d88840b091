package org.tsmtf.demo.core

/**
 * The evaluation resize and centre-crop rule of docs/metadata.md, a port of Python's
 * `tsm_tf.lite.preprocessing.resize_and_center_crop` in the same float32 order of operations.
 *
 * Only the crop window of the resized image is computed, so the cost depends on the crop
 * size, not on the camera resolution.
 */
class FramePreprocessor(private val preprocessing: Preprocessing) {
    /** Side of the square output. */
    val cropSize: Int get() = preprocessing.cropSize

    /**
     * Resizes and crops [frame] into [out], `cropSize * cropSize * 3` floats in [0, 255],
     * row-major, channels last (RGB), not rounded. Returns [out].
     */
    fun apply(frame: RgbFrame, out: FloatArray = FloatArray(cropSize * cropSize * 3)): FloatArray {
        require(out.size == cropSize * cropSize * 3) {
            "The output needs ${cropSize * cropSize * 3} floats (${cropSize}x${cropSize}x3), received ${out.size}."
        }
        val resized = resizedSize(frame.height, frame.width, preprocessing.resizeShorterSide)
        val top = (resized[0] - cropSize) / 2
        val left = (resized[1] - cropSize) / 2
        val rows = samplePositions(frame.height, resized[0], top)
        val columns = samplePositions(frame.width, resized[1], left)
        for (y in 0 until cropSize) {
            val low = rows.low[y]
            val high = rows.high[y]
            val yLerp = rows.lerp[y]
            for (x in 0 until cropSize) {
                val xLow = columns.low[x]
                val xHigh = columns.high[x]
                val xLerp = columns.lerp[x]
                val offset = (y * cropSize + x) * 3
                for (channel in 0 until 3) {
                    val topLeft = frame.value(low, xLow, channel).toFloat()
                    val topRight = frame.value(low, xHigh, channel).toFloat()
                    val bottomLeft = frame.value(high, xLow, channel).toFloat()
                    val bottomRight = frame.value(high, xHigh, channel).toFloat()
                    val topValue = topLeft + (topRight - topLeft) * xLerp
                    val bottomValue = bottomLeft + (bottomRight - bottomLeft) * xLerp
                    out[offset + channel] = topValue + (bottomValue - topValue) * yLerp
                }
            }
        }
        return out
    }

    /** Source rows (or columns) of the crop: the two neighbours and the weight of the second. */
    internal class Positions(val low: IntArray, val high: IntArray, val lerp: FloatArray)

    /** Source rows (or columns) for the [cropSize] outputs starting at resized index [start]. */
    private fun samplePositions(inSize: Int, outSize: Int, start: Int): Positions =
        samplePositions(inSize, outSize, start, cropSize)

    companion object {
        /**
         * The size `[height, width]` after scaling the shorter side to [resizeShorterSide]:
         * each side `floor(side * scale + 0.5)` in double precision, the shorter side exact.
         */
        @JvmStatic
        fun resizedSize(height: Int, width: Int, resizeShorterSide: Int): IntArray {
            require(height > 0 && width > 0) { "A frame needs a positive size, received ${width}x$height." }
            val shorter = Math.min(height, width)
            val scale = resizeShorterSide.toDouble() / shorter
            val newHeight = if (height == shorter) resizeShorterSide else Math.floor(height * scale + 0.5).toInt()
            val newWidth = if (width == shorter) resizeShorterSide else Math.floor(width * scale + 0.5).toInt()
            return intArrayOf(newHeight, newWidth)
        }

        /**
         * Rows (or columns) of an input of [inSize] sampled by the [cropSize] outputs that start
         * at index [start] of the resized size [outSize] (half-pixel centres, float32).
         */
        internal fun samplePositions(inSize: Int, outSize: Int, start: Int, cropSize: Int): Positions {
            val scale = inSize.toFloat() / outSize.toFloat()
            val low = IntArray(cropSize)
            val high = IntArray(cropSize)
            val lerp = FloatArray(cropSize)
            for (index in 0 until cropSize) {
                var source = ((start + index).toFloat() + 0.5f) * scale - 0.5f
                source = Math.min(Math.max(source, 0f), (inSize - 1).toFloat())
                val floor = Math.floor(source.toDouble()).toInt()
                low[index] = floor
                high[index] = Math.min(floor + 1, inSize - 1)
                lerp[index] = source - floor.toFloat()
            }
            return Positions(low, high, lerp)
        }
    }
}
