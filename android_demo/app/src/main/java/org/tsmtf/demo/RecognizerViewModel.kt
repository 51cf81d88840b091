package org.tsmtf.demo

import android.app.Application
import android.os.SystemClock
import android.util.Log
import androidx.camera.core.ImageProxy
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.LiveData
import androidx.lifecycle.MutableLiveData
import org.tsmtf.demo.core.ModelLoad
import org.tsmtf.demo.core.ScreenState
import org.tsmtf.demo.core.ScreenStateMerger
import org.tsmtf.demo.core.YuvImage
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * The model session and the one thread that touches it, kept across rotations and other
 * configuration changes (the activity is recreated, this is not). Every frame, every
 * reload, every screen state and the final close run on [analysisExecutor], so no frame
 * reaches a closed session and each state is built from the last one built.
 */
class RecognizerViewModel(application: Application) : AndroidViewModel(application) {
    /** The thread CameraX delivers frames on and the only one that touches [session]. */
    val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private val mutableState = MutableLiveData<ScreenState>()

    /** The latest screen state, complete (see core's ScreenStateMerger). */
    val state: LiveData<ScreenState> get() = mutableState

    // Analysis thread only, below.
    private var session: RecognizerSession? = null
    private val screen = ScreenStateMerger()
    private var lastFrameNanos = 0L
    private var fps = 0.0
    private var failures = 0

    /** The settings the session was last asked for (main thread). */
    var numThreads = 2
        private set
    var useGpu = false
        private set
    private var opened = false

    /** Loads the model once per ViewModel; a recreated activity finds it loaded. */
    fun openOnce() {
        if (!opened) reopen(numThreads, useGpu)
    }

    /** (Re)loads the model with [threads] and the GPU setting, off the main thread. */
    fun reopen(threads: Int, gpu: Boolean) {
        opened = true
        numThreads = threads
        useGpu = gpu
        analysisExecutor.execute {
            closeSession()
            // Any throwable, an Error included, is a failed load on screen (core's ModelLoad).
            val outcome = ModelLoad.attempt { RecognizerSession.open(getApplication<Application>().assets, threads, gpu) }
            val loaded = outcome.session
            if (loaded != null) {
                session = loaded
                publish(screen.modelLoaded(loaded.gpuNote, loaded.recognizer.metadata.preprocessing))
            } else {
                Log.e(TAG, "Could not load the model", outcome.error)
                publish(screen.modelFailed(outcome.failure ?: "Could not load the model."))
            }
        }
    }

    /** Shows why the camera does not stream ([problem]), or clears it (null). Any thread. */
    fun reportCamera(problem: String?) = analysisExecutor.execute { publish(screen.cameraProblem(problem)) }

    /** Starts the stream again: zero states, empty smoothing, the frame pacer restarted. */
    fun resetStream() = analysisExecutor.execute { session?.recognizer?.reset() }

    /** Runs on the analysis thread for each frame the camera delivers (older ones are dropped). */
    fun analyze(image: ImageProxy) {
        image.use {
            val current = session ?: return
            // Upright for the device as it is held: MainActivity keeps the use case's target
            // rotation at the device's physical rotation (RotationProvider).
            val rotation = image.imageInfo.rotationDegrees
            val start = SystemClock.elapsedRealtimeNanos()
            val prediction = try {
                current.recognizer.offer(image.toYuvImage(), rotation, image.imageInfo.timestamp, k = 3)
            } catch (error: Exception) {
                // The frame is dropped; the recognizer keeps its states and goes on with the next.
                failures += 1
                Log.e(TAG, "Inference failed", error)
                publish(screen.inferenceFailed("Inference failed ($failures so far): ${error.message}. Still running."))
                return
            } ?: return // skipped to keep the model's frame rate
            val frameMillis = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
            if (lastFrameNanos != 0L) {
                val instant = 1e9 / (start - lastFrameNanos)
                fps = if (fps == 0.0) instant else 0.9 * fps + 0.1 * instant
            }
            lastFrameNanos = start
            val metadata = current.recognizer.metadata
            val pacer = current.recognizer.pacer
            val rate = when {
                metadata.frameRate == null -> "every frame"
                pacer.sourceIsSlower -> "camera slower than the model's %.0f fps".format(metadata.frameRate)
                else -> "paced at %.0f fps".format(metadata.frameRate)
            }
            val application = getApplication<Application>()
            val labels = prediction.top.joinToString("\n") { "%-20s %5.1f%%".format(it.label, 100 * it.score) }
            val backend = application.getString(if (current.model.hasGpuDelegate) R.string.backend_gpu_delegate else R.string.backend_cpu)
            val stats = application.getString(
                R.string.stats, fps, current.model.lastRunMillis, frameMillis, current.model.numThreads, backend, rate
            )
            publish(screen.framePredicted(labels, stats, image.width, image.height))
        }
    }

    /** Posts a complete state: LiveData may drop all but the latest, which holds everything. */
    private fun publish(state: ScreenState) = mutableState.postValue(state)

    private fun closeSession() {
        val current = session ?: return
        session = null
        try {
            current.close()
        } catch (error: Exception) {
            Log.e(TAG, "Closing the interpreter failed", error)
        }
    }

    override fun onCleared() {
        analysisExecutor.execute { closeSession() }
        analysisExecutor.shutdown()
    }

    private fun ImageProxy.toYuvImage(): YuvImage {
        val (y, u, v) = planes
        return YuvImage(width, height, y.buffer, y.rowStride, u.buffer, v.buffer, u.rowStride, u.pixelStride)
    }

    private companion object {
        const val TAG = "TsmDemo"
    }
}
