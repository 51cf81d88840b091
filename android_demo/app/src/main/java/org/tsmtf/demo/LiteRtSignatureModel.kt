package org.tsmtf.demo

import android.os.SystemClock
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tsmtf.demo.core.SignatureModel
import java.nio.ByteBuffer

/**
 * The core's [SignatureModel] on LiteRT's Interpreter: one signature, tensors by name.
 * Create with [open], run and close it on one thread (the GPU delegate is bound to its
 * creating thread). [close] releases the interpreter and the delegate; it is safe to repeat.
 */
class LiteRtSignatureModel private constructor(
    private val interpreter: Interpreter,
    private val gpuDelegate: GpuDelegate?,
    private val signatureKey: String,
    val numThreads: Int
) : SignatureModel, AutoCloseable {
    private var closed = false

    /** Whether the GPU delegate is in use. */
    val usesGpu: Boolean get() = gpuDelegate != null

    /** Wall time of the last [run], in milliseconds. */
    var lastRunMillis = 0.0
        private set

    override val inputShapes: Map<String, IntArray> = interpreter.getSignatureInputs(signatureKey)
        .associateWith { interpreter.getInputTensorFromSignature(it, signatureKey).shape() }

    override val outputShapes: Map<String, IntArray> = interpreter.getSignatureOutputs(signatureKey)
        .associateWith { interpreter.getOutputTensorFromSignature(it, signatureKey).shape() }

    override fun run(inputs: Map<String, ByteBuffer>, outputs: Map<String, ByteBuffer>) {
        check(!closed) { "The interpreter is closed." }
        val start = SystemClock.elapsedRealtimeNanos()
        interpreter.runSignature(inputs, outputs, signatureKey)
        lastRunMillis = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
    }

    override fun close() {
        if (closed) return
        closed = true
        try {
            interpreter.close()
        } finally {
            gpuDelegate?.close()
        }
    }

    /** A model and, when the GPU was asked for but could not be used, why (shown on screen). */
    class Opened(val model: LiteRtSignatureModel, val gpuNote: String?)

    companion object {
        /**
         * Opens [model] with [numThreads] threads and, if [useGpu], LiteRT's GPU delegate. A
         * GPU that is unsupported or whose delegate fails falls back to the CPU (the delegate
         * closed) and says so in [Opened.gpuNote].
         */
        fun open(model: ByteBuffer, signatureKey: String, numThreads: Int, useGpu: Boolean): Opened {
            var gpuNote: String? = null
            if (useGpu) {
                val compatibility = CompatibilityList()
                try {
                    if (compatibility.isDelegateSupportedOnThisDevice) {
                        return Opened(openWithGpu(model, signatureKey, numThreads, compatibility), null)
                    }
                    gpuNote = "GPU not supported on this device: running on the CPU."
                } catch (error: Exception) {
                    gpuNote = "GPU delegate failed (${error.message}): running on the CPU."
                } catch (error: LinkageError) { // the GPU delegate's native library is missing
                    gpuNote = "GPU delegate unavailable (${error.message}): running on the CPU."
                } finally {
                    compatibility.close()
                }
            }
            return Opened(build(model, signatureKey, numThreads, null), gpuNote)
        }

        private fun openWithGpu(
            model: ByteBuffer,
            signatureKey: String,
            numThreads: Int,
            compatibility: CompatibilityList
        ): LiteRtSignatureModel {
            val delegate = GpuDelegate(compatibility.bestOptionsForThisDevice)
            try {
                return build(model, signatureKey, numThreads, delegate)
            } catch (error: Exception) {
                delegate.close()
                throw error
            }
        }

        private fun build(model: ByteBuffer, signatureKey: String, numThreads: Int, delegate: GpuDelegate?): LiteRtSignatureModel {
            // Not an `apply` block: inside one, `numThreads` would name Options' own getter.
            val options = Interpreter.Options()
            options.setNumThreads(numThreads)
            if (delegate != null) options.addDelegate(delegate)
            val interpreter = Interpreter(model, options)
            try {
                return LiteRtSignatureModel(interpreter, delegate, signatureKey, numThreads)
            } catch (error: Exception) {
                interpreter.close() // reading the signature's shapes failed
                throw error
            }
        }
    }
}
