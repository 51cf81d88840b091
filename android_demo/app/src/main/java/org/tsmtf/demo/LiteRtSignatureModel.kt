package org.tsmtf.demo

import android.os.SystemClock
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tsmtf.demo.core.SignatureModel
import java.nio.ByteBuffer

/**
 * The core's [SignatureModel] on LiteRT's Interpreter: one signature, tensors by name.
 * Create, run and close it on one thread (the GPU delegate is bound to its creating thread).
 */
class LiteRtSignatureModel(
    model: ByteBuffer,
    private val signatureKey: String,
    val numThreads: Int,
    useGpu: Boolean
) : SignatureModel, AutoCloseable {
    private val gpuDelegate: GpuDelegate? = if (useGpu) createGpuDelegate() else null
    private val interpreter = Interpreter(model, interpreterOptions(numThreads, gpuDelegate))

    /** Whether the GPU delegate was requested and this device supports it. */
    val usesGpu: Boolean get() = gpuDelegate != null

    /** Wall time of the last [run], in milliseconds. */
    var lastRunMillis = 0.0
        private set

    override val inputShapes: Map<String, IntArray> = interpreter.getSignatureInputs(signatureKey)
        .associateWith { interpreter.getInputTensorFromSignature(it, signatureKey).shape() }

    override val outputShapes: Map<String, IntArray> = interpreter.getSignatureOutputs(signatureKey)
        .associateWith { interpreter.getOutputTensorFromSignature(it, signatureKey).shape() }

    override fun run(inputs: Map<String, ByteBuffer>, outputs: Map<String, ByteBuffer>) {
        val start = SystemClock.elapsedRealtimeNanos()
        interpreter.runSignature(inputs, outputs, signatureKey)
        lastRunMillis = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    // Not an `apply` block: inside one, `numThreads` would name Options' own getter.
    private fun interpreterOptions(threads: Int, delegate: GpuDelegate?): Interpreter.Options {
        val options = Interpreter.Options()
        options.setNumThreads(threads)
        if (delegate != null) options.addDelegate(delegate)
        return options
    }

    private fun createGpuDelegate(): GpuDelegate? {
        val compatibility = CompatibilityList()
        try {
            if (!compatibility.isDelegateSupportedOnThisDevice) return null
            return GpuDelegate(compatibility.bestOptionsForThisDevice)
        } finally {
            compatibility.close()
        }
    }
}
