package org.tsmtf.demo.core

/** A model from [GpuFallback.open] and, when the GPU was asked for but is not used, why. */
class OpenedModel<M>(val model: M, val gpuNote: String?)

/**
 * Opens a model on the GPU when asked and possible, else on the CPU. Everything that touches the
 * GPU delegate belongs in `openOnGpu`: even constructing LiteRT's `CompatibilityList` loads the
 * delegate's native library, which throws `UnsatisfiedLinkError` (an Error, not an Exception)
 * where that library does not load.
 */
object GpuFallback {
    /**
     * Calls [openOnGpu] when [useGpu] (it returns null when the device does not support the GPU,
     * and closes whatever it made before it throws), and [openOnCpu] when the GPU is not asked
     * for, not supported, or failed with an exception or a linkage error.
     */
    @JvmStatic
    fun <M> open(useGpu: Boolean, openOnGpu: () -> M?, openOnCpu: () -> M): OpenedModel<M> {
        if (!useGpu) return OpenedModel(openOnCpu(), null)
        val gpuNote = try {
            val model = openOnGpu()
            if (model != null) return OpenedModel(model, null)
            "GPU not supported on this device: running on the CPU."
        } catch (error: Exception) {
            "GPU delegate failed (${error.message}): running on the CPU."
        } catch (error: LinkageError) { // a missing native library or class; the CPU needs neither
            "GPU delegate unavailable (${error.message}): running on the CPU."
        }
        return OpenedModel(openOnCpu(), gpuNote)
    }
}
