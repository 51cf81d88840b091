package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class ModelLoadTest {
    @Test
    fun anErrorWhileLoadingIsAFailedLoadWithAMessage() {
        // The interpreter's own native library missing: an Error, which once ended the process.
        val outcome = ModelLoad.attempt<String> {
            GpuFallback.open(false, { "gpu" }, { throw UnsatisfiedLinkError("libtensorflowlite_jni.so not found") }).model
        }
        assertNull(outcome.session)
        assertEquals("Could not load the model: libtensorflowlite_jni.so not found", outcome.failure)
        assertTrue(outcome.error is UnsatisfiedLinkError)
    }

    @Test
    fun aMissingModelSaysHowToAddOne() {
        val outcome = ModelLoad.attempt<String> { throw MissingModelException("model.tflite missing: export one") }
        assertNull(outcome.session)
        assertEquals("model.tflite missing: export one", outcome.failure)
    }

    @Test
    fun aLoadedModelIsTheSession() {
        val outcome = ModelLoad.attempt { "session" }
        assertEquals("session", outcome.session)
        assertNull(outcome.failure)
        assertNull(outcome.error)
    }
}
