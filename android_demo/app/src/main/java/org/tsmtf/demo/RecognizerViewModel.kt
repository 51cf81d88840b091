package org.tsmtf.demo

import android.app.Application
import android.os.SystemClock
import android.util.Log
import androidx.camera.core.ImageProxy
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.LiveData
import androidx.lifecycle.MutableLiveData
import org.tsmtf.demo.core.CropRegion
import org.tsmtf.demo.core.YuvImage
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/** What the screen shows; posted from the analysis thread. */
class ScreenState(
    val predictions: String,
    val stats: String,
    /** A GPU fallback, an inference failure or a missing model; null when all is well. */
    val note: String?,
    /** The model's crop in the upright camera image, `[left, top, right, bottom]` in [0, 1]. */
    val cropRegion: FloatArray?,
    /** The upright camera image's size, `[width, height]`, for drawing [cropRegion]. */
    val imageSize: IntArray?
)

/**
 * The model session and the one thread that touches it, kept across rotations and other
 * configuration changes (the activity is recreated, this is not). Every frame, every
 * reload and the final close run on [analysisExecutor], so no frame reaches a closed session.
 */
class RecognizerViewModel(application: Application) : AndroidViewModel(application) {
    /** The thread CameraX delivers frames on and the only one that touches [session]. */
    val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private val mutableState = MutableLiveData<ScreenState>()

    /** The latest screen state. */
    val state: LiveData<ScreenState> get() = mutableState

    // Analysis thread only, below.
    private var session: RecognizerSession? = null
    private var lastNote: String? = null
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
            try {
                val loaded = RecognizerSession.open(getApplication<Application>().assets, threads, gpu)
                session = loaded
                lastNote = loaded.gpuNote
                post("", "", loaded.gpuNote, null, null)
            } catch (error: MissingModelException) {
                post(error.message ?: "", "", null, null, null)
            } catch (error: Exception) {
                Log.e(TAG, "Could not load the model", error)
                post("Could not load the model: ${error.message}", "", null, null, null)
            }
        }
    }

    /** Starts the stream again: zero states, empty smoothing, the frame pacer restarted. */
    fun resetStream() = analysisExecutor.execute { session?.recognizer?.reset() }

    /** Runs on the analysis thread for each frame the camera delivers (older ones are dropped). */
    fun analyze(image: ImageProxy) {
        image.use {
            val current = session ?: return
            val rotation = image.imageInfo.rotationDegrees
            val start = SystemClock.elapsedRealtimeNanos()
            val prediction = try {
                current.recognizer.offer(image.toYuvImage(), rotation, image.imageInfo.timestamp, k = 3)
            } catch (error: Exception) {
                // The frame is dropped; the recognizer keeps its states and goes on with the next.
                failures += 1
                Log.e(TAG, "Inference failed", error)
                lastNote = "Inference failed ($failures so far): ${error.message}. Still running."
                post(null, null, lastNote, null, null)
                return
            } ?: return // skipped to keep the model's frame rate
            val frameMillis = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
            if (lastFrameNanos != 0L) {
                val instant = 1e9 / (start - lastFrameNanos)
                fps = if (fps == 0.0) instant else 0.9 * fps + 0.1 * instant
            }
            lastFrameNanos = start
            val upright = if (rotation % 180 == 0) intArrayOf(image.width, image.height) else intArrayOf(image.height, image.width)
            val metadata = current.recognizer.metadata
            val pacer = current.recognizer.pacer
            val rate = when {
                metadata.frameRate == null -> "every frame"
                pacer.sourceIsSlower -> "camera slower than the model's %.0f fps".format(metadata.frameRate)
                else -> "paced at %.0f fps".format(metadata.frameRate)
            }
            val labels = prediction.top.joinToString("\n") { "%-20s %5.1f%%".format(it.label, 100 * it.score) }
            val stats = getApplication<Application>().getString(
                R.string.stats, fps, current.model.lastRunMillis, frameMillis, current.model.numThreads,
                if (current.model.usesGpu) " · GPU" else "", rate
            )
            post(labels, stats, lastNote, CropRegion.normalized(upright[0], upright[1], metadata.preprocessing), upright)
        }
    }

    private fun post(predictions: String?, stats: String?, note: String?, region: FloatArray?, size: IntArray?) {
        val previous = mutableState.value
        mutableState.postValue(
            ScreenState(
                predictions ?: previous?.predictions ?: "",
                stats ?: previous?.stats ?: "",
                note,
                region ?: previous?.cropRegion,
                size ?: previous?.imageSize
            )
        )
    }

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
