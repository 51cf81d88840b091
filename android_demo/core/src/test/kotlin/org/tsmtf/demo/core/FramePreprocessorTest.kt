package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class FramePreprocessorTest {
    @Test
    fun resizedSizeScalesTheShorterSide() {
        assertArrayEquals(intArrayOf(36, 47), FramePreprocessor.resizedSize(40, 52, 36))
        assertArrayEquals(intArrayOf(455, 256), FramePreprocessor.resizedSize(640, 360, 256))
        assertArrayEquals(intArrayOf(256, 341), FramePreprocessor.resizedSize(480, 640, 256))
        assertArrayEquals(intArrayOf(7, 7), FramePreprocessor.resizedSize(3, 3, 7))
    }

    @Test
    fun aFrameOfTheCropSizeIsCopiedExactly() {
        val frame = randomFrame(16, 16, seed = 3)
        val out = FramePreprocessor(Preprocessing(16, 16)).apply(frame)
        for (index in out.indices) assertEquals(frame.pixels[index].toInt() and 0xFF, out[index].toInt())
    }

    @Test
    fun aConstantFrameStaysConstant() {
        val frame = RgbFrame(30, 20, ByteArray(30 * 20 * 3) { (it % 3 * 100 + 17).toByte() })
        val out = FramePreprocessor(Preprocessing(18, 16)).apply(frame)
        for (index in out.indices) assertEquals((index % 3 * 100 + 17).toFloat(), out[index], 1e-4f)
    }

    @Test
    fun upsamplingInterpolatesBetweenHalfPixelCentres() {
        // A 1x2 frame (0 | 100): its shorter side 1 becomes 4, so the resized row is 8 wide and
        // the centre crop keeps columns 2..5, which sample the input at (d + 0.5) * 2 / 8 - 0.5
        // = 0.125, 0.375, 0.625, 0.875 (worked out by hand from docs/metadata.md).
        val frame = RgbFrame(2, 1, byteArrayOf(0, 0, 0, 100, 100, 100))
        val out = FramePreprocessor(Preprocessing(resizeShorterSide = 4, cropSize = 4)).apply(frame)
        val expectedRow = floatArrayOf(12.5f, 37.5f, 62.5f, 87.5f)
        for (y in 0 until 4) for (x in 0 until 4) assertEquals(expectedRow[x], out[(y * 4 + x) * 3], 1e-4f)
    }

    companion object {
        fun randomFrame(width: Int, height: Int, seed: Long): RgbFrame {
            val random = java.util.Random(seed)
            return RgbFrame(width, height, ByteArray(width * height * 3) { random.nextInt(256).toByte() })
        }
    }
}
