package org.tsmtf.demo.core

import java.nio.ByteBuffer
import java.util.Random

/**
 * Per-frame cost of turning a 640x480 YUV_420_888 camera frame (NV21 layout, rotated 90
 * degrees as on a portrait phone) into the model input: the full conversion, rotation and
 * FramePreprocessor (the app before) against YuvCropPreprocessor (after), alternately in one
 * run so that a busy machine slows both alike. Run with android_demo/core/benchmark.sh.
 */
object ConversionBenchmark {
    @JvmStatic
    fun main(args: Array<String>) {
        val rounds = if (args.isNotEmpty()) args[0].toInt() else 5
        val framesPerRound = if (args.size > 1) args[1].toInt() else 40
        val image = cameraFrame(640, 480)
        for (preprocessing in listOf(Preprocessing(36, 32), Preprocessing(256, 224))) {
            val full = FramePreprocessor(preprocessing)
            val crop = YuvCropPreprocessor(preprocessing)
            val out = FloatArray(preprocessing.cropSize * preprocessing.cropSize * 3)
            val before = ArrayList<Double>()
            val after = ArrayList<Double>()
            var sink = 0f
            repeat(rounds + 1) { round ->
                val start = System.nanoTime()
                repeat(framesPerRound) { full.apply(YuvConverter.toRgb(image).rotatedClockwise(90), out); sink += out[0] }
                val middle = System.nanoTime()
                repeat(framesPerRound) { crop.apply(image, 90, out); sink += out[0] }
                val end = System.nanoTime()
                if (round > 0) { // round 0 warms up the JIT
                    before.add((middle - start) / 1e6 / framesPerRound)
                    after.add((end - middle) / 1e6 / framesPerRound)
                }
            }
            val medianBefore = before.sorted()[before.size / 2]
            val medianAfter = after.sorted()[after.size / 2]
            println(
                "640x480, crop ${preprocessing.cropSize} (resize ${preprocessing.resizeShorterSide}): " +
                    "full conversion + rotation + resize %.2f ms/frame, crop-only %.3f ms/frame, %.1fx; "
                        .format(medianBefore, medianAfter, medianBefore / medianAfter) +
                    "${crop.convertedPixels(640, 480, 90)} of ${640 * 480} pixels converted " +
                    "(medians of $rounds rounds of $framesPerRound frames; checksum $sink)"
            )
        }
    }

    private fun cameraFrame(width: Int, height: Int): YuvImage {
        val random = Random(1)
        val y = ByteBuffer.allocateDirect(width * height)
        for (index in 0 until width * height) y.put(index, random.nextInt(256).toByte())
        val chroma = ByteBuffer.allocateDirect(width * height / 2)
        for (index in 0 until width * height / 2) chroma.put(index, random.nextInt(256).toByte())
        chroma.position(1)
        val u = chroma.slice()
        chroma.position(0)
        return YuvImage(width, height, y, width, u, chroma, width, 2)
    }
}
