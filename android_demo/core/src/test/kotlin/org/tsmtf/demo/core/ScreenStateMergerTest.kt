package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class ScreenStateMergerTest {
    private val preprocessing = Preprocessing(36, 32)

    @Test
    fun statesBuiltInARowKeepEveryFieldWhenOnlyTheLastIsDelivered() {
        // LiveData.postValue keeps only the latest of states posted in a row: it must hold all.
        val merger = ScreenStateMerger()
        merger.modelLoaded("GPU not supported on this device: running on the CPU.", preprocessing)
        merger.framePredicted("walking 80.0%", "10.0 FPS", 640, 480)
        val last = merger.inferenceFailed("Inference failed (1 so far): lost. Still running.")
        assertEquals("walking 80.0%", last.predictions)
        assertEquals("10.0 FPS", last.stats)
        assertEquals("Inference failed (1 so far): lost. Still running.", last.note)
        assertArrayEquals(intArrayOf(640, 480), last.frameSize)
        assertEquals(preprocessing, last.preprocessing)
        assertEquals(last, merger.current)
    }

    @Test
    fun aGpuNoteStaysWhileFramesArrive() {
        val merger = ScreenStateMerger()
        merger.modelLoaded("GPU delegate failed (x): running on the CPU.", preprocessing)
        val state = merger.framePredicted("a", "b", 4, 3)
        assertEquals("GPU delegate failed (x): running on the CPU.", state.note)
    }

    @Test
    fun aCameraProblemOutlivesLaterStatesUntilTheCameraStreams() {
        val merger = ScreenStateMerger()
        merger.cameraProblem("The camera permission is needed.")
        // The model finishing its load after the denial once blanked the message.
        assertEquals("The camera permission is needed.", merger.modelLoaded(null, preprocessing).cameraProblem)
        assertEquals("The camera permission is needed.", merger.modelFailed("Could not load the model: x").cameraProblem)
        assertEquals(null, merger.cameraProblem(null).cameraProblem)
        assertEquals("Could not load the model: x", merger.current.predictions)
    }

    @Test
    fun aReloadClearsTheLastModelsPredictions() {
        val merger = ScreenStateMerger()
        merger.modelLoaded(null, preprocessing)
        merger.framePredicted("old", "old stats", 640, 480)
        val reloaded = merger.modelLoaded(null, Preprocessing(256, 224))
        assertEquals("", reloaded.predictions)
        assertEquals("", reloaded.stats)
        assertEquals(null, reloaded.frameSize)
        assertEquals(Preprocessing(256, 224), reloaded.preprocessing)
    }
}
