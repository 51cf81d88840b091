package org.tsmtf.demo

import android.os.SystemClock
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tsmtf.demo.core.GpuFallback
import org.tsmtf.demo.core.OpenedModel
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

    /**
     * Whether the interpreter was built with the GPU delegate. LiteRT's Java API does not say
     * how many operations the delegate took: those it cannot run stay on the CPU (logcat's
     * "Replacing N out of M node(s) with delegate" line gives the split).
     */
    val hasGpuDelegate: Boolean get() = gpuDelegate != null

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

    companion object {
        /**
         * Opens [model] with [numThreads] threads and, if [useGpu], LiteRT's GPU delegate. A GPU
         * that is unsupported, or whose library, delegate or interpreter fails, falls back to
         * the CPU (the delegate closed) and says so in [OpenedModel.gpuNote] (core's GpuFallback).
         */
        fun open(model: ByteBuffer, signatureKey: String, numThreads: Int, useGpu: Boolean): OpenedModel<LiteRtSignatureModel> =
            GpuFallback.open(
                useGpu,
                { openOnGpu(model, signatureKey, numThreads) },
                { build(model, signatureKey, numThreads, null) }
            )

        /** The model with the GPU delegate, or null where CompatibilityList rules the GPU out. */
        private fun openOnGpu(model: ByteBuffer, signatureKey: String, numThreads: Int): LiteRtSignatureModel? {
            // Inside the fallback: this constructor already loads the delegate's native library.
            val compatibility = CompatibilityList()
            try {
                if (!compatibility.isDelegateSupportedOnThisDevice) return null
                val delegate = GpuDelegate(compatibility.bestOptionsForThisDevice)
                try {
                    return build(model, signatureKey, numThreads, delegate)
                } catch (error: Throwable) {
                    delegate.close()
                    throw error
                }
            } finally {
                compatibility.close()
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
            } catch (error: Throwable) {
                interpreter.close() // reading the signature's shapes failed
                throw error
            }
        }
    }
}
