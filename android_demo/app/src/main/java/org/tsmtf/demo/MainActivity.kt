package org.tsmtf.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Log
import android.util.Size
import android.view.View
import android.view.WindowManager
import android.widget.Button
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.appcompat.widget.SwitchCompat
import androidx.camera.core.CameraSelector
import androidx.camera.core.CameraState
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import androidx.core.view.ViewCompat
import androidx.core.view.WindowCompat
import androidx.core.view.WindowInsetsCompat
import androidx.lifecycle.ViewModelProvider

/**
 * Camera preview plus live recognition. The model, its thread and every frame live in
 * [RecognizerViewModel], which survives rotation; this activity binds the camera, forwards
 * the buttons and shows the [ScreenState] it posts.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var viewModel: RecognizerViewModel
    private lateinit var predictionsView: TextView
    private lateinit var statsView: TextView
    private lateinit var noteView: TextView
    private lateinit var overlay: CropOverlayView
    private var analysis: ImageAnalysis? = null

    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else predictionsView.setText(R.string.camera_denied)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Edge to edge on every version (targetSdk 36 forces it on Android 15+); insets below.
        WindowCompat.setDecorFitsSystemWindows(window, false)
        setContentView(R.layout.activity_main)
        viewModel = ViewModelProvider(this)[RecognizerViewModel::class.java]
        predictionsView = findViewById(R.id.predictions)
        statsView = findViewById(R.id.stats)
        noteView = findViewById(R.id.note)
        overlay = findViewById(R.id.crop_overlay)
        applyInsets(findViewById(R.id.controls))

        val threadsButton = findViewById<Button>(R.id.threads)
        threadsButton.text = getString(R.string.threads, viewModel.numThreads)
        threadsButton.setOnClickListener {
            val threads = if (viewModel.numThreads >= 4) 1 else viewModel.numThreads * 2
            threadsButton.text = getString(R.string.threads, threads)
            viewModel.reopen(threads, viewModel.useGpu)
        }
        val gpuSwitch = findViewById<SwitchCompat>(R.id.gpu)
        gpuSwitch.isChecked = viewModel.useGpu
        gpuSwitch.setOnCheckedChangeListener { _, checked -> viewModel.reopen(viewModel.numThreads, checked) }
        findViewById<Button>(R.id.reset).setOnClickListener { viewModel.resetStream() }

        viewModel.state.observe(this) { state -> show(state) }
        viewModel.openOnce()
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            cameraPermission.launch(Manifest.permission.CAMERA)
        }
    }

    override fun onDestroy() {
        // The analyzer holds the ViewModel's executor; let go of it before the camera does.
        analysis?.clearAnalyzer()
        window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        super.onDestroy()
    }

    private fun show(state: ScreenState) {
        if (state.predictions.isNotEmpty() || state.stats.isEmpty()) predictionsView.text = state.predictions
        statsView.text = state.stats
        noteView.text = state.note ?: ""
        noteView.visibility = if (state.note.isNullOrEmpty()) View.GONE else View.VISIBLE
        overlay.show(state.cropRegion, state.imageSize)
    }

    /** Keeps text and buttons clear of the status bar, navigation bar and cutouts. */
    private fun applyInsets(controls: View) {
        ViewCompat.setOnApplyWindowInsetsListener(controls) { view, insets ->
            val bars = insets.getInsets(WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout())
            view.setPadding(bars.left, bars.top, bars.right, bars.bottom)
            WindowInsetsCompat.CONSUMED
        }
    }

    private fun startCamera() {
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener({
            try {
                bindCamera(providerFuture.get())
            } catch (error: Exception) {
                Log.e(TAG, "Could not open the camera", error)
                predictionsView.text = getString(R.string.camera_failed, error.message)
            }
        }, ContextCompat.getMainExecutor(this))
    }

    private fun bindCamera(provider: ProcessCameraProvider) {
        // Preview and analysis share one aspect ratio, so the preview shows the analysed field
        // of view and the crop overlay lands where the model looks.
        val aspect = AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY
        val preview = Preview.Builder()
            .setResolutionSelector(ResolutionSelector.Builder().setAspectRatioStrategy(aspect).build())
            .build()
        preview.setSurfaceProvider(findViewById<PreviewView>(R.id.preview).surfaceProvider)
        // Small frames are enough: the model sees a crop of a few hundred pixels at most.
        val resolution = ResolutionSelector.Builder()
            .setAspectRatioStrategy(aspect)
            .setResolutionStrategy(
                ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_LOWER_THEN_HIGHER)
            )
            .build()
        val imageAnalysis = ImageAnalysis.Builder()
            .setResolutionSelector(resolution)
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
            .build()
        // A method reference on the ViewModel, so the analyzer never holds this activity.
        imageAnalysis.setAnalyzer(viewModel.analysisExecutor, viewModel::analyze)
        analysis = imageAnalysis
        provider.unbindAll()
        val camera = provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, imageAnalysis)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        // Each time the camera (re)opens, e.g. back from the background, the stream starts over.
        camera.cameraInfo.cameraState.observe(this) { state ->
            if (state.type == CameraState.Type.OPEN) viewModel.resetStream()
        }
    }

    private companion object {
        const val TAG = "TsmDemo"
    }
}
