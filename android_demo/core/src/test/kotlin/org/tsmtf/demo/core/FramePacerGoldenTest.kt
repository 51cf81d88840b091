package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/**
 * The pacer takes the frames Python's `tsm_tf.FramePacer` takes, for the camera timestamps of
 * `pacer.json` (`python -m tsm_tf.cli.pacer_golden`, named by -Dtsm.pacer; written by
 * tests/test_android_core.py): a jittery camera, one faster and one slower than the model's
 * rate, dropped frames, 29.97 fps, and no rate at all.
 */
class FramePacerGoldenTest {
    @Test
    fun takesTheFramesPythonTakes() {
        val path = System.getProperty("tsm.pacer")
            ?: throw AssertionError("No pacer vectors: set -Dtsm.pacer=FILE (tests/test_android_core.py does this).")
        val file = File(path)
        assertTrue("$file is missing: write it with python -m tsm_tf.cli.pacer_golden --output=$file", file.isFile)
        @Suppress("UNCHECKED_CAST")
        val cases = (Json.parse(file.readText()) as Map<String, Any?>)["cases"] as List<Map<String, Any?>>
        val names = cases.map { it["name"] as String }
        assertTrue(names.toString(), names.any { it.startsWith("jittery") } && names.any { it.startsWith("slow") })
        for (case in cases) {
            val pacer = FramePacer(case["frame_rate"] as Double?)
            // Timestamps near 1.2e14 ns are exact in a double (below 2^53).
            val stamps = (case["timestamps_ns"] as List<*>).map { (it as Double).toLong() }
            val expected = (case["chosen"] as List<*>).map { (it as Double).toInt() }
            val chosen = stamps.indices.filter { pacer.accept(stamps[it]) }
            assertEquals("${case["name"]}: chosen frames", expected, chosen)
        }
    }

    @Test
    fun aThirtyFpsCameraAtTenFpsGivesEveryThirdFrame() {
        val pacer = FramePacer(10.0)
        val start = 5_000_000_000L
        val chosen = (0 until 30).filter { pacer.accept(start + it * 1_000_000_000L / 30) }
        assertEquals((0 until 30 step 3).toList(), chosen)
        assertEquals(10.0, pacer.takenRate!!, 1e-6)
        assertFalse(pacer.sourceIsSlower)
        pacer.reset()
        assertTrue("the first frame after a reset is taken", pacer.accept(start))
        assertEquals(1, pacer.taken)
    }

    @Test
    fun aSlowerCameraHasEveryFrameTakenAndSaysSo() {
        val pacer = FramePacer(10.0)
        assertTrue((0 until 16).all { pacer.accept(it * 125_000_000L) })
        assertTrue(pacer.sourceIsSlower)
        assertTrue((0 until 5).all { FramePacer(null).accept(it.toLong()) })
    }
}
