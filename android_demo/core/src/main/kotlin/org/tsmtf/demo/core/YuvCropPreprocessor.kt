package org.tsmtf.demo.core

/**
 * Camera image to model input in one pass: the same floats as
 * `FramePreprocessor.apply(YuvConverter.toRgb(image).rotatedClockwise(rotation))`, bit for
 * bit, but only the pixels the bilinear resize of the centre crop reads are converted from
 * YUV, into buffers kept from frame to frame. For a 640x480 camera and a 224 crop that is
 * about half the frame; for a small model's crop a few thousand pixels.
 *
 * Not thread-safe: one instance per analysis thread.
 */
class YuvCropPreprocessor(private val preprocessing: Preprocessing) {
    /** Side of the square output. */
    val cropSize: Int get() = preprocessing.cropSize

    private var plan: Plan? = null
    private var grid = ByteArray(0)

    /**
     * Resizes and crops the upright ([rotationDegrees] clockwise, CameraX's
     * `ImageInfo.rotationDegrees`) [image] into [out], `cropSize * cropSize * 3` floats in
     * [0, 255], row-major, channels last (RGB). Returns [out].
     */
    fun apply(image: YuvImage, rotationDegrees: Int, out: FloatArray = FloatArray(cropSize * cropSize * 3)): FloatArray {
        require(out.size == cropSize * cropSize * 3) {
            "The output needs ${cropSize * cropSize * 3} floats (${cropSize}x${cropSize}x3), received ${out.size}."
        }
        val turn = ((rotationDegrees % 360) + 360) % 360
        require(turn % 90 == 0) { "Rotation must be a multiple of 90 degrees, received $rotationDegrees." }
        val plan = planFor(image.width, image.height, turn)
        convertGrid(image, plan)
        val columnsNeeded = plan.columns.size
        for (y in 0 until cropSize) {
            val lowRow = plan.rowLow[y] * columnsNeeded
            val highRow = plan.rowHigh[y] * columnsNeeded
            val yLerp = plan.rowLerp[y]
            for (x in 0 until cropSize) {
                val xLow = plan.columnLow[x]
                val xHigh = plan.columnHigh[x]
                val xLerp = plan.columnLerp[x]
                val offset = (y * cropSize + x) * 3
                for (channel in 0 until 3) {
                    // The arithmetic of FramePreprocessor.apply, in the same order.
                    val topLeft = value(lowRow + xLow, channel)
                    val topRight = value(lowRow + xHigh, channel)
                    val bottomLeft = value(highRow + xLow, channel)
                    val bottomRight = value(highRow + xHigh, channel)
                    val topValue = topLeft + (topRight - topLeft) * xLerp
                    val bottomValue = bottomLeft + (bottomRight - bottomLeft) * xLerp
                    out[offset + channel] = topValue + (bottomValue - topValue) * yLerp
                }
            }
        }
        return out
    }

    /** How many pixels [apply] converts for an image of this size. */
    fun convertedPixels(width: Int, height: Int, rotationDegrees: Int): Int {
        val plan = planFor(width, height, ((rotationDegrees % 360) + 360) % 360)
        return plan.rows.size * plan.columns.size
    }

    private fun value(cell: Int, channel: Int): Float = (grid[cell * 3 + channel].toInt() and 0xFF).toFloat()

    /** Converts the needed upright rows x columns into [grid], reading each from the sensor image. */
    private fun convertGrid(image: YuvImage, plan: Plan) {
        val height = image.height
        val width = image.width
        var cell = 0
        for (row in plan.rows) {
            for (column in plan.columns) {
                // The sensor pixel that lands on upright (row, column): RgbFrame.rotatedClockwise.
                val sensorY: Int
                val sensorX: Int
                when (plan.turn) {
                    0 -> { sensorY = row; sensorX = column }
                    90 -> { sensorY = height - 1 - column; sensorX = row }
                    180 -> { sensorY = height - 1 - row; sensorX = width - 1 - column }
                    else -> { sensorY = column; sensorX = width - 1 - row }
                }
                YuvConverter.convertPixel(
                    image.yPlane, sensorY * image.yRowStride + sensorX,
                    image.uPlane, image.vPlane, (sensorY / 2) * image.uvRowStride + (sensorX / 2) * image.uvPixelStride,
                    grid, cell * 3
                )
                cell += 1
            }
        }
    }

    private class Plan(
        val width: Int,
        val height: Int,
        val turn: Int,
        val rows: IntArray,
        val columns: IntArray,
        val rowLow: IntArray,
        val rowHigh: IntArray,
        val rowLerp: FloatArray,
        val columnLow: IntArray,
        val columnHigh: IntArray,
        val columnLerp: FloatArray
    )

    /** The sampling plan for one camera size and rotation, kept while they stay the same. */
    private fun planFor(width: Int, height: Int, turn: Int): Plan {
        val current = plan
        if (current != null && current.width == width && current.height == height && current.turn == turn) return current
        val uprightHeight = if (turn == 90 || turn == 270) width else height
        val uprightWidth = if (turn == 90 || turn == 270) height else width
        val resized = FramePreprocessor.resizedSize(uprightHeight, uprightWidth, preprocessing.resizeShorterSide)
        val rows = FramePreprocessor.samplePositions(uprightHeight, resized[0], (resized[0] - cropSize) / 2, cropSize)
        val columns = FramePreprocessor.samplePositions(uprightWidth, resized[1], (resized[1] - cropSize) / 2, cropSize)
        val neededRows = needed(rows, uprightHeight)
        val neededColumns = needed(columns, uprightWidth)
        val made = Plan(
            width, height, turn, neededRows.first, neededColumns.first,
            slots(rows.low, neededRows.second), slots(rows.high, neededRows.second), rows.lerp,
            slots(columns.low, neededColumns.second), slots(columns.high, neededColumns.second), columns.lerp
        )
        val cells = made.rows.size * made.columns.size * 3
        if (grid.size != cells) grid = ByteArray(cells)
        plan = made
        return made
    }

    /** The sorted distinct indices the positions read, and each index's slot among them. */
    private fun needed(positions: FramePreprocessor.Positions, size: Int): Pair<IntArray, IntArray> {
        val used = BooleanArray(size)
        for (index in positions.low) used[index] = true
        for (index in positions.high) used[index] = true
        val slot = IntArray(size) { -1 }
        var count = 0
        for (index in 0 until size) if (used[index]) slot[index] = count++
        val indices = IntArray(count)
        for (index in 0 until size) if (used[index]) indices[slot[index]] = index
        return Pair(indices, slot)
    }

    private fun slots(indices: IntArray, slot: IntArray): IntArray = IntArray(indices.size) { slot[indices[it]] }
}
