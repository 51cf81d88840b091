package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class GpuFallbackTest {
    private val cpuModel = "cpu"

    @Test
    fun aGpuLibraryThatDoesNotLoadFallsBackToTheCpu() {
        // LiteRT's CompatibilityList constructor throws this where the delegate's library is missing.
        val opened = GpuFallback.open(
            true,
            { throw UnsatisfiedLinkError("dlopen failed: library \"libtensorflowlite_gpu_jni.so\" not found") },
            { cpuModel }
        )
        assertEquals(cpuModel, opened.model)
        assertTrue(opened.gpuNote!!, opened.gpuNote.startsWith("GPU delegate unavailable (dlopen failed"))
    }

    @Test
    fun aFailingOrUnsupportedGpuFallsBackAndSaysWhy() {
        val failed = GpuFallback.open(true, { throw IllegalArgumentException("Failed to apply delegate") }, { cpuModel })
        assertEquals(cpuModel, failed.model)
        assertEquals("GPU delegate failed (Failed to apply delegate): running on the CPU.", failed.gpuNote)
        val unsupported = GpuFallback.open<String>(true, { null }, { cpuModel })
        assertEquals("GPU not supported on this device: running on the CPU.", unsupported.gpuNote)
    }

    @Test
    fun theGpuIsTouchedOnlyWhenAskedFor() {
        val onGpu = GpuFallback.open(true, { "gpu" }, { throw AssertionError("the CPU was opened too") })
        assertEquals("gpu", onGpu.model)
        assertNull(onGpu.gpuNote)
        val onCpu = GpuFallback.open(false, { throw AssertionError("the GPU was touched") }, { cpuModel })
        assertEquals(cpuModel, onCpu.model)
        assertNull(onCpu.gpuNote)
    }
}
