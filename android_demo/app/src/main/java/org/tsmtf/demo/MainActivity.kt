package org.tsmtf.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.util.Size
import android.widget.Button
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.appcompat.widget.SwitchCompat
import androidx.camera.core.CameraSelector
import androidx.camera.core.CameraState
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.tsmtf.demo.core.RgbFrame
import org.tsmtf.demo.core.YuvConverter
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Camera preview plus live recognition. The UI thread only binds the camera and shows text;
 * loading the model, converting frames and inference all run on [analysisExecutor], the one
 * thread that touches the [RecognizerSession].
 */
class MainActivity : AppCompatActivity() {
    private val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private var session: RecognizerSession? = null // analysis thread only
    private var numThreads = 2
    private var useGpu = false
    private var lastFrameNanos = 0L // analysis thread only
    private var fps = 0.0 // analysis thread only

    private lateinit var predictionsView: TextView
    private lateinit var statsView: TextView

    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else predictionsView.setText(R.string.camera_denied)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        predictionsView = findViewById(R.id.predictions)
        statsView = findViewById(R.id.stats)
        val threadsButton = findViewById<Button>(R.id.threads)
        threadsButton.text = getString(R.string.threads, numThreads)
        threadsButton.setOnClickListener {
            numThreads = if (numThreads >= 4) 1 else numThreads * 2
            threadsButton.text = getString(R.string.threads, numThreads)
            openSession()
        }
        findViewById<SwitchCompat>(R.id.gpu).setOnCheckedChangeListener { _, checked ->
            useGpu = checked
            openSession()
        }
        findViewById<Button>(R.id.reset).setOnClickListener { resetStream() }
        openSession()
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            cameraPermission.launch(Manifest.permission.CAMERA)
        }
    }

    override fun onDestroy() {
        super.onDestroy()
        analysisExecutor.execute { session?.close() }
        analysisExecutor.shutdown()
    }

    /** (Re)loads the model with the current thread count and delegate, off the UI thread. */
    private fun openSession() {
        val threads = numThreads
        val gpu = useGpu
        analysisExecutor.execute {
            session?.close()
            session = null
            try {
                session = RecognizerSession.open(assets, threads, gpu)
            } catch (error: Exception) {
                Log.e(TAG, "Could not load the model", error)
                runOnUiThread { predictionsView.text = error.message }
            }
        }
    }

    private fun resetStream() = analysisExecutor.execute { session?.recognizer?.reset() }

    private fun startCamera() {
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener({ bindCamera(providerFuture.get()) }, ContextCompat.getMainExecutor(this))
    }

    private fun bindCamera(provider: ProcessCameraProvider) {
        val preview = Preview.Builder().build()
        preview.setSurfaceProvider(findViewById<PreviewView>(R.id.preview).surfaceProvider)
        // Small frames are enough: the model sees a crop of a few hundred pixels at most.
        val resolution = ResolutionSelector.Builder()
            .setResolutionStrategy(
                ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_LOWER_THEN_HIGHER)
            )
            .build()
        val analysis = ImageAnalysis.Builder()
            .setResolutionSelector(resolution)
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
            .build()
        analysis.setAnalyzer(analysisExecutor) { image -> analyze(image) }
        provider.unbindAll()
        val camera = provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        // Each time the camera (re)opens, e.g. back from the background, the stream starts over.
        camera.cameraInfo.cameraState.observe(this) { state ->
            if (state.type == CameraState.Type.OPEN) resetStream()
        }
    }

    /** Runs on the analysis thread for each frame the camera delivers (older ones are dropped). */
    private fun analyze(image: ImageProxy) {
        image.use {
            val current = session ?: return
            val start = SystemClock.elapsedRealtimeNanos()
            val prediction = current.recognizer.step(image.toUprightRgb(), k = 3)
            val frameMillis = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
            if (lastFrameNanos != 0L) {
                val instant = 1e9 / (start - lastFrameNanos)
                fps = if (fps == 0.0) instant else 0.9 * fps + 0.1 * instant
            }
            lastFrameNanos = start
            val labels = prediction.top.joinToString("\n") { "%-20s %5.1f%%".format(it.label, 100 * it.score) }
            val stats = getString(
                R.string.stats, fps, current.model.lastRunMillis, frameMillis, current.model.numThreads,
                if (current.model.usesGpu) " · GPU" else ""
            )
            runOnUiThread {
                predictionsView.text = labels
                statsView.text = stats
            }
        }
    }

    private fun ImageProxy.toUprightRgb(): RgbFrame {
        val (y, u, v) = planes
        return YuvConverter.toRgb(width, height, y.buffer, y.rowStride, u.buffer, v.buffer, u.rowStride, u.pixelStride)
            .rotatedClockwise(imageInfo.rotationDegrees)
    }

    private companion object {
        const val TAG = "TsmDemo"
    }
}
