package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test
import java.nio.ByteBuffer

class RgbFrameTest {
    /** A frame whose red channel numbers the pixels 0..5 row by row (2 rows, 3 columns). */
    private val frame = RgbFrame(3, 2, ByteArray(18) { if (it % 3 == 0) (it / 3).toByte() else 0 })

    private fun reds(frame: RgbFrame): List<Int> =
        (0 until frame.height).flatMap { y -> (0 until frame.width).map { x -> frame.value(y, x, 0) } }

    @Test
    fun rotatesClockwise() {
        // 0 1 2        90: 3 0     180: 5 4 3     270: 2 5
        // 3 4 5            4 1          2 1 0          1 4
        //                  5 2                         0 3
        val quarter = frame.rotatedClockwise(90)
        assertEquals(2, quarter.width)
        assertEquals(3, quarter.height)
        assertEquals(listOf(3, 0, 4, 1, 5, 2), reds(quarter))
        assertEquals(listOf(5, 4, 3, 2, 1, 0), reds(frame.rotatedClockwise(180)))
        assertEquals(listOf(2, 5, 1, 4, 0, 3), reds(frame.rotatedClockwise(270)))
        assertArrayEquals(frame.pixels, frame.rotatedClockwise(90).rotatedClockwise(270).pixels)
    }

    @Test(expected = IllegalArgumentException::class)
    fun rejectsAWrongPixelCount() {
        RgbFrame(2, 2, ByteArray(11))
    }

    @Test
    fun convertsYuvWithNeutralChromaToGray() {
        val width = 4
        val height = 2
        val y = ByteBuffer.wrap(ByteArray(6 * height) { (it * 20).toByte() }) // row stride 6
        val u = ByteBuffer.wrap(ByteArray(4) { 128.toByte() })
        val v = ByteBuffer.wrap(ByteArray(4) { 128.toByte() })
        val rgb = YuvConverter.toRgb(width, height, y, 6, u, v, uvRowStride = 4, uvPixelStride = 2)
        for (row in 0 until height) for (column in 0 until width) for (channel in 0 until 3) {
            assertEquals((row * 6 + column) * 20 and 0xFF, rgb.value(row, column, channel))
        }
    }

    @Test
    fun convertsSaturatedColoursWithFullRangeBt601() {
        // (Y, U, V) = (76, 85, 255) is pure red and (29, 255, 107) pure blue in JFIF YUV.
        val y = ByteBuffer.wrap(byteArrayOf(76, 76, 29, 29))
        val u = ByteBuffer.wrap(byteArrayOf(85, 255.toByte()))
        val v = ByteBuffer.wrap(byteArrayOf(255.toByte(), 107))
        val rgb = YuvConverter.toRgb(4, 1, y, 4, u, v, uvRowStride = 2, uvPixelStride = 1)
        assertEquals(listOf(254, 0, 0), (0 until 3).map { rgb.value(0, 0, it) })
        assertEquals(listOf(0, 0, 254), (0 until 3).map { rgb.value(0, 3, it) })
    }
}
