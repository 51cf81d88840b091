package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import java.nio.ByteBuffer
import java.util.Random

/**
 * The crop-only conversion gives exactly what the full conversion, rotation and
 * FramePreprocessor give (today's path in the app), on the golden frames (40x52) and a
 * 64x48 frame, for every rotation, with I420 (padded rows) and NV21 (interleaved) planes.
 */
class YuvCropPreprocessorTest {
    private val preprocessings = listOf(Preprocessing(36, 32), Preprocessing(18, 16), Preprocessing(256, 224))

    @Test
    fun equalsTheFullConversionOnTheGoldenFrames() {
        val frames = goldenFrames() + listOf(FramePreprocessorTest.randomFrame(64, 48, 7))
        assertTrue("no golden frames", frames.size > 1)
        for (frame in frames) {
            for (layout in listOf("I420", "NV21")) {
                val image = encode(frame, layout)
                for (preprocessing in preprocessings) {
                    val cropper = YuvCropPreprocessor(preprocessing)
                    for (rotation in listOf(0, 90, 180, 270, -90)) {
                        val expected = FramePreprocessor(preprocessing)
                            .apply(YuvConverter.toRgb(image).rotatedClockwise(rotation))
                        val actual = cropper.apply(image, rotation)
                        val where = "${frame.width}x${frame.height} $layout crop ${preprocessing.cropSize} rotation $rotation"
                        assertEquals(where, expected.size, actual.size)
                        for (index in expected.indices) {
                            if (expected[index].toRawBits() != actual[index].toRawBits()) {
                                throw AssertionError("$where: value $index is ${actual[index]}, expected ${expected[index]}")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    fun readsOnlyTheNeededPixelsAndEachOfThemCounts() {
        val frame = FramePreprocessorTest.randomFrame(640, 480, 3)
        val image = encode(frame, "NV21")
        val cropper = YuvCropPreprocessor(Preprocessing(36, 32))
        val before = cropper.apply(image, 90).copyOf()
        assertTrue(cropper.convertedPixels(640, 480, 90) < 640 * 480 / 50)
        // A sensor pixel the crop never reads (a corner: the crop is central) changes nothing...
        image.yPlane.put(0, (image.yPlane.get(0) + 77).toByte())
        assertEquals(before.toList(), cropper.apply(image, 90).toList())
        // ...while a central block (wider than the ~13-pixel step between sampled rows) moves it
        // far beyond rounding.
        for (y in 225 until 255) for (x in 305 until 335) {
            val index = y * image.yRowStride + x
            image.yPlane.put(index, (image.yPlane.get(index) + 100).toByte())
        }
        val after = cropper.apply(image, 90)
        var largest = 0f
        for (index in before.indices) largest = Math.max(largest, Math.abs(before[index] - after[index]))
        assertTrue("a changed central pixel moved the output by only $largest", largest > 5f)
    }

    companion object {
        fun goldenFrames(): List<RgbFrame> {
            // The first golden set's raw frames (every set holds the same frames).
            val path = (System.getProperty("tsm.golden") ?: throw AssertionError("Set -Dtsm.golden=DIR."))
                .split(File.pathSeparator).first()
            @Suppress("UNCHECKED_CAST")
            val golden = Json.parse(File(path, "golden.json").readText()) as Map<String, Any?>
            return (golden["frames"] as List<*>).map { item ->
                @Suppress("UNCHECKED_CAST")
                val frame = item as Map<String, Any?>
                val rgb = frame["rgb"] as List<*>
                RgbFrame(
                    (frame["width"] as Double).toInt(), (frame["height"] as Double).toInt(),
                    ByteArray(rgb.size) { ((rgb[it] as Double).toInt()).toByte() }
                )
            }
        }

        /**
         * [frame] as a camera would deliver it (full-range BT.601; chroma of the top-left pixel
         * of each 2x2 block, with a random offset so chroma matters): "I420" with rows padded
         * to a larger stride, or "NV21" with V and U interleaved (pixel stride 2).
         */
        fun encode(frame: RgbFrame, layout: String): YuvImage {
            val width = frame.width
            val height = frame.height
            val yStride = width + 5
            val chromaWidth = (width + 1) / 2
            val chromaHeight = (height + 1) / 2
            val random = Random(11)
            val yPlane = ByteBuffer.allocateDirect(yStride * height)
            for (y in 0 until height) for (x in 0 until width) {
                val luma = 0.299 * frame.value(y, x, 0) + 0.587 * frame.value(y, x, 1) + 0.114 * frame.value(y, x, 2)
                yPlane.put(y * yStride + x, clamp(luma).toByte())
            }
            fun chroma(y: Int, x: Int, red: Boolean): Byte {
                val r = frame.value(y * 2, x * 2, 0)
                val g = frame.value(y * 2, x * 2, 1)
                val b = frame.value(y * 2, x * 2, 2)
                val value = if (red) 128 + 0.5 * r - 0.418688 * g - 0.081312 * b else 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
                return clamp(value + random.nextInt(9) - 4).toByte()
            }
            return if (layout == "I420") {
                val uvStride = chromaWidth + 3
                val u = ByteBuffer.allocateDirect(uvStride * chromaHeight)
                val v = ByteBuffer.allocateDirect(uvStride * chromaHeight)
                for (y in 0 until chromaHeight) for (x in 0 until chromaWidth) {
                    u.put(y * uvStride + x, chroma(y, x, false))
                    v.put(y * uvStride + x, chroma(y, x, true))
                }
                YuvImage(width, height, yPlane, yStride, u, v, uvStride, 1)
            } else {
                val uvStride = chromaWidth * 2
                val interleaved = ByteBuffer.allocateDirect(uvStride * chromaHeight + 1)
                for (y in 0 until chromaHeight) for (x in 0 until chromaWidth) {
                    interleaved.put(y * uvStride + 2 * x, chroma(y, x, true))
                    interleaved.put(y * uvStride + 2 * x + 1, chroma(y, x, false))
                }
                // NV21: V first; U is the same memory one byte on, as Android's planes are.
                interleaved.position(1)
                val u = interleaved.slice()
                interleaved.position(0)
                YuvImage(width, height, yPlane, yStride, u, interleaved, uvStride, 2)
            }
        }

        private fun clamp(value: Double): Int = Math.max(0, Math.min(255, Math.round(value).toInt()))
    }
}
