package org.tsmtf.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Log
import android.util.Size
import android.view.Surface
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
import androidx.camera.core.Camera
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.camera.view.RotationProvider
import androidx.core.content.ContextCompat
import androidx.core.view.ViewCompat
import androidx.core.view.WindowCompat
import androidx.core.view.WindowInsetsCompat
import androidx.lifecycle.ViewModelProvider
import org.tsmtf.demo.core.CropRegion
import org.tsmtf.demo.core.FrameRotation
import org.tsmtf.demo.core.ScreenState

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
    private lateinit var previewView: PreviewView
    private var analysis: ImageAnalysis? = null
    private var camera: Camera? = null
    private var lastState: ScreenState? = null

    // ImageAnalysis takes the display's rotation once, when built; a turn from landscape to
    // reverse landscape recreates nothing, and with auto-rotate off the display never turns.
    // CameraX's RotationProvider reports the device's physical rotation, so each frame's
    // rotationDegrees makes it upright as the phone is held.
    private lateinit var rotationProvider: RotationProvider
    private val rotationListener = RotationProvider.Listener { rotation -> analysis?.targetRotation = rotation }

    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else viewModel.reportCamera(getString(R.string.camera_denied))
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
        previewView = findViewById(R.id.preview)
        rotationProvider = RotationProvider(this)
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

    override fun onStart() {
        super.onStart()
        rotationProvider.addListener(ContextCompat.getMainExecutor(this), rotationListener)
    }

    override fun onStop() {
        rotationProvider.removeListener(rotationListener)
        super.onStop()
    }

    override fun onDestroy() {
        // The analyzer holds the ViewModel's executor; let go of it before the camera does.
        analysis?.clearAnalyzer()
        window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        super.onDestroy()
    }

    private fun show(state: ScreenState) {
        lastState = state
        predictionsView.text = state.cameraProblem ?: state.predictions
        statsView.text = state.stats
        noteView.text = state.note ?: ""
        noteView.visibility = if (state.note.isNullOrEmpty()) View.GONE else View.VISIBLE
        showCrop(state)
    }

    /** Marks the model's crop on the preview, which shows the frame upright for the display. */
    private fun showCrop(state: ScreenState) {
        val frame = state.frameSize
        val preprocessing = state.preprocessing
        val sensorDegrees = camera?.cameraInfo?.sensorRotationDegrees
        if (frame == null || preprocessing == null || sensorDegrees == null) {
            overlay.show(null, null)
            return
        }
        val displayDegrees = FrameRotation.surfaceRotationDegrees(previewView.display?.rotation ?: Surface.ROTATION_0)
        val shown = FrameRotation.shownSize(frame[0], frame[1], sensorDegrees, displayDegrees, backCamera = true)
        overlay.show(CropRegion.normalized(shown[0], shown[1], preprocessing), shown)
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
                viewModel.reportCamera(getString(R.string.camera_failed, error.message))
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
        preview.setSurfaceProvider(previewView.surfaceProvider)
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
        val bound = provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, imageAnalysis)
        camera = bound
        viewModel.reportCamera(null)
        lastState?.let { showCrop(it) }
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        // Each time the camera (re)opens, e.g. back from the background, the stream starts over.
        bound.cameraInfo.cameraState.observe(this) { state ->
            if (state.type == CameraState.Type.OPEN) viewModel.resetStream()
        }
    }

    private companion object {
        const val TAG = "TsmDemo"
    }
}
